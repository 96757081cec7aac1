/**
 * A topic's queue.json as a transactional object: the one conditional write bucketq makes. In the
 * spirit of slatedb's `FenceableTransactionalObject`, it knows nothing of batches, requests or
 * leadership; the topic loop (topic-committer.ts) decides what to write, this decides whether it landed.
 *
 * - load(): reads the object (with transient retries) and caches the state and its etag. No
 *   object means a new topic, unless this broker saw it before or archive objects show it existed:
 *   then STATE_LOST (state-history.ts; docs/operations.md, "When a topic's state vanishes").
 *   A state behind what this broker saw (re-created, or restored from an older copy) is lost too.
 * - write(draft): writes the draft conditionally on the cached etag (create-only when there was no
 *   object) and answers one of
 *     landed   the write is the object now; the etag is cached; the commit is remembered so that an
 *              operator can restore it should the object vanish;
 *     conflict somebody else wrote first. The cache is dropped (load again) or, after an ambiguous
 *              write that did not land, holds the state re-read to find out: re-apply on it;
 *     failed   the store failed past its retries (UNAVAILABLE, nothing landed) or the outcome stays
 *              unknown (STORE_AMBIGUOUS: the write may have landed, so it must not be re-applied).
 *   A write the store reports as ambiguous is resolved, not guessed: every commit carries a
 *   strictly increasing `seq` and its writer's id (core/apply.ts, beginCommit), so a re-read that
 *   shows our pair means ours landed; one that shows an earlier commit means it did not; one that
 *   shows a later commit by another writer leaves it unknown (ours may lie underneath).
 * - reset(): an operator's reset of a lost topic (topic-reset.ts decides; this installs it).
 *
 * Fencing: slatedb's object checks a writer epoch stored in the object. Here the epoch lives in the
 * lease inside the state (`broker.epoch`), and the check is the core op `elect`, which the loop
 * applies to every draft it does not hold (leadership.ts): a reload after a conflict shows the new
 * epoch, and the old leader's next draft is refused before it is written. This file only makes
 * sure no write lands on a state other than the one it was applied to.
 */
import { parseState, serializeState } from '../core/codec.js';
import { queueKey } from '../core/keys.js';
import { createState, type QueueState } from '../core/state.js';
import { DEFAULT_LIMITS, type BacklogLimits } from '../core/segments/manifest.js';
import { isQueueError, QueueError } from '../errors.js';
import type { StorageDriver, StoredObject } from '../storage/types.js';
import type { Clock } from '../clock.js';
import { withRetry, type RetryPolicy } from './retry.js';
import { StateHistory, type LostState } from './state-history.js';
import { planReset, type ResetPlan } from './topic-reset.js';

export interface QueueObjectOptions {
  topic: string;
  store: StorageDriver;
  clock: Clock;
  retry: RetryPolicy;
  random: () => number;
  /** This broker's id: the writer of its commits, by which an ambiguous write is recognised. */
  writer: string;
  /** Bounds of the head's window: the backlog beyond goes to segments (docs/format.md). */
  limits?: Partial<BacklogLimits>;
  /** An ambiguous write was resolved by a re-read: `landed` says whether it had (metrics). */
  onAmbiguous?(landed: boolean): void;
}

export type WriteOutcome = { kind: 'landed' } | { kind: 'conflict' } | { kind: 'failed'; error: QueueError };

const LANDED: WriteOutcome = { kind: 'landed' };
const CONFLICT: WriteOutcome = { kind: 'conflict' };
const failed = (error: QueueError): WriteOutcome => ({ kind: 'failed', error });

/**
 * The buffers commits are serialised into: two, reused. A busy topic commits hundreds of times a
 * second, tens or hundreds of KiB each; a fresh buffer per commit had V8 run a full collection
 * every ~200 commits for the external memory (every ~1,000 with reuse: bench/broker-cpu.ts with
 * --trace-gc). A commit never goes into the buffer of the last landed one, which the history keeps
 * to restore from; the write in flight is the only other user, and a store may not keep a body
 * past its write (storage/types.ts). Bodies past `MAX_REUSED` get buffers of their own, as before:
 * such commits are rare, and two idle buffers that size would be held for ever.
 */
class CommitBuffers {
  static readonly MAX_REUSED = 8 * 1024 * 1024;
  private readonly buffers: [Buffer | null, Buffer | null] = [null, null];
  /** The buffer holding the last landed body (-1: none), and the one the latest body went into. */
  private held = -1;
  private latest = -1;

  take(size: number): Buffer {
    if (size > CommitBuffers.MAX_REUSED) {
      this.latest = -1;
      return Buffer.allocUnsafeSlow(size);
    }
    const i = this.held === 0 ? 1 : 0;
    let b = this.buffers[i];
    // Grown with room to spare; shrunk when a topic's state became much smaller.
    if (!b || b.length < size || b.length > 4 * size + 65536) b = this.buffers[i] = Buffer.allocUnsafeSlow(Math.min(CommitBuffers.MAX_REUSED, Math.ceil(size * 1.25)));
    this.latest = i;
    return b.subarray(0, size);
  }

  /** The latest body landed: its buffer is kept until another lands. */
  landed(): void {
    this.held = this.latest;
  }
}

export class QueueObject {
  private cached: QueueState | null = null;
  private readonly buffers = new CommitBuffers();
  /** The etag of the cached state as stored; null: no object (the next write creates it). */
  private etag: string | null = null;
  /** Pending jobs in the object as last read or written (-1: not known, e.g. after an ambiguous write). */
  private storedPending = -1;
  private readonly key: string;
  /** What this broker saw of the object: tells "never existed" from "vanished". */
  private readonly history: StateHistory;

  constructor(private readonly o: QueueObjectOptions) {
    this.key = queueKey(o.topic);
    this.history = new StateHistory({ topic: o.topic, store: o.store, clock: o.clock, retry: o.retry, random: o.random });
  }

  /**
   * The state last read or written, or null when it must be read again. The loop applies a batch
   * to it in place (it is the draft while a batch runs) and writes it with write().
   */
  get state(): QueueState | null {
    return this.cached;
  }

  /**
   * Pending jobs in queue.json as this broker last read or wrote it, -1 when not known. While a
   * batch runs, `state` is its draft: a claim of the last jobs shows none pending there before
   * the write lands, or fails (TopicLoop#parkNow).
   */
  get pendingAsStored(): number {
    return this.storedPending;
  }

  /** Why the topic is lost, since when, what could be restored (set once a read found it lost). */
  get lost(): LostState | null {
    return this.history.lost;
  }

  /** Whether a lost topic's object may be read again now (at most once a second). */
  lostRecheckDue(now: number): boolean {
    return this.history.recheckDue(now);
  }

  /** Reads the object and caches it; STATE_LOST when it vanished or went back, CORRUPT_STATE when unreadable. */
  async load(): Promise<QueueState> {
    const obj = await this.read();
    if (!obj) await this.history.missing(); // STATE_LOST when the topic existed
    return this.adopt(obj);
  }

  /** `draft` as queue.json bytes, for write(): valid until the next call (the buffer is reused). */
  serialize(draft: QueueState): Buffer {
    return serializeState(draft, (size) => this.buffers.take(size));
  }

  /**
   * Writes `draft` (the cached state, stamped and changed by a batch) as `body`, conditionally on
   * the etag it was read with. See the header for the outcomes.
   */
  async write(draft: QueueState, body: Uint8Array): Promise<WriteOutcome> {
    const cond = this.etag === null ? ({ ifNoneMatch: '*' } as const) : { ifMatch: this.etag };
    try {
      const { etag } = await withRetry(`write ${this.key}`, this.o.retry, this.o.clock, this.o.random, () => this.o.store.write(this.key, body, cond));
      this.etag = etag;
      this.storedPending = draft.idx.counts.pending;
      this.history.landed(draft, body);
      this.buffers.landed();
      return LANDED;
    } catch (err) {
      if (isQueueError(err, 'STORE_AMBIGUOUS')) return this.resolveAmbiguous(draft, body);
      this.cached = null;
      return isQueueError(err, 'STORE_CONFLICT') ? CONFLICT : failed(asQueueError(err));
    }
  }

  /** Forgets the cached state: the next batch reads the object again. */
  drop(): void {
    this.cached = null;
  }

  /** The topic is lost: forget the state and its etag (nothing is written until a reset). */
  forget(): void {
    this.cached = null;
    this.etag = null;
  }

  /** A read found the object acceptable again (another broker reset the topic). */
  recovered(): void {
    this.history.recovered();
  }

  /** Another broker leads: our last commit is history, not the state to restore. */
  forgetMemory(): void {
    this.history.forgetMemory();
  }

  /**
   * An operator's reset (topic-reset.ts): installs the state to serve, either an object found in
   * place (adopted, its etag cached) or one the next write creates. `loop.lost` says whether the
   * loop serves the topic as lost already; `loop.lose` is called when the look finds it lost only now.
   */
  async reset(fromMemory: boolean, loop: { lost: boolean; lose(err: QueueError): void }): Promise<ResetPlan> {
    const context = { topic: this.o.topic, history: this.history, lost: loop.lost, read: () => this.read(), parse: (body: Uint8Array) => this.parse(body), fresh: () => this.fresh(), lose: loop.lose };
    const plan = await planReset(context, fromMemory);
    this.history.recovered();
    this.cached = plan.state;
    this.etag = plan.etag;
    this.storedPending = -1; // known again once a commit lands
    return plan;
  }

  // ---------------------------------------------------------------------------------------------

  private read(): Promise<StoredObject | null> {
    return withRetry(`read ${this.key}`, this.o.retry, this.o.clock, this.o.random, () => this.o.store.read(this.key));
  }

  /** Takes a read of queue.json as the state; none means a new topic, unless it existed (STATE_LOST). */
  private adopt(obj: StoredObject | null): QueueState {
    if (!obj) {
      this.history.missingNow();
      this.cached = this.fresh();
      this.etag = null;
      this.storedPending = 0;
      return this.cached;
    }
    const state = this.parse(obj.body);
    this.history.loaded(state);
    this.cached = state;
    this.etag = obj.etag;
    this.storedPending = state.idx.counts.pending;
    return state;
  }

  private fresh(): QueueState {
    return createState(this.o.topic, this.o.limits ?? DEFAULT_LIMITS);
  }

  private parse(body: Uint8Array): QueueState {
    const state = parseState(Buffer.from(body).toString('utf8'), this.key, this.o.clock.now(), this.o.limits ?? DEFAULT_LIMITS);
    if (state.topic !== this.o.topic) {
      throw new QueueError('CORRUPT_STATE', `${this.key} names topic ${JSON.stringify(state.topic)}; refusing to use or overwrite it`, { details: { object: this.key } });
    }
    return state;
  }

  /**
   * A write that may have landed. The commit carries our writer id and its seq, so a re-read tells:
   * the same pair means ours landed (and nobody wrote since); anything else means re-apply on what
   * is there now.
   */
  private async resolveAmbiguous(draft: QueueState, body: Uint8Array): Promise<WriteOutcome> {
    let obj;
    try {
      obj = await this.read();
    } catch (err) {
      // Still unknown: the write may have landed, so the batch must not be reported as not done.
      this.cached = null;
      this.storedPending = -1;
      return failed(new QueueError('STORE_AMBIGUOUS', `topic ${this.o.topic}: a commit may or may not have landed (${asQueueError(err).message})`, { cause: err }));
    }
    if (obj) {
      const head = peekCommit(Buffer.from(obj.body).toString('utf8'));
      if (head && head.seq === draft.seq && head.writer === this.o.writer) {
        this.etag = obj.etag;
        this.storedPending = draft.idx.counts.pending;
        this.history.landed(draft, body);
        this.buffers.landed();
        this.o.onAmbiguous?.(true);
        return LANDED;
      }
      if (head && head.seq > draft.seq) {
        // Another writer committed on top of some state after ours was sent: ours may be buried
        // underneath. Re-applying could apply the batch twice; answering "not done" could lose it.
        this.cached = null;
        this.storedPending = -1;
        return failed(new QueueError('STORE_AMBIGUOUS', `topic ${this.o.topic}: a commit may or may not have landed before broker ${head.writer} wrote`));
      }
    }
    this.o.onAmbiguous?.(false);
    try {
      this.adopt(obj);
    } catch (err) {
      this.cached = null;
      return failed(asQueueError(err));
    }
    return CONFLICT;
  }
}

/** A QueueError as it is; anything else a storage failure (UNAVAILABLE). */
export function asQueueError(err: unknown): QueueError {
  if (isQueueError(err)) return err;
  return new QueueError('UNAVAILABLE', `storage failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/** Reads seq and writer from the head of queue.json without parsing the whole (possibly large) file. */
function peekCommit(text: string): { seq: number; writer: string } | null {
  const seq = /"seq":(\d+)/.exec(text.slice(0, 512));
  const writer = /"writer":"((?:[^"\\]|\\.)*)"/.exec(text.slice(0, 1024));
  return seq && writer ? { seq: Number(seq[1]), writer: JSON.parse(`"${writer[1]}"`) as string } : null;
}
