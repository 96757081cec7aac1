/**
 * Sealing, the end of a batch's backlog: tails and delayed jobs beyond the head's bounds are
 * planned as segments of this commit (docs/format.md, "Push"), and a chain's small segments at its
 * end are merged into its next seal. Apart from backlog.ts because it is the one part that keeps
 * state of its own between batches (the held segments) and runs once per batch, not per job.
 */
import type { JobRecord } from '../types.js';
import type { Backlog } from './backlog.js';
import type { Chain } from './backlog-types.js';
import type { DelayedSegmentRef, ReadySegmentRef } from './manifest.js';

export class BacklogSealer {
  /**
   * Per priority, the small segments at the end of its chain that this backlog sealed, with their
   * jobs (oldest first): the next seal of the chain may merge them (mergeHeld). Not stored: a
   * loaded backlog holds none, and merges again from its next seal on.
   */
  private readonly held = new Map<number, Array<{ ref: ReadySegmentRef; jobs: JobRecord[] }>>();

  constructor(private readonly b: Backlog) {}

  /** Seals tails and delayed jobs beyond the head's bounds into segments of this commit. */
  seal(now: number): void {
    const L = this.b.limits;
    for (const c of this.b.chains.values()) if (c.tail.length >= L.tailSealJobs || c.tailBytes >= L.tailSealBytes) this.sealTail(c, now);
    if (this.b.tailJobs > L.tailTotalJobs) {
      const byLength = [...this.b.chains.values()].filter((c) => c.tail.length > 0).sort((a, b) => b.tail.length - a.tail.length);
      for (const c of byLength) {
        if (this.b.tailJobs <= L.tailTotalJobs) break;
        this.sealTail(c, now);
      }
    }
    if (this.b.delayedCount > L.delayedHeadMax) this.sealDelayed(now);
  }

  private leaveHeadForSegment(job: JobRecord): void {
    this.b.head.delete(job.id);
    this.b.mirror?.delete(job.id);
  }

  private sealTail(c: Chain, now: number): void {
    const tail = c.tail;
    c.tail = [];
    c.tailBytes = 0;
    this.b.tailJobs -= tail.length;
    // Jobs this batch's pushes added (the last c.fresh) never entered the head: nothing to leave.
    for (let i = 0; i < tail.length - c.fresh; i++) this.leaveHeadForSegment(tail[i]!);
    c.fresh = 0;
    this.b.segPending += tail.length;
    const { jobs, carried } = this.mergeHeld(c, tail, now);
    const refs = this.b.reg.plan('ready', jobs, this.b.limits.segmentMaxJobs, this.b.limits.segmentMaxBytes, carried, now) as ReadySegmentRef[];
    c.segments.push(...refs);
    this.hold(c, refs, jobs);
  }

  /**
   * Small segments at the end of a chain are merged into the next seal, so a chain holds full
   * segments (segmentMaxJobs) plus a few small ones, however its jobs were pushed, and the
   * manifest stays about (backlog / segmentMaxJobs) entries (docs/format.md, "Push"). The held
   * segment is merged while it is no larger than what is being sealed, so each merge at least
   * doubles the segment a job is in: a job is rewritten at most log2(segmentMaxJobs / tailSealJobs)
   * times. Only segments this backlog sealed and still holds the jobs of (no read), untouched
   * since (no refill, no tombstone), at the very end of the chain, are merged.
   *
   * A bulk seal (a tail of segmentMaxJobs jobs or more) takes in only a held segment smaller than
   * a quarter of one: rewriting a larger one costs more than the manifest entry it saves. Pushes
   * of 10,000 rewrote 40% of their jobs' bytes (8192 + 1808, then 1808 + 10,000 written as
   * 8192 + 3616, ...); now 9%, for a chain of 3 segments per 20,000 jobs instead of 2.4, and
   * never more than about twice the full segments' number however pushes are sized.
   *
   * The oldest merged segment (the front of the new jobs) is `carried`: the registry hands its id
   * index entries to the new segment that takes its jobs (SegmentRegistry.plan), so a merge does
   * not remove and add again an entry per job it rewrites. The others are dropped here.
   */
  private mergeHeld(c: Chain, tail: JobRecord[], now: number): { jobs: JobRecord[]; carried?: { key: string; n: number } } {
    const stack = this.held.get(c.priority);
    if (!stack) return { jobs: tail };
    let jobs = tail;
    const bulk = tail.length >= this.b.limits.segmentMaxJobs;
    let carried: { key: string; n: number; jobs: readonly JobRecord[] } | undefined;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const last = c.segments[c.segments.length - 1];
      if (top.ref !== last || this.b.reg.refs.get(last.key) !== last || last.skip > 0 || last.tombstones > 0) {
        stack.length = 0;
        break;
      }
      if (top.ref.n > jobs.length || (bulk && top.ref.n >= this.b.limits.segmentMaxJobs / 4)) break;
      stack.pop();
      c.segments.pop();
      if (carried) this.b.reg.dropMerged(carried.key, carried.jobs, now);
      carried = { key: last.key, n: top.jobs.length, jobs: top.jobs };
      jobs = top.jobs.concat(jobs);
    }
    return { jobs, carried: carried && { key: carried.key, n: carried.n } };
  }

  /** Keeps the jobs of the new last segment of c when it is small: the next seal may merge it. */
  private hold(c: Chain, refs: ReadySegmentRef[], jobs: JobRecord[]): void {
    let stack = this.held.get(c.priority);
    if (!stack) this.held.set(c.priority, (stack = []));
    if (refs.length > 1) stack.length = 0; // full segments now stand between the held ones and the end
    const last = refs[refs.length - 1]!;
    if (last.n < this.b.limits.segmentMaxJobs && last.bytes < this.b.limits.segmentMaxBytes / 2) stack.push({ ref: last, jobs: jobs.slice(jobs.length - last.n) });
  }

  private sealDelayed(now: number): void {
    const horizon = now + this.b.limits.delayedLookaheadMs;
    const later: JobRecord[] = [];
    for (const j of this.b.head.values()) if (j.state === 'delayed' && j.runAt > horizon) later.push(j);
    if (later.length === 0) return;
    later.sort((a, b) => a.runAt - b.runAt || a.order - b.order);
    for (const j of later) this.leaveHeadForSegment(j);
    this.b.delayedCount -= later.length;
    this.b.segDelayed += later.length;
    this.b.delayedSegs.push(...(this.b.reg.plan('delayed', later, this.b.limits.segmentMaxJobs, this.b.limits.segmentMaxBytes) as DelayedSegmentRef[]));
    this.b.rebuildDelayedHeap();
  }
}
