/** Helpers for the embedded API tests: fake-clock driving, gates, and store decorators. */
import type { FakeClock } from '../src/clock.js';
import { QueueError } from '../src/errors.js';
import type { StorageDriver } from '../src/storage/types.js';
export { codeOf } from './codes.js';

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Advances the fake clock in small steps until `cond` holds (fails the test after `maxSteps`). */
export async function until(clock: FakeClock, cond: () => boolean | Promise<boolean>, stepMs = 10, maxSteps = 3000): Promise<void> {
  for (let i = 0; i < maxSteps; i++) {
    if (await cond()) return;
    await clock.advance(stepMs);
  }
  throw new Error(`condition not met after ${maxSteps * stepMs} fake ms`);
}

/** Resolves `p`, advancing the fake clock while it is pending. */
export async function drive<T>(clock: FakeClock, p: Promise<T>, stepMs = 10, maxSteps = 3000): Promise<T> {
  let done = false;
  const out = p.finally(() => (done = true));
  out.catch(() => {}); // handled by our caller, after the clock has been driven
  await until(clock, () => done, stepMs, maxSteps);
  return out;
}


export interface ControlledStore extends StorageDriver {
  /** While true every call fails with STORE_UNAVAILABLE (nothing takes effect). */
  down: boolean;
  /** While true archive writes wait (so completed jobs stay readable with get()). */
  holdArchives: boolean;
}

/** A decorator to switch storage off, or hold archive writes back. */
export function controlled(inner: StorageDriver): ControlledStore {
  const held: Array<() => void> = [];
  let hold = false;
  const gate = async (key?: string) => {
    if (store.down) throw new QueueError('STORE_UNAVAILABLE', 'storage is down (test)');
    if (hold && key?.startsWith('archive/')) await new Promise<void>((r) => held.push(r));
  };
  const store: ControlledStore = {
    name: inner.name,
    minWriteIntervalMs: 0,
    down: false,
    get holdArchives() {
      return hold;
    },
    set holdArchives(v: boolean) {
      hold = v;
      if (!v) for (const r of held.splice(0)) r();
    },
    read: async (k) => (await gate(), inner.read(k)),
    write: async (k, body, cond) => (await gate(k), inner.write(k, body, cond)),
    list: async (p) => (await gate(), inner.list(p)),
    delete: async (k) => (await gate(), inner.delete(k)),
    close: () => inner.close(),
  };
  return store;
}
