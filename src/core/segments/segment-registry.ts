/**
 * The segments a backlog names, and what it knows about them: their manifest entries, the id
 * index (fingerprint → segment), which segments are not indexed yet (after a load), which have
 * had their ids confirmed (read by the broker), the garbage list, and the segments this commit
 * plans to write. Queue order is not its business (backlog.ts); it keeps the bookkeeping in step.
 */
import { recordLength } from '../job-json.js';
import type { JobRecord } from '../types.js';
import { fingerprint, fingerprintInto } from './fingerprint.js';
import { FingerprintIndex } from './id-index.js';
import type { DelayedSegmentRef, ReadySegmentRef } from './manifest.js';
import { encodeSegment, type SegmentKind } from './segment-codec.js';
import { segmentKey, type CommitStamp } from './segment-keys.js';

export type SegmentRef = ReadySegmentRef | DelayedSegmentRef;

/** A segment this commit writes before its head (docs/format.md, section 4). */
export interface PlannedWrite {
  key: string;
  kind: SegmentKind;
  n: number;
  bytes: Buffer;
}

/**
 * Confirmed id lists kept between batches at most (each is one segment's ids; the broker read them
 * for a lookup). Within a batch every confirmation stays: trimmed only at its end (trimConfirmed).
 */
const CONFIRMED_MAX = 16;

/** The answer for an id no segment's fingerprints match (shared: callers only read it). */
const NONE: { holder?: string; unconfirmed: string[] } = Object.freeze({ unconfirmed: Object.freeze([]) as unknown as string[] });
/** Scratch for one id's fingerprint (the core is synchronous: never shared across calls). */
const scratch = new Uint32Array(2);

export class SegmentRegistry {
  readonly index = new FingerprintIndex();
  readonly refs = new Map<string, SegmentRef>();
  /** Named by a loaded head, fingerprints not provided yet: lookups cannot say "absent". */
  readonly unindexed = new Set<string>();
  garbage: Array<{ key: string; at: number }> = [];
  writes: PlannedWrite[] = [];
  stamp: CommitStamp | null = null;
  private readonly handles = new Map<string, number>();
  private readonly keyOf = new Map<number, string>();
  private nextHandle = 1;
  private readonly confirmed = new Map<string, Map<string, number>>();
  /**
   * Jobs of the segments this attempt plans: their ids are known without a read (not written yet).
   * Kept as the job list; the id → position map is made only when a fingerprint hits the segment
   * (rare), not for each of a bulk push's thousands of jobs.
   */
  private planned = new Map<string, readonly JobRecord[] | Map<string, number>>();

  constructor(private readonly topic: string) {}

  begin(stamp: CommitStamp): void {
    this.stamp = stamp;
    this.writes = [];
    this.planned = new Map();
  }

  /** Forgets the ids of the last attempt's planned segments (the next attempt does not know them). */
  dropPlanned(): void {
    this.planned = new Map();
  }

  /** Adds a named segment; `indexed` false when its fingerprints must still be provided. */
  register(ref: SegmentRef, fps: Uint32Array | null): void {
    const h = this.nextHandle++;
    this.refs.set(ref.key, ref);
    this.handles.set(ref.key, h);
    this.keyOf.set(h, ref.key);
    if (fps) this.indexFrom(ref, fps, h);
    else this.unindexed.add(ref.key);
  }

  /** Fingerprints of a loaded head's segment, read by the broker (the fingerprint section). */
  provideFingerprints(key: string, fps: Uint32Array): void {
    const ref = this.refs.get(key);
    if (!ref || !this.unindexed.delete(key)) return;
    this.indexFrom(ref, fps, this.handles.get(key)!);
  }

  private indexFrom(ref: SegmentRef, fps: Uint32Array, h: number): void {
    for (let i = ref.skip; i < ref.n; i++) this.index.add(fps[2 * i]!, fps[2 * i + 1]!, h);
  }

  /** One job leaves a segment (moved to the head, or compacted): its index entry goes. */
  unindex(key: string, id: string): void {
    const h = this.handles.get(key);
    if (h === undefined || this.unindexed.has(key)) return;
    const [hi, lo] = fingerprint(id);
    this.index.remove(hi, lo, h);
  }

  /** The segment leaves the manifest; it is deleted after a grace period. */
  retire(key: string, now: number): void {
    const h = this.handles.get(key);
    this.refs.delete(key);
    this.handles.delete(key);
    if (h !== undefined) this.keyOf.delete(h);
    this.unindexed.delete(key);
    this.confirmed.delete(key);
    this.garbage.push({ key, at: now });
  }

  /** A segment whose jobs (all of them, none taken) go into a new segment of this commit: unindexed and retired. */
  dropMerged(key: string, jobs: readonly JobRecord[], now: number): void {
    const h = this.handles.get(key);
    if (h !== undefined && !this.unindexed.has(key)) {
      const fp = new Uint32Array(2);
      for (const j of jobs) {
        fingerprintInto(j.id, fp, 0);
        this.index.remove(fp[0]!, fp[1]!, h);
      }
    }
    this.retire(key, now);
  }

  /** Ids of a segment, read by the broker to confirm fingerprint hits. */
  provideIds(key: string, ids: readonly string[]): void {
    if (!this.refs.has(key)) return;
    this.confirmed.delete(key);
    this.confirmed.set(key, new Map(ids.map((id, i) => [id, i])));
  }

  /** The end of a batch: the oldest confirmations go, down to CONFIRMED_MAX. */
  trimConfirmed(): void {
    for (const key of this.confirmed.keys()) {
      if (this.confirmed.size <= CONFIRMED_MAX) break;
      this.confirmed.delete(key);
    }
  }

  /** Segments whose fingerprints match `id`: confirmed to hold it, or still to be confirmed. */
  candidates(id: string): { holder?: string; unconfirmed: string[] } {
    fingerprintInto(id, scratch, 0);
    const hi = scratch[0]!;
    const lo = scratch[1]!;
    // A new id (every job of a bulk push) matches nothing: answered without an array.
    if (!this.index.has(hi, lo)) return NONE;
    const unconfirmed: string[] = [];
    for (const h of this.index.find(hi, lo)) {
      const key = this.keyOf.get(h);
      if (key === undefined) continue;
      const ids = this.confirmed.get(key) ?? this.plannedIds(key);
      if (!ids) {
        unconfirmed.push(key);
        continue;
      }
      const pos = ids.get(id);
      if (pos !== undefined && pos >= this.refs.get(key)!.skip) return { holder: key, unconfirmed: [] };
    }
    return { unconfirmed };
  }

  /** The ids of a segment this attempt plans, by position (made on first use). */
  private plannedIds(key: string): Map<string, number> | undefined {
    const p = this.planned.get(key);
    if (p === undefined || p instanceof Map) return p;
    const ids = new Map(p.map((j, i) => [j.id, i]));
    this.planned.set(key, ids);
    return ids;
  }

  /**
   * Writes `jobs` (in segment order) as one or more new segments of this commit; returns their
   * entries. `carried`: a segment merged into this seal whose jobs are the first `n` of `jobs`
   * (Backlog.mergeHeld). It is retired, and when the first new segment holds all of its jobs that
   * segment takes over its index entries (its handle) instead of their being removed and added again.
   */
  plan(kind: SegmentKind, jobs: JobRecord[], maxJobs: number, maxBytes: number, carried?: { key: string; n: number }, now = 0): SegmentRef[] {
    const out: SegmentRef[] = [];
    let start = 0;
    while (start < jobs.length) {
      let end = start;
      let size = 0;
      while (end < jobs.length && end - start < maxJobs && (end === start || size + recordLength(jobs[end]!) < maxBytes)) size += recordLength(jobs[end++]!);
      const part = jobs.slice(start, end);
      if (start === 0 && carried) {
        out.push(this.planOne(kind, part, this.carry(carried, jobs, part.length, now)));
        carried = undefined;
      } else out.push(this.planOne(kind, part));
      start = end;
    }
    if (carried) this.dropMerged(carried.key, jobs.slice(0, carried.n), now);
    return out;
  }

  /**
   * Retires a merged segment and gives back its handle (with its index entries) for the new
   * segment that holds its jobs at the front; undefined (entries removed) when that cannot be.
   */
  private carry(carried: { key: string; n: number }, jobs: readonly JobRecord[], firstN: number, now: number): { handle: number; n: number } | undefined {
    const h = this.handles.get(carried.key);
    if (h === undefined || this.unindexed.has(carried.key) || carried.n > firstN) {
      this.dropMerged(carried.key, jobs.slice(0, carried.n), now);
      return undefined;
    }
    this.handles.delete(carried.key); // retire() then leaves the handle (and its entries) alone
    this.retire(carried.key, now);
    return { handle: h, n: carried.n };
  }

  private planOne(kind: SegmentKind, jobs: JobRecord[], carried?: { handle: number; n: number }): SegmentRef {
    if (!this.stamp) throw new Error('segments planned outside a commit (begin() first)');
    const key = segmentKey(this.topic, this.stamp, this.writes.length);
    const fps = new Uint32Array(2 * jobs.length);
    for (let i = 0; i < jobs.length; i++) fingerprintInto(jobs[i]!.id, fps, i);
    const bytes = encodeSegment(this.topic, kind, jobs, fps);
    this.writes.push({ key, kind, n: jobs.length, bytes });
    this.planned.set(key, jobs);
    const base = { key, n: jobs.length, skip: 0, bytes: bytes.length, tombstones: 0 };
    let ref: SegmentRef;
    if (kind === 'ready') {
      ref = { ...base, priority: jobs[0]!.priority, first: jobs[0]!.order, last: jobs[jobs.length - 1]!.order, next: jobs[0]!.order };
    } else {
      let last = -Infinity;
      for (const j of jobs) last = Math.max(last, j.runAt);
      ref = { ...base, next: [jobs[0]!.runAt, jobs[0]!.order], last };
    }
    if (carried) {
      // The first carried.n jobs are indexed under the handle already: only the others are added.
      this.refs.set(ref.key, ref);
      this.handles.set(ref.key, carried.handle);
      this.keyOf.set(carried.handle, ref.key);
      for (let i = carried.n; i < ref.n; i++) this.index.add(fps[2 * i]!, fps[2 * i + 1]!, carried.handle);
    } else this.register(ref, fps);
    return ref;
  }
}
