/**
 * A store opened from a URL on first use. It lets {@link createQueue} stay synchronous and still
 * hand out its Broker at once: the broker only touches storage when the first op runs, and that is
 * when the URL is opened. A failed open (bad URL, unreachable storage) fails that op and is tried
 * again by the next one.
 */
import { openStore } from './storage/open.js';
import type { StorageDriver } from './storage/types.js';

export interface LazyStore extends StorageDriver {
  /** The opened driver, or null while not opened yet. */
  readonly opened: StorageDriver | null;
}

export function lazyStore(url: string): LazyStore {
  let inner: StorageDriver | null = null;
  let opening: Promise<StorageDriver> | null = null;
  let closed = false;

  const open = (): Promise<StorageDriver> => {
    if (inner) return Promise.resolve(inner);
    opening ??= openStore(url).then(
      (store) => (inner = store),
      (err: unknown) => {
        opening = null;
        throw err;
      },
    );
    return opening;
  };

  return {
    get name() {
      return inner?.name ?? 'unopened';
    },
    get minWriteIntervalMs() {
      return inner?.minWriteIntervalMs ?? 0;
    },
    get opened() {
      return inner;
    },
    read: async (key) => (await open()).read(key),
    write: async (key, body, condition) => (await open()).write(key, body, condition),
    list: async (prefix) => (await open()).list(prefix),
    delete: async (key) => (await open()).delete(key),
    async close() {
      if (closed) return;
      closed = true;
      const store = inner ?? (await opening?.catch(() => null)) ?? null;
      await store?.close();
    },
  };
}
