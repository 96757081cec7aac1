/**
 * The backlog of one topic as a small head plus immutable segments (docs/format.md, section 1):
 * pure and synchronous. It never reads storage: where it needs a segment it says so (`needs`,
 * a claim `blocked` on a key, a lookup `unconfirmed`), the broker reads ahead and hands the
 * decoded segment back through a `SegmentSource` on a later batch.
 *
 * It holds the pending and delayed jobs; claimed jobs are the caller's. Per priority p the claim
 * order is window(p) ++ segments(p) ++ tail(p), orders ascending; priorities highest first.
 */
import { QueueError } from '../../errors.js';
import { Deque, MinHeap } from '../heap.js';
import { dropJsonCache, recordLength } from '../job-json.js';
import type { JobRecord } from '../types.js';
import { DEFAULT_LIMITS, emptyManifest, type BacklogLimits, type BacklogManifest, type DelayedSegmentRef, type ReadySegmentRef } from './manifest.js';
import type { DecodedSegment } from './segment-codec.js';
import type { CommitStamp } from './segment-keys.js';
import { SegmentRegistry, type PlannedWrite } from './segment-registry.js';
import { compact, loadDelayed, moveReady, planCompaction } from './backlog-moves.js';

/** Where new orders come from: the topic state's `nextOrder`. */
export interface OrderSource {
  nextOrder: number;
}

/** Decoded segments the broker has read (undefined: not read yet). */
export type SegmentSource = (key: string) => DecodedSegment | undefined;

export interface Chain {
  priority: number;
  window: Deque<JobRecord>;
  windowLive: number;
  windowBytes: number;
  segments: ReadySegmentRef[];
  tail: JobRecord[];
  tailBytes: number;
  /** How many jobs at the end of `tail` are deferred: pushed by this batch, not in `head` yet (Backlog.deferHead). */
  fresh: number;
}

export type Take = { job: JobRecord } | { blocked: string } | undefined;

export type Location =
  | { at: 'head'; job: JobRecord }
  /** In this segment (confirmed against its ids). */
  | { at: 'segment'; key: string }
  /** Cancelled while in this segment: a tombstone waits for refill or compaction. */
  | { at: 'cancelled'; key: string }
  /** Fingerprint hits: read these segments' ids (provideIds), then ask again. */
  | { at: 'unconfirmed'; keys: string[] }
  /** The index is still being built (after a load): provide these segments' fingerprints. */
  | { at: 'unindexed'; keys: string[] }
  | undefined;

export type CancelOutcome =
  | { removed: JobRecord }
  | { tombstoned: string }
  | { needs: string[] }
  | { missing: true; cancelledIn?: string };

interface Timed {
  job: JobRecord;
  at: number;
  order: number;
}

const byTime = (a: Timed, b: Timed) => a.at < b.at || (a.at === b.at && a.order < b.order);
const byOrder = (a: JobRecord, b: JobRecord) => a.order < b.order;
const keyLess = (at: number, order: number, next: [number, number]) => at < next[0] || (at === next[0] && order < next[1]);

function touchJob(job: JobRecord, now: number): void {
  job.updatedAt = now;
  dropJsonCache(job);
}

export class Backlog {
  readonly limits: BacklogLimits;
  readonly reg: SegmentRegistry;
  readonly chains = new Map<number, Chain>();
  /** Priorities with a chain, highest first. */
  readonly priorities: number[] = [];
  /** Window jobs → their record bytes (membership of the window). */
  readonly windowSize = new Map<JobRecord, number>();
  windowBytes = 0;
  tailJobs = 0;
  /** Pending and delayed jobs in the head, by id. */
  readonly head = new Map<string, JobRecord>();
  delayed = new MinHeap<Timed>(byTime);
  delayedCount = 0;
  delayedSegs: DelayedSegmentRef[] = [];
  readonly tombstones = new Map<string, string>();
  /** Jobs in segments, not tombstoned. */
  segPending = 0;
  segDelayed = 0;
  /**
   * Per priority, the small segments at the end of its chain that this backlog sealed, with their
   * jobs (oldest first): the next seal of the chain may merge them (mergeHeld). Not stored: a
   * loaded backlog holds none, and merges again from its next seal on.
   */
  private readonly held = new Map<number, Array<{ ref: ReadySegmentRef; jobs: JobRecord[] }>>();
  /**
   * The topic state's map of every job record in the head (claimed ones too), kept in step: a job
   * entering the head from a segment joins it, a job sealed into a segment leaves it.
   */
  mirror: Map<string, JobRecord> | undefined;
  /**
   * While a batch applies a run of pushes (deferHead), the jobs they add to tails, by id: not yet
   * in `head` and `mirror`. Most of a bulk push is sealed into a segment at the end of the same
   * batch; those jobs then never enter (and leave) the two maps at all. Null outside such a run.
   */
  private freshIds: Map<string, JobRecord> | null = null;
  /**
   * Push inputs whose every id the broker found in no segment before apply (segmentLookups), and
   * the index's add count then: until an entry is added, the push op need not probe the index again
   * for them (absentChecked). One probe a pushed job instead of two. Cleared at seal.
   */
  private absent: { adds: number; inputs: Set<object> } | null = null;

  constructor(
    readonly topic: string,
    private readonly orders: OrderSource,
    limits: Partial<BacklogLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.reg = new SegmentRegistry(topic);
  }

  // --- a commit -------------------------------------------------------------------------------

  /** Starts a commit attempt: segments it plans are named after `stamp`. */
  begin(stamp: CommitStamp): void {
    this.reg.begin(stamp);
  }

  /** Segments to write before this commit's head. */
  get plannedWrites(): readonly PlannedWrite[] {
    return this.reg.writes;
  }

  // --- in -------------------------------------------------------------------------------------

  /** A new job (its id checked absent with locate()): ready or delayed by its runAt. */
  add(job: JobRecord, now: number): void {
    if (job.runAt > now) this.addDelayed(job);
    else this.addReady(job);
  }

  /** A job back in line with a new order (nack, expired lease): ready now or delayed until runAt. */
  requeue(job: JobRecord, runAt: number, now: number): void {
    job.runAt = runAt;
    job.order = this.orders.nextOrder++;
    delete job.lease;
    this.add(job, now);
    touchJob(job, now);
  }

  /** A claimed job handed back untouched: its old place, at the front of its window. */
  returnUnclaimed(job: JobRecord, now: number): void {
    delete job.lease;
    job.state = 'pending';
    const c = this.chain(job.priority);
    c.window.insertSorted(job, byOrder);
    this.toWindow(c, job, false);
    touchJob(job, now);
  }

  private addReady(job: JobRecord): void {
    job.state = 'pending';
    const c = this.chain(job.priority);
    const L = this.limits;
    if (c.segments.length === 0 && c.tail.length === 0 && this.windowSize.size < L.windowJobs && this.windowBytes < L.windowBytes) {
      this.toWindow(c, job, true);
    } else {
      const size = recordLength(job);
      c.tail.push(job);
      c.tailBytes += size;
      this.tailJobs++;
      if (this.freshIds) {
        this.freshIds.set(job.id, job);
        c.fresh++;
      } else this.enterHead(job);
    }
  }

  /**
   * Begins (or goes on with) a run of pushes in a batch: jobs added to a tail from now on are kept
   * by id in a map of their own instead of `head` and the state's `jobs`, until settleFresh() or
   * seal(). Only the push op may run meanwhile (it finds them with freshJob()); anything else
   * settles them first (core/batch.ts).
   */
  deferHead(): void {
    this.freshIds ??= new Map();
  }

  /** A job a push of the current run added to a tail (see deferHead). */
  freshJob(id: string): JobRecord | undefined {
    return this.freshIds?.get(id);
  }

  /** Ends a run of pushes: its tail jobs enter `head` and the state's `jobs` like any other. */
  settleFresh(): void {
    if (!this.freshIds) return;
    this.freshIds = null;
    for (const c of this.chains.values()) {
      if (c.fresh === 0) continue;
      for (let i = c.tail.length - c.fresh; i < c.tail.length; i++) this.enterHead(c.tail[i]!);
      c.fresh = 0;
    }
  }

  /** Adds to window(p): at the back (`push`) or already inserted by the caller. */
  toWindow(c: Chain, job: JobRecord, push: boolean): void {
    if (push) c.window.push(job);
    const size = recordLength(job);
    this.windowSize.set(job, size);
    this.windowBytes += size;
    c.windowLive++;
    c.windowBytes += size;
    this.enterHead(job);
  }

  private enterHead(job: JobRecord): void {
    this.head.set(job.id, job);
    this.mirror?.set(job.id, job);
  }

  private leaveHeadForSegment(job: JobRecord): void {
    this.head.delete(job.id);
    this.mirror?.delete(job.id);
  }

  addDelayed(job: JobRecord): void {
    job.state = 'delayed';
    this.enterHead(job);
    this.delayed.push({ job, at: job.runAt, order: job.order });
    this.delayedCount++;
  }

  chain(p: number): Chain {
    let c = this.chains.get(p);
    if (!c) {
      c = { priority: p, window: new Deque(), windowLive: 0, windowBytes: 0, segments: [], tail: [], tailBytes: 0, fresh: 0 };
      this.chains.set(p, c);
      const ps = this.priorities;
      let i = 0;
      while (i < ps.length && ps[i]! > p) i++;
      ps.splice(i, 0, p);
    }
    return c;
  }

  // --- out ------------------------------------------------------------------------------------

  /** The next ready job in priority-then-FIFO order, removed; or the segment that must come first. */
  takeNext(): Take {
    const ps = this.priorities;
    for (let i = 0; i < ps.length; ) {
      const c = this.chains.get(ps[i]!)!;
      for (let job = c.window.shift(); job; job = c.window.shift()) {
        if (this.leaveWindow(c, job)) {
          this.head.delete(job.id);
          return { job };
        }
      }
      if (c.segments.length > 0) return { blocked: c.segments[0]!.key };
      const job = c.tail.shift();
      if (job) {
        this.leaveTail(c, job);
        this.head.delete(job.id);
        return { job };
      }
      this.chains.delete(c.priority);
      ps.splice(i, 1);
    }
    return undefined;
  }

  /** The first ready job of each priority the head holds (stale window entries are dropped on the way). */
  *fronts(): Generator<JobRecord> {
    for (const c of this.chains.values()) {
      let job = c.window.peek();
      while (job && !this.windowSize.has(job)) {
        c.window.shift();
        job = c.window.peek();
      }
      if (job) yield job;
      else if (c.segments.length === 0 && c.tail.length > 0) yield c.tail[0]!;
    }
  }

  private leaveWindow(c: Chain, job: JobRecord): boolean {
    const size = this.windowSize.get(job);
    if (size === undefined) return false;
    this.windowSize.delete(job);
    this.windowBytes -= size;
    c.windowLive--;
    c.windowBytes -= size;
    return true;
  }

  /** A job's record bytes, as the head writes them. */
  recordBytes(job: JobRecord): number {
    return recordLength(job);
  }

  private leaveTail(c: Chain, job: JobRecord): void {
    c.tailBytes -= recordLength(job);
    this.tailJobs--;
  }

  /**
   * Due delayed jobs become ready (a new order each, in (runAt, order) order), stopping before the
   * next job of a delayed segment not loaded yet: `blocked` names it.
   */
  promoteDue(now: number): { promoted: number; blocked?: string } {
    let promoted = 0;
    let limit: DelayedSegmentRef | undefined;
    for (const d of this.delayedSegs) if (!limit || keyLess(d.next[0], d.next[1], limit.next)) limit = d;
    for (let top = this.delayed.peek(); top; top = this.delayed.peek()) {
      const job = top.job;
      if (this.head.get(job.id) !== job || job.state !== 'delayed' || job.runAt !== top.at || job.order !== top.order) {
        this.delayed.pop();
        continue;
      }
      if (top.at > now) break;
      if (limit && !keyLess(top.at, top.order, limit.next)) return { promoted, blocked: limit.key };
      this.delayed.pop();
      this.delayedCount--;
      this.head.delete(job.id);
      job.order = this.orders.nextOrder++;
      this.addReady(job);
      touchJob(job, now);
      promoted++;
    }
    if (limit && limit.next[0] <= now) return { promoted, blocked: limit.key };
    return { promoted };
  }

  // --- by id ----------------------------------------------------------------------------------

  locate(id: string): Location {
    const job = this.head.get(id);
    if (job) return { at: 'head', job };
    const t = this.tombstones.get(id);
    if (t !== undefined) return { at: 'cancelled', key: t };
    if (this.reg.refs.size === 0 && this.reg.unindexed.size === 0) return undefined; // no segment: no hashing
    const { holder, unconfirmed } = this.reg.candidates(id);
    if (holder !== undefined) return { at: 'segment', key: holder };
    if (unconfirmed.length > 0) return { at: 'unconfirmed', keys: unconfirmed };
    if (this.reg.unindexed.size > 0) return { at: 'unindexed', keys: [...this.reg.unindexed] };
    return undefined;
  }

  /** Records that no segment holds any id of this push input (each locate() answered undefined). */
  markAbsent(input: object): void {
    const adds = this.reg.index.adds;
    if (this.absent?.adds !== adds) this.absent = { adds, inputs: new Set() };
    this.absent.inputs.add(input);
  }

  /**
   * Whether markAbsent() holds for this input still: no index entry added since, so no segment can
   * hold its ids (a tombstone needs an indexed id; the head's jobs are the caller's to check).
   */
  absentChecked(input: object): boolean {
    const a = this.absent;
    return a !== null && a.adds === this.reg.index.adds && a.inputs.has(input);
  }

  /** Cancels a pending or delayed job wherever it is: out of the head, or a tombstone for a segment. */
  cancel(id: string): CancelOutcome {
    const loc = this.locate(id);
    if (!loc) return { missing: true };
    switch (loc.at) {
      case 'cancelled':
        return { missing: true, cancelledIn: loc.key };
      case 'unconfirmed':
      case 'unindexed':
        return { needs: loc.keys };
      case 'head':
        this.removeFromHead(loc.job);
        return { removed: loc.job };
      case 'segment': {
        if (this.tombstones.size >= 4 * this.limits.tombstoneMax) {
          throw new QueueError('UNAVAILABLE', `topic ${this.topic} has ${this.tombstones.size} cancels waiting for compaction; retry shortly`, { details: { id } });
        }
        const ref = this.reg.refs.get(loc.key)!;
        ref.tombstones++;
        this.tombstones.set(id, loc.key);
        if ('priority' in ref) this.segPending--;
        else this.segDelayed--;
        return { tombstoned: loc.key };
      }
    }
  }

  private removeFromHead(job: JobRecord): void {
    this.head.delete(job.id);
    if (job.state === 'delayed') {
      this.delayedCount--; // its heap entry is skipped as stale
      return;
    }
    const c = this.chains.get(job.priority)!;
    if (this.leaveWindow(c, job)) return; // its deque entry is skipped as stale
    const i = c.tail.indexOf(job);
    c.tail.splice(i, 1);
    this.leaveTail(c, job);
  }

  // --- reading ahead ----------------------------------------------------------------------------

  /**
   * Walks priorities highest first, counting the head's jobs ahead in claim order; `visit` sees
   * each chain whose first segment is met with too few jobs (or bytes) ahead of it.
   */
  frontWalk(visit: (c: Chain, ahead: number, aheadBytes: number) => void): void {
    let ahead = 0;
    let aheadBytes = 0;
    for (const p of [...this.priorities]) {
      const c = this.chains.get(p);
      if (!c) continue;
      ahead += c.windowLive;
      aheadBytes += c.windowBytes;
      if (c.segments.length > 0 && ahead < this.limits.lowWater && aheadBytes < this.limits.windowBytes) visit(c, ahead, aheadBytes);
      for (const s of c.segments) ahead += s.n - s.skip;
      ahead += c.tail.length;
      aheadBytes += c.tailBytes;
    }
  }

  /** Segments to read now: the front of chains near the claim front, delayed segments due soon. */
  needs(now: number): string[] {
    const out: string[] = [];
    this.frontWalk((c) => out.push(c.segments[0]!.key));
    for (const d of this.delayedSegs) if (d.next[0] <= now + this.limits.delayedLookaheadMs) out.push(d.key);
    return out;
  }

  /** The due time of the earliest job waiting in a delayed segment (its manifest `next`), or undefined. */
  delayedSegmentDueAt(): number | undefined {
    let at: number | undefined;
    for (const d of this.delayedSegs) if (at === undefined || d.next[0] < at) at = d.next[0];
    return at;
  }

  /** Fingerprints still to read for a complete id index (after a load). */
  unindexed(): string[] {
    return [...this.reg.unindexed];
  }

  /** Moves jobs from segments the broker has read into the head. Returns how many moved. */
  refill(source: SegmentSource, now: number): number {
    let moved = 0;
    this.frontWalk((c, ahead, aheadBytes) => {
      moved += moveReady(this, c, source, this.limits.windowJobs - ahead, this.limits.windowBytes - aheadBytes, now);
    });
    for (const d of [...this.delayedSegs]) {
      if (d.next[0] > now + this.limits.delayedLookaheadMs) continue;
      const seg = source(d.key);
      if (seg) moved += loadDelayed(this, d, seg, now);
    }
    return moved;
  }

  /** Fingerprints of a loaded segment (its first bytes), for the id index. */
  provideFingerprints(key: string, fps: Uint32Array): void {
    this.reg.provideFingerprints(key, fps);
  }

  /** A segment's ids, read to confirm a lookup's fingerprint hit. */
  provideIds(key: string, ids: readonly string[]): void {
    this.reg.provideIds(key, ids);
  }

  // --- end of a batch ---------------------------------------------------------------------------

  /**
   * The end of a batch: seals tails and delayed jobs beyond the head's bounds into segments of this
   * commit, and trims the ids confirmed for this batch's lookups.
   */
  seal(now: number): void {
    this.absent = null;
    this.reg.trimConfirmed();
    this.sealing(now);
    this.settleFresh(); // what stays in a tail enters the head
  }

  private sealing(now: number): void {
    const L = this.limits;
    for (const c of this.chains.values()) if (c.tail.length >= L.tailSealJobs || c.tailBytes >= L.tailSealBytes) this.sealTail(c, now);
    if (this.tailJobs > L.tailTotalJobs) {
      const byLength = [...this.chains.values()].filter((c) => c.tail.length > 0).sort((a, b) => b.tail.length - a.tail.length);
      for (const c of byLength) {
        if (this.tailJobs <= L.tailTotalJobs) break;
        this.sealTail(c, now);
      }
    }
    if (this.delayedCount > L.delayedHeadMax) this.sealDelayed(now);
  }

  private sealTail(c: Chain, now: number): void {
    const tail = c.tail;
    c.tail = [];
    c.tailBytes = 0;
    this.tailJobs -= tail.length;
    // Jobs this batch's pushes added (the last c.fresh) never entered the head: nothing to leave.
    for (let i = 0; i < tail.length - c.fresh; i++) this.leaveHeadForSegment(tail[i]!);
    c.fresh = 0;
    this.segPending += tail.length;
    const { jobs, carried } = this.mergeHeld(c, tail, now);
    const refs = this.reg.plan('ready', jobs, this.limits.segmentMaxJobs, this.limits.segmentMaxBytes, carried, now) as ReadySegmentRef[];
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
   * The oldest merged segment (the front of the new jobs) is `carried`: the registry hands its id
   * index entries to the new segment that takes its jobs (SegmentRegistry.plan), so a merge does
   * not remove and add again an entry per job it rewrites. The others are dropped here.
   */
  private mergeHeld(c: Chain, tail: JobRecord[], now: number): { jobs: JobRecord[]; carried?: { key: string; n: number } } {
    const stack = this.held.get(c.priority);
    if (!stack) return { jobs: tail };
    let jobs = tail;
    let carried: { key: string; n: number; jobs: readonly JobRecord[] } | undefined;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const last = c.segments[c.segments.length - 1];
      if (top.ref !== last || this.reg.refs.get(last.key) !== last || last.skip > 0 || last.tombstones > 0) {
        stack.length = 0;
        break;
      }
      if (top.ref.n > jobs.length) break;
      stack.pop();
      c.segments.pop();
      if (carried) this.reg.dropMerged(carried.key, carried.jobs, now);
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
    if (last.n < this.limits.segmentMaxJobs && last.bytes < this.limits.segmentMaxBytes / 2) stack.push({ ref: last, jobs: jobs.slice(jobs.length - last.n) });
  }

  private sealDelayed(now: number): void {
    const horizon = now + this.limits.delayedLookaheadMs;
    const later: JobRecord[] = [];
    for (const j of this.head.values()) if (j.state === 'delayed' && j.runAt > horizon) later.push(j);
    if (later.length === 0) return;
    later.sort((a, b) => a.runAt - b.runAt || a.order - b.order);
    for (const j of later) this.leaveHeadForSegment(j);
    this.delayedCount -= later.length;
    this.segDelayed += later.length;
    this.delayedSegs.push(...(this.reg.plan('delayed', later, this.limits.segmentMaxJobs, this.limits.segmentMaxBytes) as DelayedSegmentRef[]));
    this.rebuildDelayedHeap();
  }

  rebuildDelayedHeap(): void {
    this.delayed = new MinHeap<Timed>(byTime);
    for (const j of this.head.values()) if (j.state === 'delayed') this.delayed.push({ job: j, at: j.runAt, order: j.order });
  }

  // --- compaction and garbage -----------------------------------------------------------------

  /** Segments worth rewriting (many tombstones); the broker reads them, then compact(). */
  compactionPlan(): string[] {
    return planCompaction(this);
  }

  /** Rewrites the planned segments the broker has read: live jobs into new segments, one swap. */
  compact(keys: readonly string[], source: SegmentSource, now: number): number {
    return compact(this, keys, source, now);
  }

  /** Retired segments whose grace has passed: the broker deletes them, then dropGarbage(). */
  garbageDue(now: number, graceMs: number): string[] {
    return this.reg.garbage.filter((g) => g.at + graceMs <= now).map((g) => g.key);
  }

  dropGarbage(keys: readonly string[]): void {
    const gone = new Set(keys);
    this.reg.garbage = this.reg.garbage.filter((g) => !gone.has(g.key));
  }

  // --- the head -------------------------------------------------------------------------------

  counts(): { pending: number; delayed: number } {
    return { pending: this.windowSize.size + this.tailJobs + this.segPending, delayed: this.delayedCount + this.segDelayed };
  }

  /** The pending and delayed jobs the head holds (window, tails, delayed). */
  headJobs(): IterableIterator<JobRecord> {
    return this.head.values();
  }

  /** The head's `backlog` field. */
  manifest(): BacklogManifest {
    const m = emptyManifest();
    for (const p of this.priorities) for (const s of this.chains.get(p)!.segments) m.ready.push({ ...s });
    m.delayed = this.delayedSegs.map((d) => ({ ...d, next: [d.next[0], d.next[1]] as [number, number] }));
    m.tombstones = Object.fromEntries(this.tombstones);
    m.garbage = this.reg.garbage.map((g) => ({ ...g }));
    m.counts = { pending: this.segPending, delayed: this.segDelayed };
    return m;
  }
}
