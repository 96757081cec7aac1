/**
 * Acks and nacks that a worker's handlers finish in the same turn of the event loop leave as one
 * `ackMany` and one `nackMany` call instead of one call per job. Over the network that is one
 * request for a whole claim's worth of fast jobs (the broker's per-request cost, not the commit,
 * bounds a busy worker); embedded it changes nothing but the number of promises.
 *
 * Each caller still gets its own outcome: an item's error rejects only that item's promise, a
 * failure of the whole call rejects every item of it (and the worker retries each as before).
 * (The network client splits a settle request the broker finds too large, so a refusal that
 * reaches an item here is that item's own.)
 */
import { toQueueError, type QueueError } from '../errors.js';
import type { AckItem, ItemOutcome, NackItem, NackResult, Queue } from '../api.js';

interface Pending<I, V> {
  item: I;
  resolve(value: V): void;
  reject(error: QueueError): void;
}

export class SettleBatcher<T> {
  private acks: Array<Pending<AckItem, { id: string }>> = [];
  private nacks: Array<Pending<NackItem, NackResult>> = [];
  private scheduled = false;

  constructor(private readonly queue: Queue<T>) {}

  ack(item: AckItem): Promise<{ id: string }> {
    return new Promise((resolve, reject) => {
      this.acks.push({ item, resolve, reject });
      this.schedule();
    });
  }

  nack(item: NackItem): Promise<NackResult> {
    return new Promise((resolve, reject) => {
      this.nacks.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not a microtask: handlers of one claim resolve across several microtask
    // rounds (each awaits its own promise chain), and all of them should share the call.
    setImmediate(() => {
      this.scheduled = false;
      const acks = this.acks.splice(0);
      const nacks = this.nacks.splice(0);
      if (acks.length > 0) void deliver(acks, (items) => this.queue.ackMany(items));
      if (nacks.length > 0) void deliver(nacks, (items) => this.queue.nackMany(items));
    });
  }
}

async function deliver<I, V>(batch: Array<Pending<I, V>>, call: (items: I[]) => Promise<Array<ItemOutcome<V>>>): Promise<void> {
  let outcomes: Array<ItemOutcome<V>>;
  try {
    outcomes = await call(batch.map((p) => p.item));
  } catch (err) {
    const error = toQueueError(err);
    for (const p of batch) p.reject(error);
    return;
  }
  batch.forEach((p, i) => {
    const out = outcomes[i];
    if (!out) p.reject(toQueueError(new Error(`the many-call answered ${outcomes.length} outcomes for ${batch.length} items`)));
    else if (out.ok) p.resolve(out.value);
    else p.reject(out.error);
  });
}
