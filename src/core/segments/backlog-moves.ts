/**
 * Jobs moving between segments and the head: which segments to read ahead, refill of a chain's
 * window, loading a delayed segment's jobs due soon, and compaction (docs/format.md, "Refill",
 * "Delayed jobs", "Compaction"). Each takes the decoded segment the broker read; the segment itself
 * never changes, `skip` says how much of it the head has taken.
 */
import { copyRecord } from '../job-json.js';
import type { JobRecord } from '../types.js';
import type { Backlog } from './backlog.js';
import { toWindow } from './backlog-chains.js';
import type { Chain, SegmentSource } from './backlog-types.js';
import type { DelayedSegmentRef, ReadySegmentRef } from './manifest.js';
import type { DecodedSegment } from './segment-codec.js';
import type { SegmentRef } from './segment-registry.js';

/** A record from a read segment, as a job of the head (the read copy may serve another attempt). */
function fromSegment(job: JobRecord, state: 'pending' | 'delayed'): JobRecord {
  // With the segment's record bytes (segment-codec.ts) while they are still exact: the state is
  // the one the job was sealed in.
  return copyRecord(job, state);
}

/** Takes job `i` of a segment out of it: unindexed; true when it was tombstoned (cancelled). */
function takeOut(b: Backlog, ref: SegmentRef, id: string): boolean {
  b.reg.unindex(ref.key, id);
  ref.skip++;
  if (b.tombstones.get(id) !== ref.key) return false;
  b.tombstones.delete(id);
  ref.tombstones--;
  return true;
}

/**
 * Walks priorities highest first, counting the head's jobs ahead in claim order; `visit` sees
 * each chain whose first segment is met with too few jobs (or bytes) ahead of it.
 */
export function frontWalk(b: Backlog, visit: (c: Chain, ahead: number, aheadBytes: number) => void): void {
  let ahead = 0;
  let aheadBytes = 0;
  for (const p of [...b.priorities]) {
    const c = b.chains.get(p);
    if (!c) continue;
    ahead += c.windowLive;
    aheadBytes += c.windowBytes;
    if (c.segments.length > 0 && ahead < b.limits.lowWater && aheadBytes < b.limits.windowBytes) visit(c, ahead, aheadBytes);
    for (const s of c.segments) ahead += s.n - s.skip;
    ahead += c.tail.length;
    aheadBytes += c.tailBytes;
  }
}

/** Segments to read now: the front of chains near the claim front, delayed segments due soon. */
export function segmentsNeeded(b: Backlog, now: number): string[] {
  const out: string[] = [];
  frontWalk(b, (c) => out.push(c.segments[0]!.key));
  for (const d of b.delayedSegs) if (d.next[0] <= now + b.limits.delayedLookaheadMs) out.push(d.key);
  return out;
}

/** Moves jobs from segments the broker has read into the head. Returns how many moved. */
export function refill(b: Backlog, source: SegmentSource, now: number): number {
  let moved = 0;
  frontWalk(b, (c, ahead, aheadBytes) => {
    moved += moveReady(b, c, source, b.limits.windowJobs - ahead, b.limits.windowBytes - aheadBytes, now);
  });
  for (const d of [...b.delayedSegs]) {
    if (d.next[0] > now + b.limits.delayedLookaheadMs) continue;
    const seg = source(d.key);
    if (seg) moved += loadDelayed(b, d, seg, now);
  }
  return moved;
}

/**
 * Moves up to `room` jobs (and about `roomBytes`) from the front of chain c's segments into its
 * window, over as many read segments as it takes; a chain left without segments gets its tail
 * into the window. Returns the jobs moved.
 */
export function moveReady(b: Backlog, c: Chain, source: SegmentSource, room: number, roomBytes: number, now: number): number {
  let moved = 0;
  while (room > 0 && roomBytes > 0 && c.segments.length > 0) {
    const ref = c.segments[0]!;
    const seg = source(ref.key);
    if (!seg) break;
    while (ref.skip < ref.n && room > 0 && roomBytes > 0) {
      const rec = seg.jobs[ref.skip]!;
      if (takeOut(b, ref, rec.id)) continue;
      const job = fromSegment(rec, 'pending');
      toWindow(b, c, job, true);
      b.segPending--;
      room--;
      roomBytes -= b.windowSize.get(job)!;
      moved++;
    }
    if (ref.skip === ref.n) {
      c.segments.shift();
      b.reg.retire(ref.key, now);
    } else {
      ref.next = seg.meta.order[ref.skip]!;
    }
  }
  if (c.segments.length === 0 && c.tail.length > 0) {
    // Nothing stands between the window and the tail any more: the tail is window.
    const tail = c.tail;
    c.tail = [];
    c.tailBytes = 0;
    b.tailJobs -= tail.length;
    for (const job of tail) toWindow(b, c, job, true);
  }
  return moved;
}

/** Moves a delayed segment's jobs due within the lookahead (at most delayedHeadMax) into the head. */
export function loadDelayed(b: Backlog, ref: DelayedSegmentRef, seg: DecodedSegment, now: number): number {
  const horizon = now + b.limits.delayedLookaheadMs;
  let moved = 0;
  while (ref.skip < ref.n && moved < b.limits.delayedHeadMax) {
    const rec = seg.jobs[ref.skip]!;
    if (rec.runAt > horizon) break;
    if (takeOut(b, ref, rec.id)) continue;
    b.addDelayed(fromSegment(rec, 'delayed'));
    b.segDelayed--;
    moved++;
  }
  if (ref.skip === ref.n) {
    b.delayedSegs.splice(b.delayedSegs.indexOf(ref), 1);
    b.reg.retire(ref.key, now);
  } else {
    ref.next = [seg.meta.runAt[ref.skip]!, seg.meta.order[ref.skip]!];
  }
  return moved;
}

/**
 * Segments to compact: those with tombstones for at least half of what they have left, and, while
 * the head holds more than tombstoneMax tombstones, those with the most until half that remain.
 */
export function planCompaction(b: Backlog): string[] {
  const refs = [...b.reg.refs.values()].filter((r) => r.tombstones > 0);
  const keys = new Set(refs.filter((r) => 2 * r.tombstones >= r.n - r.skip).map((r) => r.key));
  let left = b.tombstones.size;
  for (const r of refs) if (keys.has(r.key)) left -= r.tombstones;
  if (left > b.limits.tombstoneMax) {
    for (const r of refs.sort((x, y) => y.tombstones - x.tombstones)) {
      if (left <= b.limits.tombstoneMax / 2) break;
      if (keys.has(r.key)) continue;
      keys.add(r.key);
      left -= r.tombstones;
    }
  }
  return [...keys];
}

/** Replaces each read segment of `keys` by new segments of its live jobs, at the same place. */
export function compact(b: Backlog, keys: readonly string[], source: SegmentSource, now: number): number {
  let rewritten = 0;
  for (const key of keys) {
    const ref = b.reg.refs.get(key);
    const seg = source(key);
    if (!ref || !seg) continue;
    const live: JobRecord[] = [];
    while (ref.skip < ref.n) {
      const rec = seg.jobs[ref.skip]!;
      if (!takeOut(b, ref, rec.id)) live.push(rec);
    }
    b.reg.retire(key, now);
    const L = b.limits;
    if ('priority' in ref) {
      const c = b.chains.get(ref.priority)!;
      const fresh = live.length === 0 ? [] : (b.reg.plan('ready', live, L.segmentMaxJobs, L.segmentMaxBytes) as ReadySegmentRef[]);
      c.segments.splice(c.segments.indexOf(ref), 1, ...fresh);
    } else {
      b.delayedSegs.splice(b.delayedSegs.indexOf(ref), 1);
      if (live.length > 0) b.delayedSegs.push(...(b.reg.plan('delayed', live, L.segmentMaxJobs, L.segmentMaxBytes) as DelayedSegmentRef[]));
    }
    rewritten++;
  }
  return rewritten;
}
