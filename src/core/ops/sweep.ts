import { finishJob, promoteDue, requeue, takeExpiredLeases, type QueueState } from '../state.js';
import type { OpHandler } from './_context.js';

export interface SweepOutput {
  /** Delayed jobs that became due. */
  promoted: number;
  /** Expired leases whose job went back to pending. */
  requeued: number;
  /** Expired leases whose job had no attempts left and went to the dead-letter list. */
  dead: number;
  /** Each expired lease: whose it was and where its job went (for event streams). */
  expired: Array<{ id: string; worker: string; dead: boolean }>;
}

/**
 * Moves due delayed jobs to pending and expired leases back to pending (or dead once attempts
 * are spent). Attempts were counted at claim time, so an expiry does not count again.
 */
export function sweepState(s: QueueState, now: number): SweepOutput {
  const promoted = promoteDue(s, now);
  let requeued = 0;
  let dead = 0;
  const expired: SweepOutput['expired'] = [];
  for (const job of takeExpiredLeases(s, now)) {
    s.counters.leasesExpired++;
    const worker = job.lease?.worker ?? '?';
    job.lastError = `lease expired (worker ${worker})`;
    const exhausted = job.attempts >= job.maxAttempts;
    if (exhausted) {
      finishJob(s, job, 'dead', now);
      s.counters.dead++;
      dead++;
    } else {
      requeue(s, job, now, now);
      requeued++;
    }
    expired.push({ id: job.id, worker, dead: exhausted });
  }
  return { promoted, requeued, dead, expired };
}

export const sweep: OpHandler<Record<string, never>, SweepOutput> = (s, _input, now, ctx) => {
  const r = sweepState(s, now);
  if (r.promoted + r.requeued + r.dead > 0) ctx.changed = true;
  return r;
};
