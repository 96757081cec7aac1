/**
 * What one topic loop remembers of its topic's state object, so that it can tell a topic that
 * never existed (its first push creates it) from one that existed and vanished. State that existed
 * is never re-created implicitly (docs/operations.md, "When a topic's state vanishes"):
 *
 * - `seen` is the highest commit seq this broker knows queue.json held: one it read or wrote, or,
 *   for a topic it never saw, the highest seq in the topic's archive keys. Archive objects are
 *   written only after a commit, so they prove the topic existed. Payload objects prove nothing:
 *   a first push writes its large payload before the topic exists.
 * - A read that then finds no object, or an object behind `seen` (re-created by a broker that did
 *   not know the topic, or restored from an older copy), is a loss: STATE_LOST.
 * - `memory` is the last commit this broker landed while leading: an explicit reset may write it
 *   back (restore from memory) when the object is gone.
 * - Once lost, a read accepts an object again only when it is not behind `seen` (another broker
 *   reset the topic, continuing the seq, or someone restored the very last state); anything else
 *   waits for an explicit reset on this broker.
 */
import { archivePrefix, queueKey } from '../core/keys.js';
import type { QueueState } from '../core/state.js';
import { QueueError } from '../errors.js';
import type { StorageDriver } from '../storage/types.js';
import type { Clock } from '../clock.js';
import { withRetry, type RetryPolicy } from './retry.js';

export interface StateHistoryOptions {
  topic: string;
  store: StorageDriver;
  clock: Clock;
  retry: RetryPolicy;
  random: () => number;
}

/** What a loop reports about a lost topic (readiness, metrics, GET /v1/broker, the dashboard). */
export interface LostState {
  error: QueueError;
  /** When this broker found it lost (its clock). */
  since: number;
  /** The last commit this broker knows the object held. */
  seq: number;
  /** The seq of the commit it holds in memory (restorable), or null. */
  memorySeq: number | null;
}

/** How long a lost topic's loop trusts its last look before a request may read the object again. */
export const LOST_RECHECK_MS = 1000;

export class StateHistory {
  private seen: number | null = null;
  /** The highest leadership epoch seen, so a reset continues it instead of starting at 1 again. */
  private epoch = 0;
  private memory: { body: Uint8Array; seq: number } | null = null;
  private lostState: { error: QueueError; since: number; checkedAt: number } | null = null;

  constructor(private readonly o: StateHistoryOptions) {}

  get lost(): LostState | null {
    if (!this.lostState) return null;
    return { error: this.lostState.error, since: this.lostState.since, seq: this.seen ?? 0, memorySeq: this.memory?.seq ?? null };
  }

  /** The seq and epoch a fresh state written by a reset continues from. */
  get floor(): { seq: number; epoch: number } {
    return { seq: this.seen ?? 0, epoch: this.epoch };
  }

  /** The last commit this broker landed while leading, as written. */
  get remembered(): { body: Uint8Array; seq: number } | null {
    return this.memory;
  }

  /** Whether a lost topic's object may be read again now (at most once per LOST_RECHECK_MS). */
  recheckDue(now: number): boolean {
    return this.lostState !== null && now - this.lostState.checkedAt >= LOST_RECHECK_MS;
  }

  /**
   * A read found no queue.json. Returns when the topic never existed; throws STATE_LOST when this
   * broker saw it, or when archive objects show it existed (one list, only on this rare path:
   * the first load of a topic this broker never saw).
   */
  async missing(): Promise<void> {
    this.missingNow();
    const prefix = archivePrefix(this.o.topic);
    const keys = await withRetry(`list ${prefix}`, this.o.retry, this.o.clock, this.o.random, () => this.o.store.list(prefix));
    let max = -1;
    for (const key of keys) {
      const m = /\/(\d+)\.json$/.exec(key);
      if (m) max = Math.max(max, Number(m[1]));
    }
    if (max < 0) return;
    this.seen = max;
    throw this.lose(`${queueKey(this.o.topic)} is missing, but ${keys.length} archive object(s) under ${prefix} show that the topic existed (up to commit ${max})`);
  }

  /** As missing(), from what this broker saw alone (no I/O): a re-read after an ambiguous write. */
  missingNow(): void {
    if (this.seen !== null) throw this.lose(`${queueKey(this.o.topic)} vanished after commit ${this.seen}`);
  }

  /** A read parsed a state: throws STATE_LOST when it is behind what this broker saw. */
  loaded(state: QueueState): void {
    if (this.seen !== null && state.seq < this.seen) {
      throw this.lose(`${queueKey(this.o.topic)} went back from commit ${this.seen} to commit ${state.seq} (re-created, or restored from an older copy)`);
    }
    this.saw(state);
  }

  /** A commit of ours landed: it is the state to restore, should the object vanish. */
  landed(state: QueueState, body: Uint8Array): void {
    this.saw(state);
    this.memory = { body, seq: state.seq };
  }

  /** Another broker leads: our last commit is history, not the state to restore. */
  forgetMemory(): void {
    this.memory = null;
  }

  /** The loop found the object acceptable again, or an operator reset the topic. */
  recovered(): void {
    this.lostState = null;
  }

  /** An operator accepted this state as the topic's, even one behind what was seen. */
  accept(state: QueueState): void {
    this.seen = state.seq;
    this.saw(state);
    this.lostState = null;
  }

  private saw(state: QueueState): void {
    this.seen = Math.max(this.seen ?? 0, state.seq);
    this.epoch = Math.max(this.epoch, state.broker?.epoch ?? 0);
  }

  private lose(why: string): QueueError {
    const now = this.o.clock.now();
    const error = new QueueError(
      'STATE_LOST',
      `topic ${this.o.topic}: ${why}; this broker will not re-create it empty: reset the topic to serve it again (bucketq reset ${this.o.topic} --confirm; see docs/operations.md)`,
      { details: { topic: this.o.topic, object: queueKey(this.o.topic), seq: this.seen } },
    );
    this.lostState = { error, since: this.lostState?.since ?? now, checkedAt: now };
    return error;
  }
}
