/**
 * The backlog of one topic as a small head plus immutable segments (docs/format.md, section 1):
 * pure and synchronous. It never reads storage: where it needs a segment it says so (`needs`,
 * a claim `blocked` on a key, a lookup `unconfirmed`), the broker reads ahead and hands the
 * decoded segment back through a `SegmentSource` on a later batch.
 *
 * It holds the pending and delayed jobs; claimed jobs are the caller's. Per priority p the claim
 * order is window(p) ++ segments(p) ++ tail(p), orders ascending; priorities highest first.
 *
 * This class is the backlog's API and the jobs in and out of the head. Its parts: backlog-chains.ts
 * (a chain's window and tail counts), backlog-ids.ts (locate, cancel), backlog-moves.ts (read
 * ahead, refill, compaction), backlog-seal.ts (sealing and merging at a batch's end),
 * backlog-load.ts (a backlog from a stored head); backlog-types.ts their shapes.
 */
import { MinHeap } from '../heap.js';
import { dropJsonCache, recordLength } from '../job-json.js';
import type { JobRecord } from '../types.js';
import { DEFAULT_LIMITS, emptyManifest, type BacklogLimits, type BacklogManifest, type DelayedSegmentRef } from './manifest.js';
import type { CommitStamp } from './segment-keys.js';
import { SegmentRegistry, type PlannedWrite } from './segment-registry.js';
import { compact, frontWalk, planCompaction, refill, segmentsNeeded } from './backlog-moves.js';
import { BacklogSealer } from './backlog-seal.js';
import { chainOf, enterHead, leaveTail, leaveWindow, toWindow } from './backlog-chains.js';
import { cancel, locate } from './backlog-ids.js';
import type { CancelOutcome, Chain, Location, OrderSource, SegmentSource, Take } from './backlog-types.js';

export type { CancelOutcome, Chain, Location, OrderSource, SegmentSource, Take } from './backlog-types.js';

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
  /** Seals what exceeds the head's bounds at the end of a batch, merging small segments (backlog-seal.ts). */
  private readonly sealer = new BacklogSealer(this);
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
   * Whether the push applying now keeps its fresh jobs in `freshIds`: not one whose ids the broker
   * made (PushInput.newIds), which nothing can look up before its answer. A tenth of a bulk push's
   * time was that map's growth.
   */
  private trackFresh = true;
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
    job.lease = undefined;
    this.add(job, now);
    touchJob(job, now);
  }

  /** A claimed job handed back untouched: its old place, at the front of its window. */
  returnUnclaimed(job: JobRecord, now: number): void {
    job.lease = undefined;
    job.state = 'pending';
    const c = chainOf(this, job.priority);
    c.window.insertSorted(job, byOrder);
    toWindow(this, c, job, false);
    touchJob(job, now);
  }

  private addReady(job: JobRecord): void {
    job.state = 'pending';
    const c = chainOf(this, job.priority);
    const L = this.limits;
    if (c.segments.length === 0 && c.tail.length === 0 && this.windowSize.size < L.windowJobs && this.windowBytes < L.windowBytes) {
      toWindow(this, c, job, true);
    } else {
      const size = recordLength(job);
      c.tail.push(job);
      c.tailBytes += size;
      this.tailJobs++;
      if (this.freshIds) {
        if (this.trackFresh) this.freshIds.set(job.id, job);
        c.fresh++;
      } else enterHead(this, job);
    }
  }

  /**
   * Begins (or goes on with) a run of pushes in a batch: jobs added to a tail from now on are kept
   * by id in a map of their own instead of `head` and the state's `jobs`, until settleFresh() or
   * seal(). Only the push op may run meanwhile (it finds them with freshJob()); anything else
   * settles them first (core/batch.ts). `track`: whether this push's jobs are kept there by id
   * (see trackFresh).
   */
  deferHead(track: boolean): void {
    this.freshIds ??= new Map();
    this.trackFresh = track;
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
      for (let i = c.tail.length - c.fresh; i < c.tail.length; i++) enterHead(this, c.tail[i]!);
      c.fresh = 0;
    }
  }

  /** Adds to window(p): at the back (`push`) or already inserted by the caller (backlog-chains.ts). */
  toWindow(c: Chain, job: JobRecord, push: boolean): void {
    toWindow(this, c, job, push);
  }

  addDelayed(job: JobRecord): void {
    job.state = 'delayed';
    enterHead(this, job);
    this.delayed.push({ job, at: job.runAt, order: job.order });
    this.delayedCount++;
  }

  /** The chain of priority p, made if there is none (backlog-chains.ts). */
  chain(p: number): Chain {
    return chainOf(this, p);
  }

  // --- out ------------------------------------------------------------------------------------

  /** The next ready job in priority-then-FIFO order, removed; or the segment that must come first. */
  takeNext(): Take {
    const ps = this.priorities;
    for (let i = 0; i < ps.length; ) {
      const c = this.chains.get(ps[i]!)!;
      for (let job = c.window.shift(); job; job = c.window.shift()) {
        if (leaveWindow(this, c, job)) {
          this.head.delete(job.id);
          return { job };
        }
      }
      if (c.segments.length > 0) return { blocked: c.segments[0]!.key };
      const job = c.tail.shift();
      if (job) {
        leaveTail(this, c, job);
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

  /** A job's record bytes, as the head writes them. */
  recordBytes(job: JobRecord): number {
    return recordLength(job);
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

  /** Where the job of this id is (backlog-ids.ts). */
  locate(id: string): Location {
    return locate(this, id);
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

  /** Cancels a pending or delayed job wherever it is: out of the head, or a tombstone for a segment (backlog-ids.ts). */
  cancel(id: string): CancelOutcome {
    return cancel(this, id);
  }

  // --- reading ahead ----------------------------------------------------------------------------

  /**
   * Walks priorities highest first, counting the head's jobs ahead in claim order; `visit` sees
   * each chain whose first segment is met with too few jobs (or bytes) ahead of it (backlog-moves.ts).
   */
  frontWalk(visit: (c: Chain, ahead: number, aheadBytes: number) => void): void {
    frontWalk(this, visit);
  }

  /** Segments to read now: the front of chains near the claim front, delayed segments due soon. */
  needs(now: number): string[] {
    return segmentsNeeded(this, now);
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
    return refill(this, source, now);
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
    this.sealer.seal(now);
    this.settleFresh(); // what stays in a tail enters the head
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
