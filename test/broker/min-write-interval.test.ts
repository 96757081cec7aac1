/**
 * A driver's minWriteIntervalMs (GCS: about one write per second per object) is honoured by the
 * commit loop: writes to queue.json are spaced at least that far apart on the broker's clock, and
 * requests arriving meanwhile join the next batch instead of failing. Fake clock, no sleeps.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock, settle } from '../../src/clock.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { drive } from '../embedded-helpers.js';

const Q = 'topics/jobs/queue.json';

/** A memory store that declares `intervalMs` and records the clock time of every queue.json write. */
function pacedStore(clock: FakeClock, intervalMs: number): StorageDriver & { writesAt: number[] } {
  const inner = createMemoryStore();
  const writesAt: number[] = [];
  return {
    ...inner,
    name: 'paced',
    minWriteIntervalMs: intervalMs,
    writesAt,
    write(key, body, cond) {
      if (key === Q) writesAt.push(clock.now());
      return inner.write(key, body, cond);
    },
  };
}

/** Pushes one job every 100 fake ms for 3 s; returns the store's write times. */
async function pushSteadily(intervalMs: number): Promise<{ writesAt: number[]; pending: number }> {
  const clock = new FakeClock();
  const store = pacedStore(clock, intervalMs);
  const broker = new Broker({ store, clock, id: 'b1', url: 'http://b1' });
  await drive(clock, broker.push('jobs', [{ id: 'first', payload: 0 }]));
  const pushes: Array<Promise<unknown>> = [];
  for (let i = 0; i < 30; i++) {
    pushes.push(broker.push('jobs', [{ id: `p${i}`, payload: i }]));
    await clock.advance(100);
  }
  await drive(clock, Promise.all(pushes));
  const { pending } = await drive(clock, broker.stats('jobs'));
  await drive(clock, broker.stop());
  return { writesAt: store.writesAt, pending };
}

describe('minWriteIntervalMs in the commit loop', () => {
  it('does not hold reads (stats, get) for the interval: they write nothing', async () => {
    const clock = new FakeClock();
    const store = pacedStore(clock, 1000);
    const broker = new Broker({ store, clock, id: 'b1', url: 'http://b1' });
    await drive(clock, broker.push('jobs', [{ id: 'a', payload: 0 }]));
    const before = clock.now();
    let answered = false;
    const reads = Promise.all([broker.stats('jobs'), broker.get('jobs', 'a')]).then((r) => ((answered = true), r));
    await settle();
    expect(answered).toBe(true);
    expect(clock.now()).toBe(before);
    expect((await reads)[1]).toMatchObject({ id: 'a', state: 'pending' });
    await drive(clock, broker.stop());
  });

  it('answers a read submitted after a write only once that write landed (read your writes, as in a RESP pipeline)', async () => {
    for (const intervalMs of [0, 1000]) {
      const clock = new FakeClock();
      const broker = new Broker({ store: pacedStore(clock, intervalMs), clock, id: 'b1', url: 'http://b1' });
      await drive(clock, broker.push('jobs', [{ id: 'a', payload: 0 }]));
      const push = broker.push('jobs', [{ id: 'b', payload: 1 }]); // not awaited: queued, not committed
      const stats = broker.stats('jobs');
      const get = broker.get('jobs', 'b');
      const [, s, g] = await drive(clock, Promise.all([push, stats, get]));
      expect(s.pending).toBe(2);
      expect(g).toMatchObject({ id: 'b', state: 'pending' });
      await drive(clock, broker.stop());
    }
  });

  it('spaces writes to one object by the interval and lets batches grow (1000 ms, as for GCS)', async () => {
    const { writesAt, pending } = await pushSteadily(1000);
    expect(pending).toBe(31); // every push landed
    const gaps = writesAt.slice(1).map((t, i) => t - writesAt[i]!);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(1000);
    // 30 pushes over 3 s: about one commit per second, so several pushes share each commit.
    expect(writesAt.length).toBeLessThanOrEqual(6);
  });

  it('writes as soon as a batch is ready when the driver declares no interval (the control)', async () => {
    const { writesAt, pending } = await pushSteadily(0);
    expect(pending).toBe(31);
    expect(writesAt.length).toBeGreaterThanOrEqual(25);
  });
});
