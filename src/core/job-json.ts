/**
 * The JSON bytes of a job record, cached on the record. A busy topic re-serialises only the jobs
 * that changed since the last commit, and a changed job re-serialises only its small fields: the
 * payload's JSON (usually the bulk of a job) is made once per job lifetime and reused.
 *
 * A record's bytes are written straight into a shared slab (slab-writer.ts), never built as a
 * string: the records of jobs pushed together lie one after another there, each followed by a
 * newline, as a segment holds them, and a segment copies such a run at once (segment-codec.ts).
 *
 * The caches are symbol-keyed properties, which JSON.stringify and structured clones ignore.
 * Every mutation of a job goes through `touch()` in state.ts, which drops the record cache.
 */
import { SlabWriter } from './slab-writer.js';
import type { JobRecord } from './types.js';

/** The record's bytes as a Buffer of their own (made on demand from the slab, or a segment's record). */
const JSON_CACHE: unique symbol = Symbol('bucketq.json');
const PAYLOAD_JSON: unique symbol = Symbol('bucketq.payloadJson');
const RECORD_CRC: unique symbol = Symbol('bucketq.recordCrc');
/** The buffer holding the record's bytes (a slab, or the JSON_CACHE buffer), where they start and their length. */
const RECORD_BUF: unique symbol = Symbol('bucketq.recordBuf');
const RECORD_AT: unique symbol = Symbol('bucketq.recordAt');
const RECORD_LEN: unique symbol = Symbol('bucketq.recordLen');

type Cached = JobRecord & {
  [JSON_CACHE]?: Buffer;
  [PAYLOAD_JSON]?: string;
  [RECORD_CRC]?: number;
  [RECORD_BUF]?: Buffer;
  [RECORD_AT]?: number;
  [RECORD_LEN]?: number;
};

const str = JSON.stringify;

/** The payload's JSON text (payloads never change after push). */
export function payloadJson(job: JobRecord): string {
  const c = job as Cached;
  return (c[PAYLOAD_JSON] ??= str(job.payload ?? null));
}

/**
 * A new pending job as a push makes it: an inline payload (with its JSON text when the caller made
 * it already), or `payloadRef`; in the one shape of a record (`shaped`).
 */
export function newJobRecord(id: string, priority: number, order: number, runAt: number, maxAttempts: number, now: number, payloadRef: string | undefined, payload: unknown, json: string | undefined): JobRecord {
  return shaped(id, 'pending', payloadRef === undefined ? payload : undefined, payloadRef, priority, order, runAt, 0, maxAttempts, undefined, undefined, now, now, undefined, undefined, undefined, undefined, undefined, payloadRef === undefined ? json : undefined);
}

/**
 * A copy of `job` in `state`, in the one shape (a spread copy would get a hidden class of its
 * own). The caches come along: the payload's text always, the record's bytes only while the
 * state is the one they were written in.
 */
export function copyRecord(job: JobRecord, state: JobRecord['state']): JobRecord {
  const from = job as Cached;
  const copy = shapeRecord(job) as Cached; // assigning its slots below keeps the shape
  copy.state = state;
  copy[PAYLOAD_JSON] = from[PAYLOAD_JSON];
  if (state === job.state && from[RECORD_BUF] !== undefined) {
    copy[JSON_CACHE] = from[JSON_CACHE];
    copy[RECORD_CRC] = from[RECORD_CRC];
    copy[RECORD_BUF] = from[RECORD_BUF];
    copy[RECORD_AT] = from[RECORD_AT];
    copy[RECORD_LEN] = from[RECORD_LEN];
  }
  return copy;
}

/** A record read back (a segment's, queue.json's), in the one shape every record has in memory. */
export function shapeRecord(r: JobRecord): JobRecord {
  return shaped(r.id, r.state, r.payload, r.payloadRef, r.priority, r.order, r.runAt, r.attempts, r.maxAttempts, r.backoff, r.lease, r.createdAt, r.updatedAt, r.lastError, r.nackedBy, r.result, r.finishedAt, r.archive, undefined);
}

/**
 * The one shape of a record in memory: every field present, undefined while unset, and the cache
 * slots. A change then assigns and never adds a property: V8 keeps one hidden class for every job,
 * so the stores of claim, ack and touch stay monomorphic and allocate no property storage. Records
 * made otherwise (pushed ones with their few fields, JSON.parse's from segments and queue.json)
 * each grew their own chain of hidden classes, and the core's property stores went megamorphic:
 * a drain's main thread spent twice as long per job (docs/benchmarks.md, "One shape per job
 * record"). Unset fields are `undefined`, never deleted (a delete would make the object a slow
 * dictionary), and JSON.stringify and the record writer leave them out. Every record the state
 * holds comes from here (newJobRecord, shapeRecord, copyRecord); test/core/record-shape.test.ts checks it.
 */
function shaped(id: string, state: JobRecord['state'], payload: unknown, payloadRef: string | undefined, priority: number, order: number, runAt: number, attempts: number, maxAttempts: number, backoff: JobRecord['backoff'], lease: JobRecord['lease'], createdAt: number, updatedAt: number, lastError: string | undefined, nackedBy: JobRecord['nackedBy'], result: unknown, finishedAt: number | undefined, archive: string | undefined, json: string | undefined): Cached {
  return { id, state, payload, payloadRef, priority, order, runAt, attempts, maxAttempts, backoff, lease, createdAt, updatedAt, lastError, nackedBy, result, finishedAt, archive, [PAYLOAD_JSON]: json, [JSON_CACHE]: undefined, [RECORD_CRC]: undefined, [RECORD_BUF]: undefined, [RECORD_AT]: 0, [RECORD_LEN]: 0 };
}

/**
 * Seeds the record cache with bytes that encode exactly this record: a segment's record, read back
 * (core/segments/segment-codec.ts). A refill then moves jobs into the head without encoding them again.
 */
export function primeJobBytes(job: JobRecord, bytes: Buffer): void {
  const c = job as Cached;
  c[JSON_CACHE] = c[RECORD_BUF] = bytes;
  c[RECORD_AT] = 0;
  c[RECORD_LEN] = bytes.length;
}

/** Whether the payload's JSON text is cached (then it, not the payload object, is the job's payload). */
export function hasPayloadJson(job: JobRecord): boolean {
  return (job as Cached)[PAYLOAD_JSON] !== undefined;
}

/** Drops the cached record bytes (not the payload's JSON). */
export function dropJsonCache(job: JobRecord): void {
  // Assigning (not `delete`) keeps the object's hidden class: deleting a property would turn
  // every touched job into a slow dictionary-mode object.
  const c = job as Cached;
  if (c[RECORD_BUF] === undefined) return;
  c[RECORD_BUF] = undefined;
  if (c[JSON_CACHE] !== undefined) c[JSON_CACHE] = undefined;
  if (c[RECORD_CRC] !== undefined) c[RECORD_CRC] = undefined;
}

/**
 * The CRC of the record's bytes (segment-codec.ts: the record and its newline), once computed and
 * kept (keepRecordCrc): a merge at seal writes the held segment's jobs again without
 * checksumming them again. Dropped with the record (dropJsonCache).
 */
export function cachedRecordCrc(job: JobRecord): number | undefined {
  return (job as Cached)[RECORD_CRC];
}

export function keepRecordCrc(job: JobRecord, crc: number): number {
  return ((job as Cached)[RECORD_CRC] = crc);
}

/** The record's cached JSON text, if its bytes are made (for the invariant that a change went through touch()). */
export function cachedJson(job: JobRecord): string | undefined {
  const c = job as Cached;
  const buf = c[RECORD_BUF];
  return buf?.toString('utf8', c[RECORD_AT], c[RECORD_AT]! + c[RECORD_LEN]!);
}

/** The record as JSON text (see jobBytes). */
export function jobJson(job: JobRecord): string {
  return jobBytes(job).toString('utf8');
}

/** The job with its record's bytes made (written at the first need, then cached). */
function written(job: JobRecord): Cached {
  const c = job as Cached;
  if (c[RECORD_BUF] === undefined) write(c);
  return c;
}

/** The record's UTF-8 length in bytes (jobBytes(job).length, without making the Buffer). */
export function recordLength(job: JobRecord): number {
  return written(job)[RECORD_LEN]!;
}

/**
 * The buffer holding the record's bytes, from recordStart(job) for recordLength(job) bytes. When
 * it is a slab, the byte after the record is a newline and the next job written may follow it.
 */
export function recordBuffer(job: JobRecord): Buffer {
  return written(job)[RECORD_BUF]!;
}

export function recordStart(job: JobRecord): number {
  return written(job)[RECORD_AT]!;
}

/** The record as UTF-8 JSON: same fields and values as JSON.stringify(job), in a fixed order. */
export function jobBytes(job: JobRecord): Buffer {
  const c = job as Cached;
  const hit = c[JSON_CACHE];
  if (hit !== undefined) return hit;
  const at = written(c)[RECORD_AT]!;
  return (c[JSON_CACHE] = c[RECORD_BUF]!.subarray(at, at + c[RECORD_LEN]!));
}

const out = new SlabWriter();

/** `open` (a field's name and `{"worker":`), then the worker and `,"token":` of a lease or a nack; the caller closes the object. */
function workerAndToken(w: SlabWriter, open: string, by: { worker: string; token: string }): void {
  w.ascii(open);
  w.jsonString(by.worker);
  w.ascii(',"token":');
  w.jsonString(by.token);
}

/** Writes the record's bytes into the slab and caches where they are. */
function write(job: Cached): void {
  const w = out;
  w.begin();
  w.ascii('{"id":');
  w.jsonString(job.id);
  w.ascii(',"state":"');
  w.text(`${job.state}`);
  if (job.payloadRef !== undefined) {
    w.ascii('","payloadRef":');
    w.jsonString(job.payloadRef);
  } else {
    w.ascii('","payload":');
    w.text(payloadJson(job));
  }
  w.ascii(',"priority":');
  w.num(job.priority);
  w.ascii(',"order":');
  w.num(job.order);
  w.ascii(',"runAt":');
  w.num(job.runAt);
  w.ascii(',"attempts":');
  w.num(job.attempts);
  w.ascii(',"maxAttempts":');
  w.num(job.maxAttempts);
  if (job.backoff !== undefined) {
    w.ascii(',"backoff":');
    w.text(`${str(job.backoff)}`);
  }
  if (job.lease !== undefined) {
    workerAndToken(w, ',"lease":{"worker":', job.lease);
    w.ascii(',"until":');
    w.num(job.lease.until);
    w.ascii('}');
  }
  w.ascii(',"createdAt":');
  w.num(job.createdAt);
  w.ascii(',"updatedAt":');
  w.num(job.updatedAt);
  if (job.lastError !== undefined) {
    w.ascii(',"lastError":');
    w.jsonString(job.lastError);
  }
  if (job.nackedBy !== undefined) {
    workerAndToken(w, ',"nackedBy":{"worker":', job.nackedBy);
    w.ascii(',"state":');
    w.jsonString(job.nackedBy.state);
    if (job.nackedBy.runAt !== undefined) {
      w.ascii(',"runAt":');
      w.num(job.nackedBy.runAt);
    }
    w.ascii('}');
  }
  if (job.result !== undefined) {
    w.ascii(',"result":');
    w.text(`${str(job.result)}`);
  }
  if (job.finishedAt !== undefined) {
    w.ascii(',"finishedAt":');
    w.num(job.finishedAt);
  }
  if (job.archive !== undefined) {
    w.ascii(',"archive":');
    w.jsonString(job.archive);
  }
  w.ascii('}');
  const len = w.end();
  job[RECORD_BUF] = w.buf;
  job[RECORD_AT] = w.start;
  job[RECORD_LEN] = len;
}
