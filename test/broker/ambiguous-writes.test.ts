import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { QueueError } from '../../src/errors.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { codeOf, drive } from '../embedded-helpers.js';
import { readQueue } from './helpers.js';

const Q = 'topics/jobs/queue.json';

interface Knobs {
  /** The next write of queue.json lands, then runs `afterLanding`, then reports STORE_AMBIGUOUS. */
  ambiguousNext: boolean;
  afterLanding?: () => Promise<void>;
  /** Reads of queue.json fail without effect. */
  failReads: boolean;
}

function knobbed(inner: StorageDriver, k: Knobs): StorageDriver {
  return {
    ...inner,
    name: inner.name,
    minWriteIntervalMs: inner.minWriteIntervalMs,
    async read(key) {
      if (key === Q && k.failReads) throw new QueueError('STORE_UNAVAILABLE', 'injected read failure');
      return inner.read(key);
    },
    async write(key, body, cond) {
      const out = await inner.write(key, body, cond);
      if (key === Q && k.ambiguousNext) {
        k.ambiguousNext = false;
        await k.afterLanding?.();
        throw new QueueError('STORE_AMBIGUOUS', 'injected: landed, reported ambiguous');
      }
      return out;
    },
  };
}

const big = { big: 'x'.repeat(500) };

describe('a landed write whose outcome could not be confirmed', () => {
  it('does not report a landed push as plainly failed, nor delete the payload object the landed job points at, when the re-read fails', async () => {
    const clock = new FakeClock();
    const base = createMemoryStore();
    const k: Knobs = { ambiguousNext: false, failReads: false };
    const broker = new Broker({ store: knobbed(base, k), clock, id: 'b1', payloadThreshold: 100, retry: { attempts: 2, baseMs: 1, maxMs: 1 } });
    await broker.stats('jobs'); // elected
    k.ambiguousNext = true;
    k.failReads = true;
    const code = await drive(clock, codeOf(broker.push('jobs', [{ id: 'p', payload: big }])));
    expect(code).not.toBe('ok');
    k.failReads = false;
    // It did land: the job is in queue.json and its payload must still be there.
    const q = await readQueue(base, 'jobs');
    expect(q.jobs.map((j: { id: string }) => j.id)).toEqual(['p']);
    const [job] = await drive(clock, broker.claim('jobs', { workerId: 'w' }));
    expect(job).toMatchObject({ id: 'p', payload: big });
    expect(code).toBe('STORE_AMBIGUOUS'); // it may have landed: the caller must not assume it did not
    await drive(clock, broker.stop());
  });

  it('does not re-apply a batch whose write may be buried under a newer leader commit, nor delete its payload object', async () => {
    const base = createMemoryStore();
    const clockA = new FakeClock();
    const clockB = new FakeClock(clockA.now());
    const k: Knobs = { ambiguousNext: false, failReads: false };
    const a = new Broker({ store: knobbed(base, k), clock: clockA, id: 'A', leaseMs: 1000, payloadThreshold: 100 });
    const b = new Broker({ store: base, clock: clockB, id: 'B', leaseMs: 1000, payloadThreshold: 100 });
    await a.stats('jobs'); // A leads
    // A's push lands; before A can re-read, A stalls past its lease and B takes over and commits.
    k.ambiguousNext = true;
    k.afterLanding = async () => {
      await clockB.advance(1500);
      await b.push('jobs', [{ id: 'by-b', payload: 1 }]);
    };
    const code = await codeOf(a.push('jobs', [{ id: 'p', payload: big }]));
    expect(code).not.toBe('ok');
    const q = await readQueue(base, 'jobs');
    expect(q.broker.id).toBe('B');
    expect(q.jobs.map((j: { id: string }) => j.id).sort()).toEqual(['by-b', 'p']);
    // The job A pushed landed; its payload object must survive whatever A answered.
    await drive(clockA, a.flush());
    const jobs = await drive(clockB, b.claim('jobs', { workerId: 'w', max: 2 }));
    expect(jobs.find((j) => j.id === 'p')).toMatchObject({ payload: big });
    expect(code).toBe('STORE_AMBIGUOUS');
  });
});
