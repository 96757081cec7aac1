/**
 * A tiny "broker" around the pure backlog for tests: a store of segment objects, commits (seal,
 * write the planned segments, keep the head as text), crashes (the head falls back to the last
 * commit, written segments stay as orphans), reloads (parse the head, index from the stored
 * fingerprints, on demand) and the reads the backlog asks for. Beside it, a reference queue: an
 * array ordered by priority desc then order, with delays, cancels, retries.
 */
import { Backlog, type OrderSource, type SegmentSource } from '../../../src/core/segments/backlog.js';
import { loadBacklog } from '../../../src/core/segments/backlog-load.js';
import { checkManifest, type BacklogLimits } from '../../../src/core/segments/manifest.js';
import { storeManifest } from '../../../src/core/segments/manifest-stored.js';
import { decodeSegment, decodeSegmentFingerprints, decodeSegmentMeta, type DecodedSegment } from '../../../src/core/segments/segment-codec.js';
import { jobJson } from '../../../src/core/job-json.js';
import type { JobRecord } from '../../../src/core/types.js';

export const SMALL: Partial<BacklogLimits> = {
  windowJobs: 6,
  lowWater: 3,
  tailSealJobs: 4,
  tailTotalJobs: 10,
  segmentMaxJobs: 5,
  delayedHeadMax: 4,
  delayedLookaheadMs: 1000,
  tombstoneMax: 4,
};

export interface RefJob {
  id: string;
  priority: number;
  order: number;
  runAt: number;
  state: 'pending' | 'delayed' | 'claimed';
}

/** The reference: what the order must be, computed the simple way. */
export class RefQueue {
  jobs = new Map<string, RefJob>();
  nextOrder = 1;

  push(id: string, priority: number, runAt: number, now: number): RefJob {
    const j: RefJob = { id, priority, order: this.nextOrder++, runAt, state: runAt > now ? 'delayed' : 'pending' };
    this.jobs.set(id, j);
    return j;
  }

  promote(now: number): void {
    const due = [...this.jobs.values()].filter((j) => j.state === 'delayed' && j.runAt <= now).sort((a, b) => a.runAt - b.runAt || a.order - b.order);
    for (const j of due) {
      j.state = 'pending';
      j.order = this.nextOrder++;
    }
  }

  /** Pending jobs in claim order. */
  pending(): RefJob[] {
    return [...this.jobs.values()].filter((j) => j.state === 'pending').sort((a, b) => b.priority - a.priority || a.order - b.order);
  }

  count(state: RefJob['state']): number {
    let n = 0;
    for (const j of this.jobs.values()) if (j.state === state) n++;
    return n;
  }

  requeue(id: string, runAt: number, now: number): void {
    const j = this.jobs.get(id)!;
    j.order = this.nextOrder++;
    j.runAt = runAt;
    j.state = runAt > now ? 'delayed' : 'pending';
  }

  clone(): RefQueue {
    const r = new RefQueue();
    r.nextOrder = this.nextOrder;
    for (const j of this.jobs.values()) r.jobs.set(j.id, { ...j });
    return r;
  }
}

export function newJob(id: string, priority: number, order: number, runAt: number, now: number): JobRecord {
  return { id, state: 'pending', payload: { id, pad: 'x'.repeat(id.length % 7) }, priority, order, runAt, attempts: 0, maxAttempts: 3, createdAt: now, updatedAt: now };
}

export class BacklogHarness {
  now = 1_700_000_000_000;
  store = new Map<string, Buffer>();
  orders: OrderSource = { nextOrder: 1 };
  b: Backlog;
  epoch = 1;
  seq = 1;
  /** The last committed head, as text. */
  committed: string;
  private attempt = 0;

  constructor(readonly limits: Partial<BacklogLimits> = SMALL) {
    this.b = new Backlog('t', this.orders, limits);
    this.begin();
    this.committed = this.headText();
  }

  begin(): void {
    this.b.begin({ epoch: this.epoch, seq: this.seq, nonce: (this.attempt++ >>> 0).toString(16).padStart(8, '0') });
  }

  headText(): string {
    return JSON.stringify({ nextOrder: this.orders.nextOrder, backlog: storeManifest(this.b.manifest()), jobs: [...this.b.headJobs()].map((j) => JSON.parse(jobJson(j)) as JobRecord) });
  }

  /** Seals, writes the planned segments, then "the head": the commit landed. */
  commit(): void {
    this.b.seal(this.now);
    for (const w of this.b.plannedWrites) {
      if (this.store.has(w.key)) throw new Error(`segment ${w.key} written twice`);
      this.store.set(w.key, w.bytes);
    }
    this.committed = this.headText();
    this.seq++;
    this.begin();
  }

  /** The segments were written, the head write never landed (conflict, fence, kill): back to the last commit. */
  crash(writeSegments: boolean): string[] {
    this.b.seal(this.now);
    const orphans = this.b.plannedWrites.map((w) => w.key);
    if (writeSegments) for (const w of this.b.plannedWrites) this.store.set(w.key, w.bytes);
    this.reload();
    return writeSegments ? orphans : [];
  }

  /** A new backlog from the committed head; the id index is built on demand (lookups ask). */
  reload(): void {
    const raw = JSON.parse(this.committed) as { nextOrder: number; backlog: unknown; jobs: JobRecord[] };
    this.orders = { nextOrder: raw.nextOrder };
    this.b = loadBacklog('t', this.orders, checkManifest(raw.backlog, 'queue.json', 't'), raw.jobs, 'queue.json', this.limits);
    this.begin();
  }

  /** A stored segment, or one this attempt plans (the backlog may name it before the commit). */
  decoded(key: string): DecodedSegment {
    const bytes = this.store.get(key) ?? this.b.plannedWrites.find((w) => w.key === key)?.bytes;
    if (!bytes) throw new Error(`segment ${key} is not in the store`);
    return decodeSegment(bytes, key);
  }

  /** Reads what `keys` the test lets through (all by default). */
  source(allow: (key: string) => boolean = () => true): SegmentSource {
    return (key) => (allow(key) ? this.decoded(key) : undefined);
  }

  /** Reads whatever the backlog needs ahead and refills. */
  refill(allow?: (key: string) => boolean): number {
    return this.b.refill(this.source(allow), this.now);
  }

  /** Answers a lookup's needs (fingerprints, ids) until it has an answer. */
  locate(id: string) {
    for (;;) {
      const loc = this.b.locate(id);
      if (loc?.at === 'unindexed') for (const k of loc.keys) this.b.provideFingerprints(k, decodeSegmentFingerprints(this.store.get(k)!, k).fps);
      else if (loc?.at === 'unconfirmed') for (const k of loc.keys) this.b.provideIds(k, decodeSegmentMeta(this.store.get(k)!, k).ids);
      else return loc;
    }
  }

  cancel(id: string) {
    this.locate(id);
    return this.b.cancel(id);
  }

  /** Loads delayed segments due by `now` (the read-ahead the lookahead allows), until nothing moves. */
  loadDue(): void {
    while (this.b.delayedSegs.some((d) => d.next[0] <= this.now) && this.b.refill(this.source((k) => this.b.delayedSegs.some((d) => d.key === k)), this.now) > 0);
  }

  /** Takes up to `max` ready jobs, as a claim does after its sweep. */
  claim(max: number): { jobs: JobRecord[]; blocked?: string } {
    this.b.promoteDue(this.now);
    const jobs: JobRecord[] = [];
    while (jobs.length < max) {
      const t = this.b.takeNext();
      if (!t) break;
      if ('blocked' in t) return { jobs, blocked: t.blocked };
      t.job.state = 'claimed';
      jobs.push(t.job);
    }
    return { jobs };
  }
}

/** Adds `n` new jobs (ids `<prefix><order>`), as pushes do; returns their ids. */
export function push(h: BacklogHarness, n: number, priority = 0, delayMs = 0, prefix = 'j'): string[] {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${prefix}${h.orders.nextOrder}`;
    h.b.add(newJob(id, priority, h.orders.nextOrder++, h.now + delayMs, h.now), h.now);
    ids.push(id);
  }
  return ids;
}

/** Claims everything, reading whatever the backlog asks for. */
export function drain(h: BacklogHarness): string[] {
  const out: string[] = [];
  for (;;) {
    const got = h.claim(100);
    out.push(...got.jobs.map((j) => j.id));
    if (!got.blocked) return out;
    h.refill();
  }
}

