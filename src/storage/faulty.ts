/**
 * A decorator that makes any driver slow and unreliable on purpose, for tests and benchmarks:
 * added latency, calls that fail without effect, and writes that land but report STORE_AMBIGUOUS.
 *
 * Each call draws its fate (delay, failure, ambiguity) synchronously when it is made, so with a
 * seed the same sequence of calls meets the same faults, whatever the inner driver's timing.
 */
import { QueueError } from '../errors.js';
import type { StorageDriver, StoredObject, WriteCondition } from './types.js';

export interface FaultOptions {
  /** Milliseconds added to every call (read, write, list, delete) before it reaches the inner driver. */
  latency?: number;
  /** Extra milliseconds on top of `latency`, drawn uniformly from [0, jitter) per call. */
  jitter?: number;
  /** Probability (0..1) that a call throws STORE_UNAVAILABLE without reaching the inner driver. */
  failRate?: number;
  /** Probability (0..1) that a write that succeeded is reported as STORE_AMBIGUOUS anyway (it did land). */
  ambiguousRate?: number;
  /** Seed for the built-in PRNG, making the fault sequence reproducible (ignored when `random` is passed). */
  seed?: number;
}

export interface FaultStats {
  /** Calls made (read, write, list, delete), including those that failed. */
  calls: number;
  /** Write calls made, including those that failed. */
  writes: number;
  /** Calls failed on purpose with STORE_UNAVAILABLE (they did not take effect). */
  injectedFailures: number;
  /** Writes that landed but were reported as STORE_AMBIGUOUS. */
  injectedAmbiguous: number;
}

export interface FaultyStore extends StorageDriver {
  /** Live counters, for assertions in tests. */
  readonly stats: FaultStats;
}

/** mulberry32: a tiny, fast, seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function check(name: keyof FaultOptions, value: number | undefined, max: number): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
    throw new QueueError('INVALID_ARGUMENT', `Fault option ${name} must be a number in [0, ${max}], got ${String(value)}`);
  }
  return value;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Wraps `inner` with injected faults; `random` and `sleep` may be injected for deterministic tests. */
export function withFaults(
  inner: StorageDriver,
  options: FaultOptions = {},
  random?: () => number,
  sleep: (ms: number) => Promise<void> = realSleep,
): FaultyStore {
  const latency = check('latency', options.latency, Number.MAX_SAFE_INTEGER);
  const jitter = check('jitter', options.jitter, Number.MAX_SAFE_INTEGER);
  const failRate = check('failRate', options.failRate, 1);
  const ambiguousRate = check('ambiguousRate', options.ambiguousRate, 1);
  if (options.seed !== undefined && !Number.isInteger(options.seed)) {
    throw new QueueError('INVALID_ARGUMENT', `Fault option seed must be an integer, got ${String(options.seed)}`);
  }
  const rnd = random ?? (options.seed !== undefined ? mulberry32(options.seed) : Math.random);
  const stats: FaultStats = { calls: 0, writes: 0, injectedFailures: 0, injectedAmbiguous: 0 };

  /** Counts the call, draws its fate now, then waits and maybe fails. */
  async function enter(op: string, key: string, isWrite: boolean): Promise<boolean> {
    stats.calls += 1;
    if (isWrite) stats.writes += 1;
    const delay = latency + (jitter > 0 ? jitter * rnd() : 0);
    const fails = failRate > 0 && rnd() < failRate;
    const ambiguous = isWrite && ambiguousRate > 0 && rnd() < ambiguousRate;
    if (delay > 0) await sleep(delay);
    if (fails) {
      stats.injectedFailures += 1;
      throw new QueueError('STORE_UNAVAILABLE', `Injected failure: ${op} ${key}`);
    }
    return ambiguous;
  }

  return {
    name: `${inner.name}+faults`,
    minWriteIntervalMs: inner.minWriteIntervalMs,
    stats,

    async read(key: string): Promise<StoredObject | null> {
      await enter('read', key, false);
      return inner.read(key);
    },

    ...(inner.readRange
      ? {
          async readRange(key: string, start: number, end: number): Promise<Uint8Array | null> {
            await enter('read', key, false);
            return inner.readRange!(key, start, end);
          },
        }
      : {}),

    async write(key: string, body: Uint8Array | string, condition?: WriteCondition): Promise<{ etag: string }> {
      const ambiguous = await enter('write', key, true);
      const result = await inner.write(key, body, condition);
      if (ambiguous) {
        stats.injectedAmbiguous += 1;
        throw new QueueError('STORE_AMBIGUOUS', `Injected ambiguous write: ${key} (it landed)`);
      }
      return result;
    },

    async list(prefix: string): Promise<string[]> {
      await enter('list', prefix, false);
      return inner.list(prefix);
    },

    async delete(key: string): Promise<void> {
      await enter('delete', key, false);
      return inner.delete(key);
    },

    close(): Promise<void> {
      return inner.close();
    },
  };
}
