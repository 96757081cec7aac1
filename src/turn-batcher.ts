/**
 * Calls made in the same turn of the event loop, handed over together: `add(item)` queues an item
 * and, at the end of the turn (setImmediate, not a microtask: callers that finish in one turn
 * resolve over several microtask rounds, and all of them should share the call), every queued
 * item goes to one `call(items)`. Each caller still gets its own outcome: an item's error rejects
 * only that item's promise, a failure of the whole call rejects every item of it.
 *
 * The worker's acks and nacks (worker/settle-batch.ts) and the network client's ack() use it. No
 * timer: a lone call goes at the end of its turn.
 */
import { toQueueError, type QueueError } from './errors.js';
import type { ItemOutcome } from './api.js';

interface Pending<I, V> {
  item: I;
  resolve(value: V): void;
  reject(error: QueueError): void;
}

export class TurnBatcher<I, V> {
  private queued: Array<Pending<I, V>> = [];
  private scheduled = false;
  private readonly delivering = new Set<Promise<void>>();

  constructor(private readonly call: (items: I[]) => Promise<Array<ItemOutcome<V>>>) {}

  add(item: I): Promise<V> {
    return new Promise((resolve, reject) => {
      this.queued.push({ item, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  /** Hands over what is queued now (at the end of the turn, or sooner: a client's close()). */
  flush(): void {
    this.scheduled = false;
    const batch = this.queued;
    if (batch.length === 0) return;
    this.queued = [];
    const done = deliver(batch, this.call).finally(() => this.delivering.delete(done));
    this.delivering.add(done);
  }

  /** Resolves when every call handed over so far has been answered. */
  async idle(): Promise<void> {
    while (this.delivering.size > 0) await Promise.all(this.delivering);
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
