/**
 * A backlog from a stored head: format 3 (its manifest and the head's pending and delayed jobs),
 * or format 2 (every job in the head; the first commit's seal writes the excess as segments).
 * docs/format.md, sections 2 and 6.
 */
import { QueueError } from '../../errors.js';
import type { JobRecord } from '../types.js';
import { Backlog, type OrderSource } from './backlog.js';
import type { BacklogLimits, BacklogManifest } from './manifest.js';

/**
 * The backlog a format-3 head describes. Its segments' fingerprints are not known yet: lookups
 * answer `unindexed` until provideFingerprints() has been called for each of `unindexed()`.
 * `jobs` are the head's pending and delayed jobs (claimed ones stay the caller's).
 */
export function loadBacklog(topic: string, orders: OrderSource, manifest: BacklogManifest, jobs: readonly JobRecord[], where: string, limits: Partial<BacklogLimits> = {}): Backlog {
  const b = new Backlog(topic, orders, limits);
  for (const ref of manifest.ready) {
    const copy = { ...ref };
    b.chain(copy.priority).segments.push(copy);
    b.reg.register(copy, null);
  }
  for (const ref of manifest.delayed) {
    const copy = { ...ref, next: [ref.next[0], ref.next[1]] as [number, number] };
    b.delayedSegs.push(copy);
    b.reg.register(copy, null);
  }
  for (const [id, key] of Object.entries(manifest.tombstones)) b.tombstones.set(id, key);
  b.reg.garbage = manifest.garbage.map((g) => ({ ...g }));
  b.segPending = manifest.counts.pending;
  b.segDelayed = manifest.counts.delayed;
  const sorted = [...jobs].sort((x, y) => x.order - y.order);
  for (const job of sorted) {
    if (job.state === 'delayed') {
      b.addDelayed(job);
      continue;
    }
    const c = b.chain(job.priority);
    const segs = c.segments;
    if (segs.length === 0 || job.order < segs[0]!.next) {
      b.toWindow(c, job, true);
    } else if (job.order > segs[segs.length - 1]!.last) {
      c.tail.push(job);
      b.head.set(job.id, job);
      b.tailJobs++;
    } else {
      throw new QueueError('CORRUPT_STATE', `${where}: pending job ${job.id} (order ${job.order}) lies within the segments of priority ${job.priority}`, { details: { object: where } });
    }
  }
  for (const c of b.chains.values()) for (const j of c.tail) c.tailBytes += b.recordBytes(j);
  return b;
}

/**
 * The backlog of a format-2 head, whose jobs are all in the head: in claim order, the first fill
 * the window and the rest wait in tails, which the first commit's seal() writes as segments.
 */
export function backlogFromJobs(topic: string, orders: OrderSource, jobs: readonly JobRecord[], now: number, limits: Partial<BacklogLimits> = {}): Backlog {
  const b = new Backlog(topic, orders, limits);
  const sorted = [...jobs].sort((x, y) => y.priority - x.priority || x.order - y.order);
  for (const job of sorted) {
    if (job.state === 'delayed') b.addDelayed(job);
    else b.add(job, Math.max(now, job.runAt)); // a stored pending job stays pending
  }
  return b;
}
