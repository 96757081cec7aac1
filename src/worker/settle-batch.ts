/**
 * Acks and nacks that a worker's handlers finish in the same turn of the event loop leave as one
 * `ackMany` and one `nackMany` call instead of one call per job (turn-batcher.ts). Over the
 * network that is one request for a whole claim's worth of fast jobs (the broker's per-request
 * cost, not the commit, bounds a busy worker); embedded it changes nothing but the number of
 * promises.
 *
 * Each caller still gets its own outcome: an item's error rejects only that item's promise, a
 * failure of the whole call rejects every item of it (and the worker retries each as before).
 * (The network client splits a settle request the broker finds too large, so a refusal that
 * reaches an item here is that item's own.)
 */
import { TurnBatcher } from '../turn-batcher.js';
import type { AckItem, NackItem, NackResult, Queue } from '../api.js';

export class SettleBatcher<T> {
  private readonly acks: TurnBatcher<AckItem, { id: string }>;
  private readonly nacks: TurnBatcher<NackItem, NackResult>;

  constructor(queue: Queue<T>) {
    this.acks = new TurnBatcher((items) => queue.ackMany(items));
    this.nacks = new TurnBatcher((items) => queue.nackMany(items));
  }

  ack(item: AckItem): Promise<{ id: string }> {
    return this.acks.add(item);
  }

  nack(item: NackItem): Promise<NackResult> {
    return this.nacks.add(item);
  }
}
