/** The three ops a lease holder may perform: heartbeat, ack, nack. Each checks ownership first. */
import { QueueError } from '../../errors.js';
import { backoffDelay } from '../backoff.js';
import { recentToken } from '../recent.js';
import { extendLease, findDone, finishJob, requeue, returnClaimed } from '../state.js';
import type { QueueState } from '../state.js';
import type { JobState, NackedBy } from '../types.js';
import { ownedJob, type OpHandler } from './_context.js';

export interface LeaseRef {
  id: string;
  worker: string;
  /** The lease token handed out by claim. */
  token: string;
}

export interface HeartbeatInput extends LeaseRef {
  leaseMs: number;
}

export const heartbeat: OpHandler<HeartbeatInput, { leaseUntil: number }> = (s, input, now, ctx) => {
  if (!(input.leaseMs >= 1)) throw new QueueError('INVALID_ARGUMENT', 'heartbeat needs leaseMs >= 1');
  const job = ownedJob(s, input.id, input.worker, input.token, now);
  const until = Math.max(job.lease!.until, now + input.leaseMs);
  if (until !== job.lease!.until) {
    extendLease(s, job, until, now);
    ctx.changed = true;
  }
  return { leaseUntil: until };
};

export interface AckInput extends LeaseRef {
  result?: unknown;
}

export const ack: OpHandler<AckInput, { id: string }> = (s, input, now, ctx) => {
  // The same ack replayed (its first try's outcome was unknown to the caller) succeeds again, once
  // more and without effect, as long as the job has not been archived yet.
  const done = findDone(s, input.id);
  if (done?.state === 'completed' && done.lease?.token === input.token && done.lease.worker === input.worker && !s.jobs.has(input.id)) {
    return { id: done.id };
  }
  // ... and after it was archived, while the recent window remembers the completing claim.
  if (input.token !== '' && recentToken(s.recent, input.id, now) === input.token && !s.jobs.has(input.id)) return { id: input.id };
  const job = ownedJob(s, input.id, input.worker, input.token, now);
  if (input.result !== undefined) job.result = input.result;
  job.lastError = undefined;
  finishJob(s, job, 'completed', now);
  s.counters.completed++;
  ctx.changed = true;
  return { id: job.id };
};

export interface NackInput extends LeaseRef {
  error?: string;
  /** Explicit delay before the retry; without it the job's (or topic's) backoff decides. */
  delayMs?: number;
  /** Random in [0,1) for backoff jitter, made before apply. */
  rand: number;
}

export interface NackOutput {
  id: string;
  state: JobState;
  /** When the job will be due again (retries only). */
  runAt?: number;
}

export const nack: OpHandler<NackInput, NackOutput> = (s, input, now, ctx) => {
  const replayed = nackReplay(s, input);
  if (replayed) return replayed;
  const job = ownedJob(s, input.id, input.worker, input.token, now);
  job.lastError = (input.error ?? 'failed').slice(0, 4096);
  s.counters.nacked++;
  ctx.changed = true;
  // The answer goes into the record before requeue or finishJob: both may make the record's
  // bytes (a tail counts them), which must include it.
  const by = { worker: input.worker, token: input.token };
  if (job.attempts >= job.maxAttempts) {
    job.nackedBy = { ...by, state: 'dead' };
    finishJob(s, job, 'dead', now);
    s.counters.dead++;
    return { id: job.id, state: 'dead' };
  }
  const delay = input.delayMs ?? backoffDelay(job.backoff ?? s.settings.backoff, job.attempts, input.rand);
  const runAt = now + Math.max(0, delay);
  // The state requeue gives it (Backlog.add: delayed while runAt is ahead).
  job.nackedBy = { ...by, state: runAt > now ? 'delayed' : 'pending', runAt };
  requeue(s, job, runAt, now);
  return { id: job.id, state: job.state, runAt: job.runAt };
};

/**
 * The same nack replayed (its first try landed, its answer was lost) gets that try's answer again
 * and changes nothing, whatever happened to the job since (claimed again, finished): from the
 * record while the head holds it, then, for a job the nack made dead, from its dead-letter entry.
 * A job sent back into a segment of a deep backlog is not in the head: its replay gets
 * LEASE_LOST, as before.
 */
function nackReplay(s: QueueState, input: NackInput): NackOutput | undefined {
  if (input.token === '') return undefined;
  const job = s.jobs.get(input.id) ?? findDone(s, input.id);
  const by: NackedBy | undefined = job ? job.nackedBy : s.dead.get(input.id)?.nackedBy;
  if (!by || by.token !== input.token || by.worker !== input.worker) return undefined;
  return by.runAt !== undefined ? { id: input.id, state: by.state, runAt: by.runAt } : { id: input.id, state: by.state };
}

export interface UnclaimInput {
  jobs: Array<{ id: string; worker: string; token: string }>;
}

export interface UnclaimOutput {
  returned: number;
  /** The jobs handed back (the others were no longer leased to that worker). */
  ids: string[];
}

/**
 * Hands claimed jobs back untouched, e.g. when the long-polling client that claimed them hung up
 * before it could receive them, or a worker's prefetched jobs at close: they go back to their old
 * place in pending (ahead of everything pushed after them) and the attempt is not counted.
 */
export const unclaim: OpHandler<UnclaimInput, UnclaimOutput> = (s, input, now, ctx) => {
  let returned = 0;
  const ids: string[] = [];
  for (const ref of input.jobs) {
    const job = s.jobs.get(ref.id);
    if (!job || job.state !== 'claimed' || job.lease?.token !== ref.token || job.lease.worker !== ref.worker) continue;
    job.attempts = Math.max(0, job.attempts - 1);
    returnClaimed(s, job, now);
    returned++;
    ids.push(job.id);
  }
  if (returned > 0) ctx.changed = true;
  return { returned, ids };
};
