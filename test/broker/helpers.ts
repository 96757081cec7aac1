/**
 * Test helpers for the broker: a store decorator that counts writes and concurrency per key, one
 * that refuses writes, and a fake clock that knows which of its timers would keep a process alive.
 */
import { Broker } from '../../src/broker/broker.js';
import { FakeClock, type Clock } from '../../src/clock.js';
import { withFaults } from '../../src/storage/faulty.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver, WriteCondition } from '../../src/storage/types.js';
import { checkManifest, type BacklogManifest } from '../../src/core/segments/manifest.js';
import { controlled } from '../embedded-helpers.js';
export { codeOf } from '../codes.js';

export interface CountingStore extends StorageDriver {
  /** Writes that landed, per key. */
  landed: Map<string, number>;
  /** The most writes ever in flight at once, per key. */
  maxInFlight: Map<string, number>;
  /** Calls of write(), landed or not. */
  writeCalls: number;
}

export function counting(inner: StorageDriver): CountingStore {
  const inFlight = new Map<string, number>();
  const store: CountingStore = {
    name: inner.name,
    get minWriteIntervalMs() {
      return inner.minWriteIntervalMs;
    },
    landed: new Map(),
    maxInFlight: new Map(),
    writeCalls: 0,
    read: (k) => inner.read(k),
    list: (p) => inner.list(p),
    delete: (k) => inner.delete(k),
    close: () => inner.close(),
    async write(key: string, body: Uint8Array | string, cond?: WriteCondition) {
      store.writeCalls++;
      const n = (inFlight.get(key) ?? 0) + 1;
      inFlight.set(key, n);
      store.maxInFlight.set(key, Math.max(n, store.maxInFlight.get(key) ?? 0));
      try {
        const r = await inner.write(key, body, cond);
        store.landed.set(key, (store.landed.get(key) ?? 0) + 1);
        return r;
      } finally {
        inFlight.set(key, (inFlight.get(key) ?? 1) - 1);
      }
    },
  };
  return store;
}

export async function readQueue(store: StorageDriver, topic: string): Promise<Record<string, any>> {
  const obj = await store.read(`topics/${topic}/queue.json`);
  if (!obj) throw new Error(`no queue.json for ${topic}`);
  return JSON.parse(Buffer.from(obj.body).toString('utf8'));
}

/** The manifest of a stored head, expanded (full keys, named fields) as a broker reads it. */
export async function readManifest(store: StorageDriver, topic: string): Promise<BacklogManifest> {
  return checkManifest((await readQueue(store, topic)).backlog, 'queue.json', topic);
}


/**
 * A memory store whose writes fail with STORE_UNAVAILABLE (injected by the `faulty` decorator)
 * while `refusing` is set, and whose reads, lists and deletes always work: what a read-only
 * filesystem or a full disk looks like to the broker.
 */
export function writeRefusingStore(): StorageDriver & { refusing: boolean } {
  const inner = createMemoryStore();
  const store = {
    refusing: false,
    name: inner.name,
    minWriteIntervalMs: 0,
    read: (k: string) => inner.read(k),
    list: (p: string) => inner.list(p),
    delete: (k: string) => inner.delete(k),
    close: () => inner.close(),
    write: (...args: Parameters<StorageDriver['write']>) => faulty.write(...args),
  };
  // failRate 1 with a draw of 0 fails every call; a draw of 1 fails none.
  const faulty = withFaults(inner, { failRate: 1 }, () => (store.refusing ? 0 : 1));
  return store;
}

/** A fake clock that knows which timers would keep a real process alive. */
export function keepAliveClock() {
  const fake = new FakeClock();
  const alive = new Set<object>();
  const clock: Clock = {
    now: () => fake.now(),
    sleep: (ms) => fake.sleep(ms),
    setTimer(ms, fn, keepAlive = false) {
      const token = {};
      if (keepAlive) alive.add(token);
      const cancel = fake.setTimer(ms, () => {
        alive.delete(token);
        fn();
      });
      return () => {
        alive.delete(token);
        cancel();
      };
    },
  };
  return { fake, clock, alive };
}

/**
 * A broker ('b1') on the fake clock over a memory store that can go down (`switchable.down`), each
 * call `latency` ms slower, its writes counted: `writes()` is how many of topic jobs's queue.json landed.
 */
export function countedBroker(latency = 0) {
  const clock = new FakeClock();
  const switchable = controlled(createMemoryStore());
  const store = counting(withFaults(switchable, { latency }, () => 0.5, (ms) => clock.sleep(ms)));
  const broker = new Broker({ store, clock, id: 'b1', url: 'http://b1' });
  const writes = () => store.landed.get('topics/jobs/queue.json') ?? 0;
  return { clock, store, switchable, broker, writes };
}

/** Whether `p` has settled, without waiting for it. */
export function watch<T>(p: Promise<T>): { readonly done: boolean } {
  const state = { done: false };
  p.then(
    () => (state.done = true),
    () => (state.done = true),
  );
  return state;
}
