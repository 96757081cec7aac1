/**
 * A backlog's jobs by id (backlog.ts): where one is (the head, a tombstone, a segment through the
 * id index) and cancelling one wherever it is. Segments are never read here: an id the index
 * cannot place for sure answers the segments to read first (docs/format.md, "Cancel, get,
 * idempotent push: the id index").
 */
import { QueueError } from '../../errors.js';
import type { JobRecord } from '../types.js';
import type { Backlog } from './backlog.js';
import { leaveTail, leaveWindow } from './backlog-chains.js';
import type { CancelOutcome, Location } from './backlog-types.js';

export function locate(b: Backlog, id: string): Location {
  const job = b.head.get(id);
  if (job) return { at: 'head', job };
  const t = b.tombstones.get(id);
  if (t !== undefined) return { at: 'cancelled', key: t };
  if (b.reg.refs.size === 0 && b.reg.unindexed.size === 0) return undefined; // no segment: no hashing
  const { holder, unconfirmed } = b.reg.candidates(id);
  if (holder !== undefined) return { at: 'segment', key: holder };
  if (unconfirmed.length > 0) return { at: 'unconfirmed', keys: unconfirmed };
  if (b.reg.unindexed.size > 0) return { at: 'unindexed', keys: [...b.reg.unindexed] };
  return undefined;
}

/** Cancels a pending or delayed job wherever it is: out of the head, or a tombstone for a segment. */
export function cancel(b: Backlog, id: string): CancelOutcome {
  const loc = locate(b, id);
  if (!loc) return { missing: true };
  switch (loc.at) {
    case 'cancelled':
      return { missing: true, cancelledIn: loc.key };
    case 'unconfirmed':
    case 'unindexed':
      return { needs: loc.keys };
    case 'head':
      removeFromHead(b, loc.job);
      return { removed: loc.job };
    case 'segment': {
      if (b.tombstones.size >= 4 * b.limits.tombstoneMax) {
        throw new QueueError('UNAVAILABLE', `topic ${b.topic} has ${b.tombstones.size} cancels waiting for compaction; retry shortly`, { details: { id } });
      }
      const ref = b.reg.refs.get(loc.key)!;
      ref.tombstones++;
      b.tombstones.set(id, loc.key);
      if ('priority' in ref) b.segPending--;
      else b.segDelayed--;
      return { tombstoned: loc.key };
    }
  }
}

function removeFromHead(b: Backlog, job: JobRecord): void {
  b.head.delete(job.id);
  if (job.state === 'delayed') {
    b.delayedCount--; // its heap entry is skipped as stale
    return;
  }
  const c = b.chains.get(job.priority)!;
  if (leaveWindow(b, c, job)) return; // its deque entry is skipped as stale
  const i = c.tail.indexOf(job);
  c.tail.splice(i, 1);
  leaveTail(b, c, job);
}
