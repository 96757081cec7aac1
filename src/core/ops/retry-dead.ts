/**
 * `retryDead`: many dead jobs back to pending in one op, so "retry all" is one commit whatever the
 * count. The broker reads the dead jobs' full records from their archive objects first (I/O is not
 * the core's); jobs that died in a commit not yet archived are taken from `done`.
 *
 * Re-runnable: on a CAS conflict the op is applied again to the reloaded state, where some of the
 * listed jobs may have been retried (or expired) by another broker meanwhile; those are skipped
 * and reported, never revived twice.
 */
import type { JobRecord } from '../types.js';
import { findDone } from '../state.js';
import { reviveDead } from './admin-ops.js';
import type { OpHandler } from './_context.js';

export interface RetryDeadInput {
  /** The dead jobs to retry, each with its archived record when the broker read one. */
  jobs: Array<{ id: string; record?: JobRecord }>;
}

export interface RetryDeadOutput {
  retried: number;
  /** Ids now pending again, in the order given. */
  ids: string[];
  /** Listed jobs left as they were: not dead (any more), or their record was not available. */
  skipped: Array<{ id: string; code: 'NOT_FOUND' | 'UNAVAILABLE'; message: string }>;
}

export const retryDead: OpHandler<RetryDeadInput, RetryDeadOutput> = (s, input, now, ctx) => {
  const out: RetryDeadOutput = { retried: 0, ids: [], skipped: [] };
  for (const { id, record } of input.jobs) {
    const entry = s.dead.get(id);
    if (!entry) {
      out.skipped.push({ id, code: 'NOT_FOUND', message: `job ${id} is not dead` });
      continue;
    }
    const fromDone = findDone(s, id);
    const rec = record ?? (fromDone?.state === 'dead' ? fromDone : undefined);
    if (!rec || rec.id !== id || rec.archive !== entry.archive) {
      out.skipped.push({ id, code: 'UNAVAILABLE', message: `the archived record of dead job ${id} is not available` });
      continue;
    }
    reviveDead(s, rec, now);
    out.retried++;
    out.ids.push(id);
    ctx.changed = true;
  }
  return out;
};
