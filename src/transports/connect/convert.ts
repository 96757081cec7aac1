/**
 * Protobuf messages ↔ the broker's plain requests and results. Optional fields stay absent when
 * unset, so the broker's defaults and the protocol's validation (src/protocol.ts) apply exactly
 * as over HTTP; payloads and results go through google.protobuf.Value as plain JSON.
 */
import { create, fromJson, toJson, type JsonValue } from '@bufbuild/protobuf';
import { ValueSchema, type Value } from '@bufbuild/protobuf/wkt';
import type { ClaimedJob } from '../../core/ops/claim.js';
import type { JobRecord, JobStats } from '../../core/types.js';
import {
  ClaimedJobSchema,
  JobSchema,
  TopicStatsSchema,
  type ClaimedJob as ClaimedJobMessage,
  type Job,
  type PushJob,
  type TopicStats,
} from '../../gen/bucketq/v1/queue_pb.js';
import type { PushJobRequest } from '../../protocol.js';

/** A Value as JSON; an unset Value (or field) is null. */
export function fromValue(v: Value | undefined): unknown {
  if (v === undefined || v.kind.case === undefined) return null;
  return toJson(ValueSchema, v);
}

export function toValue(json: unknown): Value {
  return fromJson(ValueSchema, (json ?? null) as JsonValue);
}

/** Copies the fields of `from` that are set (not undefined) into a plain object. */
function defined<T extends object>(from: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(from)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** int64 → number: ms and counts fit a double; one out of range fails the protocol's range check. */
export function num(v: bigint | undefined): number | undefined {
  return v === undefined ? undefined : Number(v);
}

/** number → int64. */
export function big(v: number): bigint {
  return BigInt(Math.trunc(v));
}

/** A PushJob without its payload stays without one: the protocol refuses it, as over HTTP (null is a Value of its own). */
export function pushJob(j: PushJob): PushJobRequest {
  const rest = defined({ id: j.id, priority: j.priority, delayMs: num(j.delayMs), runAt: num(j.runAt), maxAttempts: j.maxAttempts });
  return (j.payload === undefined ? rest : { payload: fromValue(j.payload), ...rest }) as PushJobRequest;
}

export function claimedJob(j: ClaimedJob): ClaimedJobMessage {
  return create(ClaimedJobSchema, {
    id: j.id,
    payload: toValue(j.payload),
    priority: j.priority,
    attempt: j.attempt,
    maxAttempts: j.maxAttempts,
    lease: j.lease,
    leaseUntil: big(j.leaseUntil),
    createdAt: big(j.createdAt),
    ...(j.lastError !== undefined ? { lastError: j.lastError } : {}),
  });
}

/** A job record as shown over the wire: never another claim's lease token. */
export function job(r: JobRecord): Job {
  return create(JobSchema, {
    id: r.id,
    state: r.state,
    payload: toValue(r.payload),
    priority: r.priority,
    runAt: big(r.runAt),
    attempts: r.attempts,
    maxAttempts: r.maxAttempts,
    createdAt: big(r.createdAt),
    updatedAt: big(r.updatedAt),
    ...(r.lease ? { lease: { worker: r.lease.worker, until: big(r.lease.until) } } : {}),
    ...(r.lastError !== undefined ? { lastError: r.lastError } : {}),
    ...(r.result !== undefined ? { result: toValue(r.result) } : {}),
    ...(r.finishedAt !== undefined ? { finishedAt: big(r.finishedAt) } : {}),
  });
}

export function topicStats(topic: string, s: JobStats): TopicStats {
  return create(TopicStatsSchema, {
    topic,
    pending: big(s.pending),
    delayed: big(s.delayed),
    claimed: big(s.claimed),
    dead: big(s.dead),
    archiving: big(s.archiving),
    oldestPendingMs: big(s.oldestPendingMs),
    paused: s.paused,
    seq: big(s.seq),
    counters: Object.fromEntries(Object.entries(s.counters).map(([k, v]) => [k, big(v)])),
    ...(s.broker ? { leader: { id: s.broker.id, url: s.broker.url, epoch: big(s.broker.epoch), leaseUntil: big(s.broker.leaseUntil) } } : {}),
  });
}
