import { describe, expect, it } from 'vitest';
import { isQueueError } from '../../src/errors.js';
import { mulberry32, withFaults } from '../../src/storage/faulty.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { describeDriver } from './driver-suite.js';

const noSleep = async (): Promise<void> => {};

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return isQueueError(err) ? err.code : String(err);
  }
}

/** Runs a fixed script of calls and records what happened to each. */
async function script(store: StorageDriver): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < 60; i++) {
    seen.push(await outcome(store.write(`k${i % 5}`, `v${i}`)));
    seen.push(await outcome(store.read(`k${i % 5}`)));
  }
  return seen;
}

// With no faults configured the decorator must be a transparent driver.
describeDriver('memory+faults (no faults)', async () => ({ store: withFaults(createMemoryStore(), {}, Math.random, noSleep), cleanup: async () => {} }), { rounds: 10 });

describe('withFaults', () => {
  it('names itself after the inner driver and keeps its write interval', () => {
    const inner: StorageDriver = { ...createMemoryStore(), name: 'gcs', minWriteIntervalMs: 1000 };
    const store = withFaults(inner, {});
    expect(store.name).toBe('gcs+faults');
    expect(store.minWriteIntervalMs).toBe(1000);
  });

  it('reproduces the same faults from the same seed', async () => {
    const options = { failRate: 0.3, ambiguousRate: 0.3, seed: 42 };
    const a = await script(withFaults(createMemoryStore(), options, undefined, noSleep));
    const b = await script(withFaults(createMemoryStore(), options, undefined, noSleep));
    const c = await script(withFaults(createMemoryStore(), { ...options, seed: 43 }, undefined, noSleep));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a).toContain('STORE_UNAVAILABLE');
    expect(a).toContain('STORE_AMBIGUOUS');
    expect(a).toContain('ok');
  });

  it('failRate 1: every call fails with STORE_UNAVAILABLE and nothing lands', async () => {
    const inner = createMemoryStore();
    const store = withFaults(inner, { failRate: 1 }, undefined, noSleep);
    expect(await outcome(store.write('k', 'x'))).toBe('STORE_UNAVAILABLE');
    expect(await outcome(store.write('k', 'x', { ifNoneMatch: '*' }))).toBe('STORE_UNAVAILABLE');
    expect(await outcome(store.read('k'))).toBe('STORE_UNAVAILABLE');
    expect(await outcome(store.list(''))).toBe('STORE_UNAVAILABLE');
    await inner.write('d', 'kept');
    expect(await outcome(store.delete('d'))).toBe('STORE_UNAVAILABLE');
    expect(await inner.read('k')).toBeNull();
    expect(await inner.read('d')).not.toBeNull();
    expect(store.stats).toEqual({ calls: 5, writes: 2, injectedFailures: 5, injectedAmbiguous: 0 });
  });

  it('ambiguousRate 1: the write lands, then throws STORE_AMBIGUOUS', async () => {
    const inner = createMemoryStore();
    const store = withFaults(inner, { ambiguousRate: 1 }, undefined, noSleep);
    expect(await outcome(store.write('k', 'landed', { ifNoneMatch: '*' }))).toBe('STORE_AMBIGUOUS');
    const got = await inner.read('k');
    expect(new TextDecoder().decode(got!.body)).toBe('landed');
    // A write that really conflicts reports the conflict, not an ambiguity.
    expect(await outcome(store.write('k', 'again', { ifNoneMatch: '*' }))).toBe('STORE_CONFLICT');
    expect(await outcome(store.read('k'))).toBe('ok'); // reads are never ambiguous
    expect(store.stats).toMatchObject({ writes: 2, injectedAmbiguous: 1, injectedFailures: 0 });
  });

  it('adds latency and jitter through the injected sleep', async () => {
    const sleeps: number[] = [];
    const sleep = async (ms: number): Promise<void> => {
      sleeps.push(ms);
    };
    const store = withFaults(createMemoryStore(), { latency: 50, jitter: 10 }, () => 0.5, sleep);
    await store.write('k', 'x');
    await store.read('k');
    await store.list('');
    await store.delete('k');
    expect(sleeps).toEqual([55, 55, 55, 55]);
    const quiet: number[] = [];
    await withFaults(createMemoryStore(), {}, undefined, async (ms) => void quiet.push(ms)).read('k');
    expect(quiet).toEqual([]);
  });

  it('rejects invalid options', () => {
    for (const bad of [{ failRate: 1.5 }, { ambiguousRate: -0.1 }, { latency: -1 }, { jitter: Number.NaN }, { seed: 1.5 }]) {
      expect(() => withFaults(createMemoryStore(), bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('mulberry32 is deterministic and in [0, 1)', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(xs).size).toBeGreaterThan(990);
  });
});
