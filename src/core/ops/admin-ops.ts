/** Ops on jobs by id that need no lease: cancel, retry a dead job, get, stats, configure. */
import { QueueError } from '../../errors.js';
import { deadStub, findDone, finishJob, insertJob, recentStub, segmentState, touch } from '../state.js';
import type { QueueState } from '../state.js';
import type { Backoff, JobRecord, JobStats } from '../types.js';
import { snapshot, type OpHandler } from './_context.js';
import { copyRecord, shapeRecord } from '../job-json.js';

export const cancel: OpHandler<GetInput, { id: string; state: 'cancelled' }> = (s, input, now, ctx) => {
  const job = s.jobs.get(input.id);
  if (!job) {
    const inSegment = segmentState(s, input.id);
    if (s.dead.has(input.id) || findDone(s, input.id) || recentStub(s, input.id, now) || inSegment === 'cancelled') {
      throw new QueueError('FAILED_PRECONDITION', `job ${input.id} has already finished`, { details: { id: input.id } });
    }
    if (inSegment === undefined) throw new QueueError('NOT_FOUND', `no job ${input.id}`, { details: { id: input.id } });
    // Waiting in a segment: its record (read by the broker before apply) finishes like any
    // cancelled job, so it is archived and remembered (a retried push is not a new job), and a
    // tombstone in the head keeps refill and compaction from bringing it back.
    if (input.record?.id !== input.id) {
      const key = (s.backlog.locate(input.id) as { key: string }).key;
      throw new QueueError('UNAVAILABLE', `job ${input.id} waits in segment ${key}, not read yet; retry shortly`, { details: { id: input.id, segment: key } });
    }
    const copy = copyRecord(snapshot(input.record), inSegment);
    finishJob(s, copy, 'cancelled', now);
    s.counters.cancelled++;
    ctx.changed = true;
    return { id: input.id, state: 'cancelled' };
  }
  if (job.state === 'claimed') {
    throw new QueueError('FAILED_PRECONDITION', `job ${input.id} is claimed by a worker; only pending or delayed jobs can be cancelled`, { details: { id: input.id } });
  }
  finishJob(s, job, 'cancelled', now);
  s.counters.cancelled++;
  ctx.changed = true;
  return { id: job.id, state: 'cancelled' };
};

export interface RetryInput {
  id: string;
  /**
   * The dead job's full record, read by the broker from its archive object before apply
   * (or found in `done` when it died in a commit not yet archived).
   */
  record?: JobRecord;
}

export const retry: OpHandler<RetryInput, { id: string; state: JobRecord['state'] }> = (s, input, now, ctx) => {
  const entry = s.dead.get(input.id);
  if (!entry) {
    const live = s.jobs.get(input.id);
    if (live) throw new QueueError('FAILED_PRECONDITION', `job ${input.id} is ${live.state}, not dead`, { details: { id: input.id } });
    throw new QueueError('NOT_FOUND', `no dead job ${input.id}`, { details: { id: input.id } });
  }
  const fromDone = findDone(s, input.id);
  const rec = input.record ?? (fromDone?.state === 'dead' ? fromDone : undefined);
  if (!rec || rec.id !== input.id || rec.archive !== entry.archive) {
    throw new QueueError('UNAVAILABLE', `the archived record of dead job ${input.id} is not available yet`, { details: { id: input.id } });
  }
  const job = reviveDead(s, rec, now);
  ctx.changed = true;
  return { id: job.id, state: job.state };
};

/**
 * Sends a dead job back to pending from its full record (checked by the caller against the
 * dead-letter entry): attempts reset, a new place at the end of its priority's line.
 */
export function reviveDead(s: QueueState, rec: JobRecord, now: number): JobRecord {
  const job = shapeRecord({
    id: rec.id,
    state: 'pending',
    priority: rec.priority,
    order: s.nextOrder++,
    runAt: now,
    attempts: 0,
    maxAttempts: rec.maxAttempts,
    createdAt: rec.createdAt,
    updatedAt: now,
    payloadRef: rec.payloadRef,
    payload: rec.payloadRef !== undefined ? undefined : (rec.payload ?? null),
    backoff: rec.backoff || undefined,
    lastError: rec.lastError,
  });
  s.dead.delete(rec.id);
  // A dead job still waiting in `done` to be archived keeps its archive entry; the retried job is a new live record.
  insertJob(s, job, now);
  touch(job, now);
  s.counters.retried++;
  return job;
}

export interface GetInput {
  id: string;
  /** The job's record, read by the broker from the segment holding it (a job not in the head). */
  record?: JobRecord;
}

/**
 * A job by id from the state: live jobs, finished jobs not yet archived, and dead-letter index
 * entries (marked `archive`; the broker completes them from the archive object).
 */
export const get: OpHandler<GetInput, JobRecord> = (s, input, now) => {
  const job = s.jobs.get(input.id) ?? findDone(s, input.id);
  if (job) return snapshot(job);
  const inSegment = segmentState(s, input.id);
  if (inSegment === 'pending' || inSegment === 'delayed') {
    if (input.record?.id === input.id) return { ...snapshot(input.record), state: inSegment };
    const key = (s.backlog.locate(input.id) as { key: string }).key;
    throw new QueueError('UNAVAILABLE', `job ${input.id} waits in segment ${key}, not read yet; retry shortly`, { details: { id: input.id, segment: key } });
  }
  const dead = s.dead.get(input.id);
  if (dead) return deadStub(input.id, dead);
  const recent = recentStub(s, input.id, now);
  if (recent) return recent;
  throw new QueueError('NOT_FOUND', `no job ${input.id} (finished jobs are forgotten once archived and out of the recent window)`, { details: { id: input.id } });
};

export const stats: OpHandler<Record<string, never>, JobStats> = (s, _input, now) => {
  let oldest = 0;
  for (const job of s.backlog.fronts()) oldest = Math.max(oldest, now - job.runAt);
  return {
    ...s.idx.counts,
    dead: s.dead.size,
    archiving: s.done.length,
    oldestPendingMs: oldest,
    counters: { ...s.counters },
    paused: s.settings.paused,
    settings: { maxAttempts: s.settings.maxAttempts, backoff: { ...s.settings.backoff }, paused: s.settings.paused },
    seq: s.seq,
    broker: s.broker ? { ...s.broker } : null,
  };
};

export interface ConfigureInput {
  maxAttempts?: number;
  backoff?: Backoff;
  paused?: boolean;
}

export const configure: OpHandler<ConfigureInput, ConfigureInput> = (s, input, _now, ctx) => {
  if (input.maxAttempts !== undefined) {
    if (!Number.isInteger(input.maxAttempts) || input.maxAttempts < 1) throw new QueueError('INVALID_ARGUMENT', 'maxAttempts must be an integer >= 1');
    if (s.settings.maxAttempts !== input.maxAttempts) ctx.changed = true;
    s.settings.maxAttempts = input.maxAttempts;
  }
  if (input.backoff !== undefined) {
    if (JSON.stringify(s.settings.backoff) !== JSON.stringify(input.backoff)) ctx.changed = true;
    s.settings.backoff = input.backoff;
  }
  if (input.paused !== undefined) {
    if (s.settings.paused !== input.paused) ctx.changed = true;
    s.settings.paused = input.paused;
  }
  return { ...s.settings };
};
