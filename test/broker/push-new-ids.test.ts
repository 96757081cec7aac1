/**
 * A push whose every id the broker made (PushInput.newIds, src/core/ops/push.ts) is not looked up
 * on its first apply: those ids are new to the world. Everything else still is: a push naming
 * even one id of its own, and every push when ids come from a generator of the caller's, which
 * may repeat one.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { QueueError } from '../../src/errors.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { SMALL } from '../core/segments/backlog-harness.js';
import { readQueue } from './helpers.js';

describe('ids the broker makes', () => {
  it('a push naming one id is looked up whole: the named job is not added twice beside new ones', async () => {
    const store = createMemoryStore();
    const broker = new Broker({ store, clock: new FakeClock(), id: 'b1' });
    await broker.push('jobs', [{ id: 'x', payload: 1 }]);
    const out = await broker.push('jobs', [{ payload: 2 }, { id: 'x', payload: 3 }, { payload: 4 }]);
    expect(out.map((o) => o.created)).toEqual([true, false, true]);
    expect((await broker.stats('jobs')).pending).toBe(3);
    const ids = (await readQueue(store, 'jobs')).jobs.map((j: { id: string }) => j.id);
    expect(ids.filter((id: string) => id === 'x')).toHaveLength(1);
    expect(new Set(ids).size).toBe(3);
  });

  it('in one batch beside pushes of made ids, a client id pushed twice is found the second time', async () => {
    // The made ids' jobs are not kept by id while the batch applies (Backlog.deferHead); a client's are.
    const store = createMemoryStore();
    const broker = new Broker({ store, clock: new FakeClock(), id: 'b1', backlog: SMALL });
    await broker.stats('jobs'); // elected
    const bulk = () => broker.push('jobs', Array.from({ length: 20 }, (_, i) => ({ payload: i })));
    const [, first, , second] = await Promise.all([bulk(), broker.push('jobs', [{ id: 'k', payload: 'a' }]), bulk(), broker.push('jobs', [{ id: 'k', payload: 'b' }])]);
    expect(first![0]).toMatchObject({ id: 'k', created: true });
    expect(second![0]).toMatchObject({ id: 'k', created: false });
    expect((await broker.stats('jobs')).pending).toBe(41);
  });

  it('ids from a generator of the caller\'s are looked up: one it repeats answers created: false', async () => {
    const broker = new Broker({ store: createMemoryStore(), clock: new FakeClock(), id: 'b1', newId: () => 'same' });
    const [first] = await broker.push('jobs', [{ payload: 1 }]);
    const [second] = await broker.push('jobs', [{ payload: 2 }]);
    expect(first).toMatchObject({ id: 'same', created: true });
    expect(second).toMatchObject({ id: 'same', created: false, state: 'pending' });
    expect((await broker.stats('jobs')).pending).toBe(1);
  });

  it('a push of made ids over a backlog in segments adds every job once, and a later push of one of them is found', async () => {
    const store = createMemoryStore();
    const broker = new Broker({ store, clock: new FakeClock(), id: 'b1', backlog: SMALL });
    const made = await broker.push('jobs', Array.from({ length: 500 }, (_, i) => ({ payload: i })));
    expect(made.every((o) => o.created)).toBe(true);
    expect((await broker.stats('jobs')).pending).toBe(500);
    // The 300th is in a segment now: a client's retry under its id is found there, not added again.
    const [again] = await broker.push('jobs', [{ id: made[300]!.id, payload: 'retry' }]);
    expect(again).toMatchObject({ id: made[300]!.id, created: false });
    expect((await broker.stats('jobs')).pending).toBe(500);
  });

  it('applied again after its own write landed, a push of made ids finds its jobs: none added twice, no payload object deleted', async () => {
    // A store that breaks its contract once: it lands the head's write and then says it did not
    // (STORE_UNAVAILABLE). The retry conflicts with that very write, and the batch is applied again
    // on the state it wrote: only there can a push meet the jobs of its own first attempt.
    const base = createMemoryStore();
    let lie = false;
    const store: StorageDriver = {
      ...base,
      async write(key, body, cond) {
        const out = await base.write(key, body, cond);
        if (lie && key === 'topics/jobs/queue.json') {
          lie = false;
          throw new QueueError('STORE_UNAVAILABLE', 'injected: landed, reported as not');
        }
        return out;
      },
    };
    const broker = new Broker({ store, clock: new FakeClock(), id: 'b1', payloadThreshold: 100, retry: { attempts: 3, baseMs: 0, maxMs: 0 } });
    await broker.stats('jobs'); // elected
    lie = true;
    const big = { big: 'x'.repeat(500) };
    const out = await broker.push('jobs', [{ payload: big }, { payload: big }]);
    expect(out.map((o) => o.created)).toEqual([false, false]); // found as they landed
    expect((await broker.stats('jobs')).pending).toBe(2);
    const jobs = await broker.claim('jobs', { workerId: 'w', max: 5 });
    expect(jobs.map((j) => j.id).sort()).toEqual(out.map((o) => o.id).sort());
    for (const j of jobs) expect(j.payload).toEqual(big); // their payload objects are still there
  });
});
