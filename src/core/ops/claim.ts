import { QueueError } from '../../errors.js';
import { payloadJson } from '../job-json.js';
import { setLazyPayload } from '../claimed-payload.js';
import { markClaimed, takeNextReady } from '../state.js';
import type { JobRecord } from '../types.js';
import type { OpHandler } from './_context.js';
import { sweepState } from './sweep.js';

export interface ClaimInput {
  worker: string;
  max: number;
  leaseMs: number;
  /** Random, made before apply; lease tokens derive from it so a replay yields the same tokens. */
  nonce: string;
}

export interface ClaimedJob {
  id: string;
  payload?: unknown;
  payloadRef?: string;
  priority: number;
  /** 1 on the first delivery. */
  attempt: number;
  maxAttempts: number;
  lease: string;
  leaseUntil: number;
  createdAt: number;
  lastError?: string;
}

export interface ClaimOutput {
  jobs: ClaimedJob[];
}

function claimed(job: JobRecord): ClaimedJob {
  const c: ClaimedJob = {
    id: job.id,
    priority: job.priority,
    attempt: job.attempts,
    maxAttempts: job.maxAttempts,
    lease: job.lease!.token,
    leaseUntil: job.lease!.until,
    createdAt: job.createdAt,
  };
  if (job.payloadRef !== undefined) c.payloadRef = job.payloadRef;
  // A copy, as text parsed on first read (core/claimed-payload.ts): the caller must never hold a
  // reference into the state, and the HTTP API answers with the text as it is.
  else setLazyPayload(c, payloadJson(job));
  if (job.lastError !== undefined) c.lastError = job.lastError;
  return c;
}

export const claim: OpHandler<ClaimInput, ClaimOutput> = (s, input, now, ctx) => {
  if (!(input.max >= 1) || !(input.leaseMs >= 1)) throw new QueueError('INVALID_ARGUMENT', 'claim needs max >= 1 and leaseMs >= 1');
  const swept = sweepState(s, now);
  if (swept.promoted + swept.requeued + swept.dead > 0) ctx.changed = true;
  const jobs: ClaimedJob[] = [];
  if (s.settings.paused) return { jobs };
  const until = now + input.leaseMs;
  for (let i = 0; i < input.max; i++) {
    const job = takeNextReady(s);
    if (!job) break;
    markClaimed(s, job, input.worker, `${input.nonce}.${i}`, until, now);
    s.counters.claimed++;
    ctx.changed = true;
    jobs.push(claimed(job));
  }
  return { jobs };
};
