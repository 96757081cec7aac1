/**
 * The public requests of bucketq and their validation, shared by the embedded API, the broker and
 * every transport. Anything a caller sends is checked here once, and a bad field is an
 * INVALID_ARGUMENT naming it; the core then only sees well-formed input.
 */
import { TOPIC_PATTERN } from './core/keys.js';
import type { Backoff, TopicSettings } from './core/types.js';
import { QueueError } from './errors.js';

export interface PushJobRequest<T = unknown> {
  /** Your id for the job (1–256 chars). Pushing an id that exists returns that job and adds nothing. */
  id?: string;
  payload: T;
  /** Higher is claimed first; FIFO within one priority. Integer, default 0. */
  priority?: number;
  /** Make the job due this many ms from now. */
  delayMs?: number;
  /** Make the job due at this epoch ms (wins over delayMs). */
  runAt?: number;
  /** Claims before the job is dead-lettered; default the topic's (5). */
  maxAttempts?: number;
  backoff?: Backoff;
}

export interface ClaimRequest {
  workerId: string;
  /** Jobs to claim at most (default 1). */
  max?: number;
  /** Lease length (default 30 s). */
  leaseMs?: number;
  /** Long poll: wait up to this long for a job to become due (default 0, at most 30 s). */
  waitMs?: number;
}

export interface LeaseRequest {
  id: string;
  workerId: string;
  /** The lease token from claim. */
  lease: string;
}

export interface HeartbeatRequest extends LeaseRequest {
  leaseMs?: number;
}

export interface AckRequest extends LeaseRequest {
  result?: unknown;
}

export interface NackRequest extends LeaseRequest {
  error?: string;
  delayMs?: number;
}

export interface Limits {
  /** Jobs in one push (default 10,000). */
  maxBatch: number;
  /** Bytes of one payload as JSON (default 10 MiB). Larger than `payloadThreshold` goes to its own object. */
  maxPayloadBytes: number;
  /** Jobs in one claim (default 1,000). */
  maxClaim: number;
  /** Longest lease (default 1 hour) and longest long poll (30 s). */
  maxLeaseMs: number;
  maxWaitMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxBatch: 10_000,
  maxPayloadBytes: 10 * 1024 * 1024,
  maxClaim: 1_000,
  maxLeaseMs: 3_600_000,
  maxWaitMs: 30_000,
};

export const DEFAULT_LEASE_MS = 30_000;
/** The most claims a job may be given before it is dead: per job (push) and per topic (settings). */
export const MAX_ATTEMPTS_LIMIT = 1_000_000;
export const JOB_ID_MAX = 256;

/**
 * How deep any JSON value a caller sends may nest (payloads, ack results, settings, every request
 * body's fields): `[]`, `{}` and `"x"` are 1 level or less, `[[1]]` is 2. Refused past it with
 * INVALID_ARGUMENT on every surface, so no path that walks a stored value recursively (JSON text of
 * a job, listings, protobuf Values, the dashboard) can ever run out of stack. 32 because gRPC
 * carries these values as google.protobuf.Value, two protobuf message levels per JSON level, and
 * protobuf runtimes decode at most 100 levels by default: a deeper value could not be handed to a
 * gRPC worker written in Java, C++, Python or JavaScript. See docs/http-api.md.
 */
export const MAX_JSON_DEPTH = 32;
/**
 * A request body nests at most this deep: a value at MAX_JSON_DEPTH inside the deepest envelope
 * (`{"jobs": [{"payload": …}]}`, `{"acks": [{"result": …}]}`). Checked on the raw text before it is
 * parsed (see {@link jsonTextTooDeep}), so a pathological body costs one scan and no parse.
 */
export const MAX_BODY_DEPTH = MAX_JSON_DEPTH + 3;

function bad(message: string, details?: Record<string, unknown>): QueueError {
  return new QueueError('INVALID_ARGUMENT', message, details ? { details } : {});
}

/** A value shown in an error message: short, and never a walk of something arbitrarily deep. */
export function shown(v: unknown): string {
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? 'an array' : 'an object';
  return typeof v === 'string' ? JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v) : String(v);
}

/** Whether `v` nests deeper than `max` levels. Recursive, but never deeper than max + 1 frames. */
function nestsDeeper(v: object, max: number): boolean {
  if (max === 0) return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === 'object' && x !== null && nestsDeeper(x, max - 1)) return true;
    }
    return false;
  }
  for (const k in v) {
    const x = (v as Record<string, unknown>)[k];
    if (typeof x === 'object' && x !== null && nestsDeeper(x, max - 1)) return true;
  }
  return false;
}

function tooDeep(field: string): QueueError {
  return bad(`${field} nests deeper than ${MAX_JSON_DEPTH} levels of arrays and objects, the limit`, { maxDepth: MAX_JSON_DEPTH });
}

/**
 * Refuses a JSON value (payload, result, setting) nested deeper than {@link MAX_JSON_DEPTH}.
 * Call it before anything walks the value (JSON.stringify included): it stops at the limit.
 */
export function checkJsonDepth(value: unknown, field: string): void {
  if (typeof value === 'object' && value !== null && nestsDeeper(value, MAX_JSON_DEPTH)) throw tooDeep(field);
}

/**
 * Whether JSON text (UTF-8 bytes) opens more than `max` arrays and objects at once, counting only
 * brackets outside strings. One pass with no allocation; string contents are skipped with indexOf,
 * so a body that is mostly strings costs little. Text that is not valid JSON may pass: the parser
 * refuses it next.
 */
export function jsonTextTooDeep(text: Uint8Array, max: number): boolean {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text[i]!;
    if (c === 0x22 /* " */) {
      // To the closing quote: one not preceded by an odd number of backslashes.
      for (;;) {
        i = text.indexOf(0x22, i + 1);
        if (i < 0) return false;
        let b = i - 1;
        while (text[b] === 0x5c /* \ */) b--;
        if ((i - 1 - b) % 2 === 0) break;
      }
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}

/** Refuses a request body nested deeper than {@link MAX_BODY_DEPTH} (see jsonTextTooDeep). */
export function checkBodyDepth(text: Uint8Array, what = 'the request body'): void {
  if (jsonTextTooDeep(text, MAX_BODY_DEPTH)) {
    throw bad(`${what} nests deeper than ${MAX_BODY_DEPTH} levels; a payload, result or other JSON value in it may nest at most ${MAX_JSON_DEPTH}`, { maxDepth: MAX_JSON_DEPTH });
  }
}

/**
 * A topic name: `[A-Za-z0-9_.-]{1,128}`, but not `.` or `..`, which the pattern admits and no store
 * can hold (a topic is a segment of its objects' keys, of a file store's paths and of URL paths).
 */
export function checkTopic(topic: unknown): string {
  if (typeof topic !== 'string' || !TOPIC_PATTERN.test(topic)) {
    throw bad(`topic must match [A-Za-z0-9_.-]{1,128}, got ${shown(topic)}`);
  }
  if (topic === '.' || topic === '..') throw bad(`topic ${shown(topic)} is not allowed: it is a path segment, which no store can hold`);
  return topic;
}

export function checkId(id: unknown, field = 'id'): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > JOB_ID_MAX) throw bad(`${field} must be a string of 1 to ${JOB_ID_MAX} characters`);
  return id;
}

function checkInt(v: unknown, field: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(`${field} must be an integer from ${min} to ${max}, got ${shown(v)}`);
  return v;
}

/** A job's or a topic's maxAttempts: an integer from 1 to {@link MAX_ATTEMPTS_LIMIT}. */
export function checkMaxAttempts(v: unknown, field = 'maxAttempts'): number | undefined {
  return checkInt(v, field, 1, MAX_ATTEMPTS_LIMIT);
}

export function checkBackoff(b: unknown, field = 'backoff'): Backoff | undefined {
  if (b === undefined) return undefined;
  if (typeof b !== 'object' || b === null) throw bad(`${field} must be an object`);
  const o = b as Record<string, unknown>;
  if (o.type === 'fixed') {
    const delayMs = checkInt(o.delayMs, `${field}.delayMs`, 0, 2 ** 31);
    if (delayMs === undefined) throw bad(`${field}.delayMs is required for a fixed backoff`);
    return { type: 'fixed', delayMs };
  }
  if (o.type === 'exponential') {
    const out: Backoff = { type: 'exponential', baseMs: checkInt(o.baseMs ?? 1000, `${field}.baseMs`, 0, 2 ** 31)! };
    const maxMs = checkInt(o.maxMs, `${field}.maxMs`, 0, 2 ** 31);
    if (maxMs !== undefined) out.maxMs = maxMs;
    if (o.jitter !== undefined) {
      if (typeof o.jitter !== 'number' || !(o.jitter >= 0 && o.jitter <= 1)) throw bad(`${field}.jitter must be a number from 0 to 1`);
      out.jitter = o.jitter;
    }
    return out;
  }
  throw bad(`${field}.type must be "exponential" or "fixed"`);
}

/**
 * A validated push job with its payload already serialised (for size checks and copying). Every
 * field is present, undefined when not given: it has the fields of the core's PushJob
 * (core/ops/push.ts), and the broker completes it in place (its id, the payload or its reference)
 * rather than copying it into a new object, one object less a job while a bulk push is committed.
 */
export interface CheckedPushJob {
  id: string | undefined;
  /** Set by the broker (the caller's payload, whose JSON is payloadJson), never by the check. */
  payload?: unknown;
  /** Set by the broker when it stores a large payload in its own object. */
  payloadRef?: string;
  payloadJson: string;
  priority: number | undefined;
  delayMs: number | undefined;
  runAt: number | undefined;
  maxAttempts: number | undefined;
  backoff: Backoff | undefined;
}

const PUSH_JOB_FIELDS: ReadonlySet<string> = new Set(['id', 'payload', 'priority', 'delayMs', 'runAt', 'maxAttempts', 'backoff']);

/** A job's name in messages: `jobs[i]` by its place in the request, or the name given. */
const jobName = (at: string | number): string => (typeof at === 'number' ? `jobs[${at}]` : at);

/**
 * One job of a push, checked. `at`: its place in the request (errors then name `jobs[i]`), or the
 * name errors use. Field names for messages are made only for the fields a job has, and the job's
 * own name only for an error (a bulk push checks thousands of jobs that carry a payload alone).
 */
export function checkPushJob(j: unknown, limits: Limits, at: string | number = 'job'): CheckedPushJob {
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw bad(`${jobName(at)} must be an object with a payload`);
  const o = j as Record<string, unknown>;
  for (const k in o) if (Object.hasOwn(o, k) && !PUSH_JOB_FIELDS.has(k)) throw bad(`${jobName(at)} has an unknown field ${shown(k)}`);
  // A job without the field is almost always a client's mistake (a misspelt key): refused. The
  // embedded push(payload) always sets it; there undefined (push() of a void queue) means null.
  if (!Object.hasOwn(o, 'payload')) throw bad(`${jobName(at)}.payload is required (send null for a job that needs none)`);
  const payload = o.payload === undefined ? null : o.payload;
  if (typeof payload === 'object' && payload !== null && nestsDeeper(payload, MAX_JSON_DEPTH)) throw tooDeep(`${jobName(at)}.payload`);
  let payloadJson: string | undefined;
  try {
    payloadJson = JSON.stringify(payload);
  } catch (err) {
    throw bad(`${jobName(at)}.payload is not JSON-serialisable: ${(err as Error).message}`);
  }
  if (payloadJson === undefined) throw bad(`${jobName(at)}.payload is not JSON-serialisable`);
  // A UTF-8 byte is at least one UTF-16 unit and at most three: the byte count only when it may matter.
  if (3 * payloadJson.length > limits.maxPayloadBytes && Buffer.byteLength(payloadJson) > limits.maxPayloadBytes) {
    throw new QueueError('PAYLOAD_TOO_LARGE', `${jobName(at)}.payload is ${Buffer.byteLength(payloadJson)} bytes; the limit is ${limits.maxPayloadBytes}`);
  }
  // Checked in this order: the first field refused is the one the error names.
  const id = o.id === undefined ? undefined : checkId(o.id, `${jobName(at)}.id`);
  const priority = o.priority === undefined ? undefined : checkInt(o.priority, `${jobName(at)}.priority`, -1_000_000, 1_000_000);
  const delayMs = o.delayMs === undefined ? undefined : checkInt(o.delayMs, `${jobName(at)}.delayMs`, 0, 10 * 365 * 86_400_000);
  const runAt = o.runAt === undefined ? undefined : checkInt(o.runAt, `${jobName(at)}.runAt`, 0, 8.64e15);
  const maxAttempts = o.maxAttempts === undefined ? undefined : checkMaxAttempts(o.maxAttempts, `${jobName(at)}.maxAttempts`);
  const backoff = o.backoff === undefined ? undefined : checkBackoff(o.backoff, `${jobName(at)}.backoff`);
  return { id, payload: undefined, payloadRef: undefined, payloadJson, priority, delayMs, runAt, maxAttempts, backoff };
}

/** A push's size: a non-empty array of at most `limits.maxBatch` jobs (what every job of it may hold: {@link checkPushJob}). */
export function checkPushSize(jobs: unknown, limits: Limits): asserts jobs is unknown[] {
  if (!Array.isArray(jobs) || jobs.length === 0) throw bad('jobs must be a non-empty array');
  if (jobs.length > limits.maxBatch) throw new QueueError('PAYLOAD_TOO_LARGE', `a push holds at most ${limits.maxBatch} jobs, got ${jobs.length}`);
}

/** A push that succeeds or fails as a whole: its size, then every job (the first refusal answers). */
export function checkPushBatch(jobs: unknown, limits: Limits): CheckedPushJob[] {
  checkPushSize(jobs, limits);
  const out = new Array<CheckedPushJob>(jobs.length);
  for (let i = 0; i < jobs.length; i++) out[i] = checkPushJob(jobs[i], limits, i);
  return out;
}

/**
 * A topic's settings, each optional, as every entry takes them: configure() of the embedded queue
 * and the client, PATCH /v1/topics/:topic, createQueue's maxAttempts and backoff. Fields other
 * than these three are not looked at (a wire that must refuse them does so itself).
 */
export function checkSettings(s: unknown): Partial<TopicSettings> {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw bad('settings must be an object {maxAttempts?, backoff?, paused?}');
  const o = s as Record<string, unknown>;
  const out: Partial<TopicSettings> = {};
  const maxAttempts = checkMaxAttempts(o.maxAttempts);
  if (maxAttempts !== undefined) out.maxAttempts = maxAttempts;
  const backoff = checkBackoff(o.backoff);
  if (backoff) out.backoff = backoff;
  if (o.paused !== undefined) {
    if (typeof o.paused !== 'boolean') throw bad(`paused must be true or false, got ${shown(o.paused)}`);
    out.paused = o.paused;
  }
  return out;
}

/** A release (claimed jobs handed back untouched): a non-empty array of at most `limits.maxBatch`. */
export function checkReleaseSize(items: unknown, limits: Limits): asserts items is unknown[] {
  if (!Array.isArray(items) || items.length === 0) throw bad('release needs a non-empty array of {id, workerId, lease}');
  if (items.length > limits.maxBatch) throw new QueueError('PAYLOAD_TOO_LARGE', `a release holds at most ${limits.maxBatch} jobs, got ${items.length}`);
}

/** A settle (acks and nacks in one request): at least one item, at most `limits.maxBatch`, as a push. */
export function checkSettleSize(items: number, limits: Limits): void {
  if (items === 0) throw bad('settle needs at least one item in acks or nacks');
  if (items > limits.maxBatch) throw new QueueError('PAYLOAD_TOO_LARGE', `a settle holds at most ${limits.maxBatch} items, got ${items}`);
}

/**
 * A settle answers each item on its own, but an item refused because this broker cannot serve the
 * topic at all (NOT_LEADER, CLOSED) is the whole request's answer: the client then takes all of
 * it to the leader instead of reading failed items one by one.
 */
export function wholeSettleError(errors: ReadonlyArray<QueueError | undefined>): QueueError | undefined {
  return errors.find((e) => e?.code === 'NOT_LEADER' || e?.code === 'CLOSED');
}

export function checkClaim(r: ClaimRequest | UntypedRequest, limits: Limits): { worker: string; max: number; leaseMs: number; waitMs: number } {
  if (typeof r !== 'object' || r === null) throw bad('claim needs {workerId}');
  return {
    worker: checkId(r.workerId, 'workerId'),
    max: checkInt(r.max, 'max', 1, limits.maxClaim) ?? 1,
    leaseMs: checkInt(r.leaseMs, 'leaseMs', 1, limits.maxLeaseMs) ?? DEFAULT_LEASE_MS,
    waitMs: checkInt(r.waitMs, 'waitMs', 0, limits.maxWaitMs) ?? 0,
  };
}

export function checkLease(r: LeaseRequest | UntypedRequest): { id: string; worker: string; token: string } {
  if (typeof r !== 'object' || r === null) throw bad('expected {id, workerId, lease}');
  return { id: checkId(r.id), worker: checkId(r.workerId, 'workerId'), token: checkId(r.lease, 'lease') };
}

export function checkLeaseMs(v: unknown, limits: Limits): number | undefined {
  return checkInt(v, 'leaseMs', 1, limits.maxLeaseMs);
}

export function checkDelayMs(v: unknown): number | undefined {
  return checkInt(v, 'delayMs', 0, 10 * 365 * 86_400_000);
}

export function checkErrorText(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw bad('error must be a string');
  return v;
}

/** A request as an untyped wire carries it (a JSON body): fields of any type, or missing. */
export type UntypedRequest = Readonly<Record<string, unknown>>;

// The typed requests of an untyped wire, checked with the broker's own checks and words (the
// broker checks again; a wire translates, it never casts). Field names are the HTTP API's.

export function claimRequestOf(o: UntypedRequest, limits: Limits): ClaimRequest {
  const c = checkClaim(o, limits);
  return { workerId: c.worker, max: c.max, leaseMs: c.leaseMs, waitMs: c.waitMs };
}

export function leaseRequestOf(o: UntypedRequest): LeaseRequest {
  const l = checkLease(o);
  return { id: l.id, workerId: l.worker, lease: l.token };
}

export function heartbeatRequestOf(o: UntypedRequest, limits: Limits): HeartbeatRequest {
  const req: HeartbeatRequest = leaseRequestOf(o);
  const leaseMs = checkLeaseMs(o.leaseMs, limits);
  if (leaseMs !== undefined) req.leaseMs = leaseMs;
  return req;
}

/** The result is any JSON value: the broker checks its depth and size. */
export function ackRequestOf(o: UntypedRequest): AckRequest {
  const req: AckRequest = leaseRequestOf(o);
  if (o.result !== undefined) req.result = o.result;
  return req;
}

export function nackRequestOf(o: UntypedRequest): NackRequest {
  const req: NackRequest = leaseRequestOf(o);
  const error = checkErrorText(o.error);
  if (error !== undefined) req.error = error;
  const delayMs = checkDelayMs(o.delayMs);
  if (delayMs !== undefined) req.delayMs = delayMs;
  return req;
}
