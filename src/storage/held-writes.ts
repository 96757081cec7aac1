/**
 * A test hook, not for production: a decorator that holds every write whose key matches a pattern
 * (never passing it on, never settling it), optionally only once a write matching another pattern
 * has landed, and reports the first write it holds once the writes that were in flight beside it
 * have settled (so that what landed is known at the report). A process test starts `bucketq broker` with
 * BUCKETQ_TEST_HOLD_WRITE (src/cli/test-hooks.ts, CONTRIBUTING.md "Test hooks") and SIGKILLs it
 * when the report comes: a crash at an exact point of the commit path, with no sleep.
 */
import type { StorageDriver } from './types.js';

export interface HeldWritesOptions {
  /** Writes of keys matching this are held forever. */
  key: RegExp;
  /** Hold only once a write of a key matching this has landed (successfully), when given. */
  after?: RegExp;
  /** Called once, with the key of the first write held, when the writes in flight as it came have settled. */
  onHold(key: string): void;
}

export function withHeldWrites(inner: StorageDriver, o: HeldWritesOptions): StorageDriver {
  let armed = o.after === undefined;
  let reported = false;
  const inFlight = new Set<Promise<unknown>>();
  return {
    name: inner.name,
    minWriteIntervalMs: inner.minWriteIntervalMs,
    read: (key) => inner.read(key),
    ...(inner.readRange ? { readRange: (key: string, start: number, end: number) => inner.readRange!(key, start, end) } : {}),
    async write(key, body, condition) {
      if (armed && o.key.test(key)) {
        if (!reported) {
          reported = true;
          void Promise.allSettled([...inFlight]).then(() => o.onHold(key));
        }
        return new Promise<never>(() => {});
      }
      const write = inner.write(key, body, condition);
      inFlight.add(write);
      try {
        const out = await write;
        if (o.after?.test(key)) armed = true;
        return out;
      } finally {
        inFlight.delete(write);
      }
    },
    list: (prefix) => inner.list(prefix),
    delete: (key) => inner.delete(key),
    close: () => inner.close(),
  };
}
