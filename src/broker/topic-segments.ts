/**
 * The segment objects of one topic, as its loop sees them (docs/format.md, sections 3 to 5): the
 * create-only writes a commit makes before its head, the reads ahead of need (off the commit path,
 * into a small cache the next batch refills from), the confirmations of id lookups and the gets of
 * jobs in segments (before apply), the id index after a load, and garbage collection.
 *
 * It never decides queue order (core/segments does) and never writes the head (queue-object.ts).
 */
import { segmentLookups } from '../core/segments/lookups.js';
import {
  decodeRecord,
  decodeSegment,
  decodeSegmentFingerprints,
  decodeSegmentMeta,
  decodeSegmentRecord,
  fingerprintPrefix,
  recordSpan,
  segmentHeaderBytes,
  segmentHeaderGuess,
  type DecodedSegment,
  type SegmentMeta,
} from '../core/segments/segment-codec.js';
import type { JobRecord } from '../core/types.js';
import { shapeRecord } from '../core/job-json.js';
import type { PlannedWrite } from '../core/segments/segment-registry.js';
import { isOrphan, segmentPrefix } from '../core/segments/segment-keys.js';
import type { BatchRequest } from '../core/batch.js';
import type { QueueState } from '../core/state.js';
import { isQueueError, QueueError } from '../errors.js';
import type { StorageDriver } from '../storage/types.js';
import type { Clock } from '../clock.js';
import { withRetry, type RetryPolicy } from './retry.js';

export interface TopicSegmentsOptions {
  topic: string;
  store: StorageDriver;
  clock: Clock;
  retry: RetryPolicy;
  random: () => number;
  /** A read ahead landed in the cache: the loop should run a batch (refill) even with no request. */
  onReadAhead(): void;
  onError(op: string, error: unknown): void;
  /** A segment the head names was found missing or undecodable (once per segment, until a read of it succeeds). */
  onLost(key: string, error: QueueError): void;
  /** How often the leader lists the topic's segments for orphans (default ORPHAN_LISTING_MS; process tests shorten it). */
  orphanListingMs?: number;
}

/** A segment the head names that the store lacks or that does not decode: an incident (docs/format.md, "A missing segment"). */
export interface SegmentLoss {
  key: string;
  error: QueueError;
  /** When this broker found it (its clock). */
  since: number;
}

/** Decoded segments kept at most (each ≤ segmentMaxBytes; the ones refill and compaction need). */
const CACHE_MAX = 16;
/** Decoded segments kept for pages of jobs (the dashboard's next page is most often in the same ones). */
const PAGE_CACHE_MAX = 4;
/** How often the leader lists its topic's segments for orphans (and once after it takes over), by default. */
export const ORPHAN_LISTING_MS = 10 * 60_000;
/** Segment reads in flight at most while building the id index. */
const INDEX_PARALLEL = 16;

export class TopicSegments {
  private readonly cache = new Map<string, DecodedSegment>();
  /** Segments read for pages of jobs (readForPage), least recently used first; apart from `cache`, so paging never takes a refill's room. */
  private readonly pages = new Map<string, DecodedSegment>();
  private readonly reading = new Set<string>();
  private readonly deleting = new Set<string>();
  private readonly deleted = new Set<string>();
  /** Orphans seen at a listing, since when: deleted when a listing 2 × the lease later still finds them. */
  private readonly suspects = new Map<string, number>();
  private lastListing = -Infinity;
  private listing = false;
  /** The id index being built for a loaded state (one build per state object). */
  private indexing: { state: QueueState; done: Promise<void> } | null = null;
  /** Keys whose read failed lately: retried on a later read-ahead, not in a tight loop. */
  private readonly failedAt = new Map<string, number>();
  /** Named segments found missing or undecodable, until a read of them succeeds or the head stops naming them. */
  private readonly lostKeys = new Map<string, SegmentLoss>();
  /** The timer of scheduleReadAhead(). */
  private cancelReadTimer: (() => void) | null = null;

  constructor(private readonly o: TopicSegmentsOptions) {}

  /** The cache as the pure core's SegmentSource. */
  readonly source = (key: string): DecodedSegment | undefined => this.cache.get(key);

  /** Decoded segments a page of jobs may list from: the read-ahead cache and the page cache (core/ops/segment-pages.ts). */
  readonly pageSource = (key: string): DecodedSegment | undefined => {
    const hit = this.pages.get(key);
    if (hit) {
      this.pages.delete(key); // most recently used last
      this.pages.set(key, hit);
    }
    return hit ?? this.cache.get(key);
  };

  /**
   * Reads segments a page of jobs goes on into (listJobs' `wants`, at most two a request) into the
   * page cache. Off the commit loop, like every read: the state is neither read nor changed here,
   * and a missing or corrupt segment is reported as for any read (docs/format.md, "A missing segment").
   */
  async readForPage(keys: readonly string[]): Promise<void> {
    await Promise.all(
      keys.map(async (key) => {
        if (this.pages.has(key) || this.cache.has(key)) return;
        const seg = await this.watched(key, async () => decodeSegment(await this.read(key), key));
        this.pages.set(key, seg);
        for (const old of this.pages.keys()) {
          if (this.pages.size <= PAGE_CACHE_MAX) break;
          this.pages.delete(old);
        }
      }),
    );
  }

  /** 8 hex digits for one commit attempt: segment names never repeat across attempts. */
  nonce(): string {
    return Math.floor(this.o.random() * 0x1_0000_0000)
      .toString(16)
      .padStart(8, '0');
  }

  /**
   * Writes the segments a commit planned, create-only and in parallel, before its head. An
   * ambiguous write is written again under the same name: a conflict then means the first landed
   * (nobody else ever writes that name). Anything else failing fails the batch (UNAVAILABLE); what
   * landed are orphans that no head names.
   */
  async write(writes: readonly PlannedWrite[]): Promise<void> {
    await Promise.all(writes.map((w) => this.writeOne(w)));
  }

  private async writeOne(w: PlannedWrite): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await withRetry(`write ${w.key}`, this.o.retry, this.o.clock, this.o.random, () => this.o.store.write(w.key, w.bytes, { ifNoneMatch: '*' }));
        return;
      } catch (err) {
        if (attempt > 0 && isQueueError(err, 'STORE_CONFLICT')) return; // our earlier, ambiguous try landed
        if (isQueueError(err, 'STORE_AMBIGUOUS') && attempt < 2) continue;
        throw new QueueError('UNAVAILABLE', `topic ${this.o.topic}: segment ${w.key} could not be written (${(err as Error).message}); nothing was committed`, { cause: err });
      }
    }
  }

  /** The oldest named segment found missing or undecodable and not read since, or null (readiness, GET /v1/broker). */
  get loss(): SegmentLoss | null {
    for (const l of this.lostKeys.values()) return l;
    return null;
  }

  /** Whether `err` is the loss of a segment already reported (onLost). */
  private isLost(err: unknown): boolean {
    const key = isQueueError(err, 'CORRUPT_STATE') ? err.details?.object : undefined;
    return typeof key === 'string' && this.lostKeys.has(key);
  }

  /** A segment the head names, whole, or bytes [start, end) of it (the store must read ranges). Missing: CORRUPT_STATE. */
  private read(key: string, range?: readonly [number, number]): Promise<Uint8Array> {
    const store = this.o.store;
    return withRetry(`read ${key}`, this.o.retry, this.o.clock, this.o.random, async () => {
      const body = range ? await store.readRange!(key, range[0], range[1]) : (await store.read(key))?.body;
      if (!body) throw new QueueError('CORRUPT_STATE', `topic ${this.o.topic}: segment ${key} named by the head is missing from the store; its jobs are not served until it is restored (bucketq doctor --topic ${this.o.topic})`, { details: { object: key } });
      return body;
    });
  }

  /**
   * Reads and decodes of segment `key` through `f`. Missing, or not decoding (CORRUPT_STATE): the
   * segment is reported lost (once) until a read of it succeeds; its jobs are neither skipped nor
   * made up meanwhile (docs/format.md, "A missing segment").
   */
  private async watched<T>(key: string, f: () => Promise<T>): Promise<T> {
    try {
      const out = await f();
      this.lostKeys.delete(key);
      return out;
    } catch (err) {
      if (isQueueError(err, 'CORRUPT_STATE') && !this.lostKeys.has(key)) {
        this.lostKeys.set(key, { key, error: err, since: this.o.clock.now() });
        this.o.onLost(key, err);
      }
      throw err;
    }
  }

  /**
   * A segment's header (ids, record ends and CRCs): from the cache when the segment is decoded
   * there, else with ranged reads where the store has them (one read of a guessed prefix, a second
   * for the rest when the header is longer), else from the whole object. `n` (from the manifest)
   * sizes the guess. Every section read is checked by the codec; a damaged one is CORRUPT_STATE.
   */
  private async header(key: string, n: number | undefined): Promise<{ meta: SegmentMeta; whole?: Uint8Array; jobs?: JobRecord[] }> {
    const cached = this.cache.get(key);
    if (cached) return cached;
    return this.watched(key, async () => {
      if (!this.o.store.readRange) {
        const whole = await this.read(key);
        return { meta: decodeSegmentMeta(whole, key), whole };
      }
      let head = await this.read(key, [0, segmentHeaderGuess(n ?? 0)]);
      const need = segmentHeaderBytes(head, key);
      if (head.length < need) head = Buffer.concat([head, await this.read(key, [head.length, need])]);
      return { meta: decodeSegmentMeta(head, key) };
    });
  }

  /** Job `id`'s record in segment `key` (undefined when it is not there): its header, then its bytes alone. */
  private async record(key: string, id: string, header: Promise<{ meta: SegmentMeta; whole?: Uint8Array; jobs?: JobRecord[] }>): Promise<JobRecord | undefined> {
    const { meta, whole, jobs } = await header;
    const i = meta.ids.indexOf(id);
    if (i < 0) return undefined;
    if (jobs) return shapeRecord(structuredClone(jobs[i])!); // the cache's record stays as refill will find it
    if (whole) return this.watched(key, async () => decodeSegmentRecord(whole, id, key));
    return this.watched(key, async () => decodeRecord(meta, i, await this.read(key, recordSpan(meta, i)), key));
  }

  /**
   * Before a batch is applied: the id index complete (after a load, every segment's fingerprints),
   * fingerprint hits confirmed against the segments' ids, and the records of jobs a get finds in a
   * segment. Returns the requests, gets and cancels completed with their record. Each segment's
   * header is read at most once per call; a get reads its job's record alone.
   */
  async prepare<R extends BatchRequest>(s: QueueState, requests: readonly R[]): Promise<readonly R[]> {
    let look = segmentLookups(s, requests);
    if (look.unindexed) {
      await this.index(s);
      look = segmentLookups(s, requests);
    }
    const headers = new Map<string, ReturnType<TopicSegments['header']>>();
    const header = (key: string): ReturnType<TopicSegments['header']> => {
      let h = headers.get(key);
      if (!h) headers.set(key, (h = this.header(key, s.backlog.reg.refs.get(key)?.n)));
      return h;
    };
    await Promise.all(look.confirm.map(async (key) => s.backlog.provideIds(key, (await header(key)).meta.ids)));
    if (look.confirm.length > 0) look = segmentLookups(s, requests);
    if (look.records.size === 0) return requests;
    const records = new Map<string, unknown>();
    await Promise.all([...look.records].map(async ([id, key]) => records.set(id, await this.record(key, id, header(key)))));
    return requests.map((r) => {
      const id = (r.input as { id?: string }).id;
      return (r.op === 'get' || r.op === 'cancel') && id !== undefined && records.has(id) ? ({ ...r, input: { ...r.input, record: records.get(id) } } as R) : r;
    });
  }

  /** Whether a read-only request needs segment reads (prepare) before it can be answered. */
  wantsBatch(s: QueueState, op: string, input: unknown): boolean {
    if (op !== 'get' || s.backlog.reg.refs.size === 0) return false;
    const look = segmentLookups(s, [{ op: 'get', input: input as { id: string } }]);
    return look.unindexed || look.confirm.length > 0 || look.records.size > 0;
  }

  /**
   * The id index of a loaded state, complete: started after the load's first commit (readAhead),
   * awaited by the first lookup that needs it. A failed build is started again by the next caller.
   */
  index(s: QueueState): Promise<void> {
    if (this.indexing?.state !== s) {
      const done = this.buildIndex(s);
      this.indexing = { state: s, done };
      done.catch(() => {
        if (this.indexing?.done === done) this.indexing = null;
      });
    }
    return this.indexing.done;
  }

  /** Reads the fingerprint section of every segment a loaded head names (docs/format.md, section 5). */
  private async buildIndex(s: QueueState): Promise<void> {
    const keys = s.backlog.unindexed();
    for (let i = 0; i < keys.length; i += INDEX_PARALLEL) {
      await Promise.all(
        keys.slice(i, i + INDEX_PARALLEL).map(async (key) => {
          const n = s.backlog.reg.refs.get(key)?.n;
          if (n === undefined) return; // left the manifest meanwhile
          s.backlog.provideFingerprints(
            key,
            await this.watched(key, async () => decodeSegmentFingerprints(this.o.store.readRange ? await this.read(key, [0, fingerprintPrefix(n)]) : await this.read(key), key).fps),
          );
        }),
      );
    }
  }

  /**
   * After a landed commit (or a load): reads, off the commit path, the segments refill and
   * compaction want next; a read that lands asks the loop for a batch. Cache entries the backlog
   * no longer names are dropped.
   */
  readAhead(s: QueueState, now: number): void {
    const b = s.backlog;
    for (const key of this.cache.keys()) if (!b.reg.refs.has(key)) this.cache.delete(key);
    for (const key of this.pages.keys()) if (!b.reg.refs.has(key)) this.pages.delete(key);
    for (const key of this.lostKeys.keys()) if (!b.reg.refs.has(key)) this.lostKeys.delete(key);
    if (b.reg.refs.size === 0) return;
    if (b.reg.unindexed.size > 0) this.index(s).catch((err: unknown) => this.isLost(err) || this.o.onError('build the id index', err));
    const want = [...new Set([...b.needs(now), ...b.compactionPlan()])];
    for (const key of want) {
      if (this.cache.has(key) || this.reading.has(key) || this.cache.size + this.reading.size >= CACHE_MAX) continue;
      if ((this.failedAt.get(key) ?? -Infinity) + 1000 > now) continue;
      this.reading.add(key);
      this.watched(key, async () => decodeSegment(await this.read(key), key)).then(
        (segment) => {
          this.reading.delete(key);
          this.failedAt.delete(key);
          this.cache.set(key, segment);
          this.o.onReadAhead();
        },
        (err: unknown) => {
          this.reading.delete(key);
          this.failedAt.set(key, this.o.clock.now());
          if (!this.isLost(err)) this.o.onError(`read segment ${key}`, err); // a loss was reported once (onLost)
        },
      );
    }
  }

  /**
   * Reads the next delayed segment ahead of its due time even when nothing else runs on the topic:
   * at `next.runAt - delayedLookaheadMs` the loop gets a batch (onReadAhead), after which
   * readAhead() finds the segment among what `needs` asks for. A later call replaces the timer.
   */
  scheduleReadAhead(s: QueueState, now: number): void {
    this.cancelTimers();
    const due = s.backlog.delayedSegmentDueAt();
    if (due === undefined) return;
    const at = due - s.backlog.limits.delayedLookaheadMs;
    if (at <= now) return; // asked for by needs() already: readAhead() after the batch reads it
    this.cancelReadTimer = this.o.clock.setTimer(at - now, () => {
      this.cancelReadTimer = null;
      this.o.onReadAhead();
    });
  }

  cancelTimers(): void {
    this.cancelReadTimer?.();
    this.cancelReadTimer = null;
  }

  /**
   * Lists the topic's segments now and then (docs/format.md, section 4, "Orphans"): a key that no
   * landed head names and no commit can name any more (segment-keys.ts, isOrphan) is deleted when a
   * listing at least 2 × the lease later still finds it an orphan. `current` is the state to judge
   * by when the listing returns (the committed state, or the draft of the attempt in flight: its
   * planned keys are named by it).
   */
  collectOrphans(current: () => QueueState | null, now: number, graceMs: number): void {
    if (this.listing || now - this.lastListing < (this.o.orphanListingMs ?? ORPHAN_LISTING_MS)) return;
    this.listing = true;
    this.lastListing = now;
    this.o.store.list(segmentPrefix(this.o.topic)).then(
      (keys) => {
        this.listing = false;
        const s = current();
        if (!s?.broker) return;
        const m = s.backlog.manifest();
        const referenced = new Set([...m.ready.map((r) => r.key), ...m.delayed.map((d) => d.key), ...m.garbage.map((g) => g.key)]);
        const ctx = { referenced, inFlight: new Set<string>(), epoch: s.broker.epoch, landedSeq: s.seq };
        const at = this.o.clock.now();
        const orphans = new Set(keys.filter((k) => isOrphan(k, ctx)));
        for (const k of this.suspects.keys()) if (!orphans.has(k)) this.suspects.delete(k);
        for (const k of orphans) {
          const since = this.suspects.get(k);
          if (since === undefined) this.suspects.set(k, at);
          else if (at - since >= graceMs) {
            this.suspects.delete(k);
            this.o.store.delete(k).catch((err: unknown) => this.o.onError(`delete orphan segment ${k}`, err));
          }
        }
      },
      (err: unknown) => {
        this.listing = false;
        this.o.onError('list segments', err);
      },
    );
  }

  /**
   * Deletes retired segments whose grace has passed (2 × the lease: no reader of an older head is
   * left), and drops them from the draft's garbage list (carried by the next commit that writes).
   */
  collectGarbage(s: QueueState, now: number, graceMs: number): void {
    s.backlog.dropGarbage([...this.deleted]);
    this.deleted.clear();
    for (const key of s.backlog.garbageDue(now, graceMs)) {
      if (this.deleting.has(key)) continue;
      this.deleting.add(key);
      this.o.store.delete(key).then(
        () => {
          this.deleting.delete(key);
          this.deleted.add(key);
        },
        (err: unknown) => {
          this.deleting.delete(key);
          this.o.onError(`delete segment ${key}`, err);
        },
      );
    }
  }
}
