/**
 * `purgeDead`: an operator throws dead jobs away (every one, or the listed ones) in one op, so in
 * one commit. Their dead-letter entries leave queue.json; their records stay in the archive
 * objects, which the retention janitor deletes with everything else of their day. A purged id is
 * forgotten: it can be neither retried nor found, and pushing it again creates a new job.
 *
 * Nothing is dropped silently: the caller asked for it by name (or for all), and the answer counts
 * what went and lists what was not dead. Re-runnable: on a CAS conflict the op runs again on the
 * reloaded state, where a listed job may have been retried meanwhile; it is then skipped.
 */
import type { OpHandler } from './_context.js';

export interface PurgeDeadInput {
  /** Only these dead jobs; absent: every dead job of the topic. */
  ids?: string[];
}

export interface PurgeDeadOutput {
  purged: number;
  /** Listed ids that were not dead (any more): left as they were. */
  skipped: Array<{ id: string; code: 'NOT_FOUND'; message: string }>;
}

export const purgeDead: OpHandler<PurgeDeadInput, PurgeDeadOutput> = (s, input, _now, ctx) => {
  const out: PurgeDeadOutput = { purged: 0, skipped: [] };
  if (input.ids === undefined) {
    out.purged = s.dead.size;
    s.dead.clear();
  } else {
    for (const id of input.ids) {
      if (s.dead.delete(id)) out.purged++;
      else out.skipped.push({ id, code: 'NOT_FOUND', message: `job ${id} is not dead` });
    }
  }
  if (out.purged > 0) ctx.changed = true;
  return out;
};
