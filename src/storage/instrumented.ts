/**
 * A decorator that reports every storage call (op, duration, outcome) to an observer, for
 * metrics and logs, and remembers when the store last answered, for readiness checks.
 *
 * It adds one clock read and one callback per call and changes nothing else: results, errors
 * and the driver's `minWriteIntervalMs` pass through untouched.
 */
import { isQueueError } from '../errors.js';
import type { StorageDriver } from './types.js';

export type StorageOp = 'read' | 'write' | 'list' | 'delete';

export interface StorageCall {
  op: StorageOp;
  key: string;
  seconds: number;
  /** null when the call succeeded; the QueueError code (or `UNKNOWN` for anything else) when it threw. */
  errorCode: string | null;
  error?: unknown;
  /** Bytes moved by a call that succeeded: the body read (whole or a range; 0 for a missing key), or written. */
  bytes?: number;
}

export interface InstrumentedStore extends StorageDriver {
  /** The driver being observed. */
  readonly inner: StorageDriver;
  /**
   * When the store last answered (performance.now() milliseconds), or -Infinity. A failed
   * condition (STORE_CONFLICT) counts as an answer: the store was reached.
   */
  readonly lastAnsweredAt: number;
  /** When a call last failed to reach the store (transient, ambiguous, unknown errors), or -Infinity. */
  readonly lastFailedAt: number;
  /** The last such failure. */
  readonly lastFailure: unknown;
}

/** Codes that mean the store did answer, so it is reachable. */
const ANSWERED_CODES: ReadonlySet<string> = new Set(['STORE_CONFLICT', 'NOT_FOUND', 'INVALID_ARGUMENT']);

export function instrumentStore(inner: StorageDriver, observer: (call: StorageCall) => void): InstrumentedStore {
  // An observer's failure (a user's logger, a metrics bug) must not turn a landed write into a
  // failed one, nor replace a storage error the commit loop acts on (STORE_CONFLICT, ...).
  const observe = (call: StorageCall): void => {
    try {
      observer(call);
    } catch {
      // the call's outcome stands
    }
  };
  let lastAnsweredAt = -Infinity;
  let lastFailedAt = -Infinity;
  let lastFailure: unknown = null;

  async function timed<T>(op: StorageOp, key: string, call: () => Promise<T>, size?: (out: T) => number): Promise<T> {
    const started = performance.now();
    try {
      const out = await call();
      const now = performance.now();
      lastAnsweredAt = now;
      observe({ op, key, seconds: (now - started) / 1000, errorCode: null, ...(size ? { bytes: size(out) } : {}) });
      return out;
    } catch (error) {
      const now = performance.now();
      const errorCode = isQueueError(error) ? error.code : 'UNKNOWN';
      if (ANSWERED_CODES.has(errorCode)) lastAnsweredAt = now;
      else {
        lastFailedAt = now;
        lastFailure = error;
      }
      observe({ op, key, seconds: (now - started) / 1000, errorCode, error });
      throw error;
    }
  }

  return {
    inner,
    get name() {
      return inner.name;
    },
    get minWriteIntervalMs() {
      return inner.minWriteIntervalMs;
    },
    get lastAnsweredAt() {
      return lastAnsweredAt;
    },
    get lastFailedAt() {
      return lastFailedAt;
    },
    get lastFailure() {
      return lastFailure;
    },
    read: (key) => timed('read', key, () => inner.read(key), (out) => out?.body.byteLength ?? 0),
    ...(inner.readRange
      ? { readRange: (key: string, start: number, end: number) => timed('read', key, () => inner.readRange!(key, start, end), (out) => out?.byteLength ?? 0) }
      : {}),
    write: (key, body, condition) => timed('write', key, () => inner.write(key, body, condition), () => (typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength)),
    list: (prefix) => timed('list', prefix, () => inner.list(prefix)),
    delete: (key) => timed('delete', key, () => inner.delete(key)),
    close: () => inner.close(),
  };
}
