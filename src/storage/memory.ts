/**
 * In-process storage: a Map of immutable versions. Used by tests, benchmarks and the embedded
 * mode. Every method finishes its check-and-set before its first (and only) await point, so a
 * conditional write is atomic with respect to every other call on the same store.
 */
import { randomBytes } from 'node:crypto';
import { QueueError } from '../errors.js';
import { assertValidKey, assertValidPrefix, assertValidRange, copyBody } from './keys.js';
import type { StorageDriver, StoredObject, WriteCondition } from './types.js';

export const DRIVER_NAME = 'memory';

interface Entry {
  body: Uint8Array;
  etag: string;
}

/** A fresh, empty in-memory store. */
export function createMemoryStore(): StorageDriver {
  const entries = new Map<string, Entry>();
  // A per-store random prefix keeps etags of two stores apart; the counter never goes back, so an
  // etag never repeats for a key, even after delete and re-create with the same bytes.
  const prefix = randomBytes(6).toString('hex');
  let counter = 0;

  const conflict = (key: string, why: string): QueueError =>
    new QueueError('STORE_CONFLICT', `Conditional write to ${key} failed: ${why}`);

  return {
    name: DRIVER_NAME,
    minWriteIntervalMs: 0,

    async read(key: string): Promise<StoredObject | null> {
      assertValidKey(key);
      const entry = entries.get(key);
      return entry ? { body: entry.body.slice(), etag: entry.etag } : null;
    },

    async readRange(key: string, start: number, end: number): Promise<Uint8Array | null> {
      assertValidKey(key);
      assertValidRange(start, end);
      const entry = entries.get(key);
      return entry ? entry.body.slice(start, Math.max(start, end)) : null;
    },

    async write(key: string, body: Uint8Array | string, condition?: WriteCondition): Promise<{ etag: string }> {
      assertValidKey(key);
      const bytes = copyBody(body);
      const current = entries.get(key);
      if (condition && 'ifMatch' in condition) {
        if (!current) throw conflict(key, 'the key does not exist');
        if (current.etag !== condition.ifMatch) throw conflict(key, 'the etag no longer matches');
      } else if (condition && 'ifNoneMatch' in condition) {
        if (condition.ifNoneMatch !== '*') throw new QueueError('INVALID_ARGUMENT', 'ifNoneMatch only accepts "*"');
        if (current) throw conflict(key, 'the key already exists');
      }
      counter += 1;
      const etag = `${prefix}-${counter}`;
      entries.set(key, { body: bytes, etag });
      return { etag };
    },

    async list(keyPrefix: string): Promise<string[]> {
      assertValidPrefix(keyPrefix);
      return [...entries.keys()].filter((key) => key.startsWith(keyPrefix)).sort();
    },

    async delete(key: string): Promise<void> {
      assertValidKey(key);
      entries.delete(key);
    },

    async close(): Promise<void> {
      // Nothing to release; the data stays readable so named stores shared via openStore survive.
    },
  };
}
