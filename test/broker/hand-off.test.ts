/**
 * The same-commit hand-off (hand-off.ts): a long poll parked on an empty topic is answered by the
 * very commit that carries the push it waits for, so one conditional write stands between a push
 * and its handler, not two. Memory store (counted) and the fake clock.
 */
import { describe, expect, it } from 'vitest';
import { drive } from '../embedded-helpers.js';
import { codeOf, countedBroker, watch } from './helpers.js';

const setup = countedBroker;

describe('same-commit hand-off to parked long polls', () => {
  it('a push answers a parked claim in its own commit: one write for both', async () => {
    const { broker, clock, writes, store } = setup();
    await broker.stats('jobs'); // elected
    const waiting = broker.claim('jobs', { workerId: 'w', waitMs: 5000 });
    await clock.advance(100); // parked
    const before = writes();
    const [pushed] = await broker.push('jobs', [{ id: 'j1', payload: { n: 1 } }]);
    expect(pushed).toMatchObject({ id: 'j1', created: true });
    const jobs = await waiting;
    expect(jobs.map((j) => j.id)).toEqual(['j1']);
    expect(jobs[0]).toMatchObject({ attempt: 1, payload: { n: 1 } });
    expect(writes() - before).toBe(1);
    expect(store.maxInFlight.get('topics/jobs/queue.json')).toBe(1);
    expect(await broker.stats('jobs')).toMatchObject({ pending: 0, claimed: 1 });
  });

  it('parked claims are served in the order they parked, by priority then FIFO, after every push of the batch', async () => {
    const { broker, clock, writes } = setup();
    await broker.stats('jobs');
    const first = broker.claim('jobs', { workerId: 'a', max: 2, waitMs: 5000 });
    await clock.advance(10);
    const second = broker.claim('jobs', { workerId: 'b', max: 2, waitMs: 5000 });
    await clock.advance(10);
    const before = writes();
    // One batch: three pushes submitted in the same tick.
    await Promise.all([
      broker.push('jobs', [{ id: 'low', payload: 1 }]),
      broker.push('jobs', [{ id: 'high', payload: 2, priority: 5 }]),
      broker.push('jobs', [{ id: 'low2', payload: 3 }]),
    ]);
    expect((await first).map((j) => j.id)).toEqual(['high', 'low']);
    expect((await second).map((j) => j.id)).toEqual(['low2']);
    expect(writes() - before).toBe(1);
  });

  it('a parked claim that the batch leaves empty keeps waiting, with its own deadline', async () => {
    const { broker, clock } = setup();
    await broker.stats('jobs');
    const waiting = broker.claim('jobs', { workerId: 'w', waitMs: 5000 });
    const state = watch(waiting);
    await clock.advance(1000);
    await broker.push('jobs', [{ id: 'later', payload: 1, delayMs: 60_000 }]); // not due: nothing to hand
    await clock.advance(3999);
    expect(state.done).toBe(false);
    await clock.advance(1);
    expect(await waiting).toEqual([]);
  });

  it('a parked claim that rode along with a failed write goes back to waiting and gets a later job', async () => {
    const { broker, clock, switchable, writes } = setup();
    await broker.stats('jobs');
    const waiting = broker.claim('jobs', { workerId: 'w', waitMs: 20_000 });
    const state = watch(waiting);
    await clock.advance(10);
    switchable.down = true;
    expect(await codeOf(drive(clock, broker.push('jobs', [{ id: 'lost', payload: 1 }])))).toMatch(/UNAVAILABLE/);
    expect(state.done).toBe(false); // the push's failure is not the poll's
    switchable.down = false;
    const before = writes();
    await drive(clock, broker.push('jobs', [{ id: 'j2', payload: 2 }]));
    expect((await waiting).map((j) => j.id)).toEqual(['j2']);
    expect(writes() - before).toBe(1);
  });

  it('a parked claim whose caller leaves while its hand-off is being written claims nothing', async () => {
    const { broker, clock } = setup(50);
    await drive(clock, broker.stats('jobs'));
    const ac = new AbortController();
    const waiting = codeOf(broker.claim('jobs', { workerId: 'gone', waitMs: 5000 }, ac.signal));
    await clock.advance(10);
    const pushed = broker.push('jobs', [{ id: 'j', payload: 1 }]);
    await clock.advance(10); // the write (push + claim) is in flight
    ac.abort();
    await drive(clock, pushed);
    expect(await waiting).toBe('CLOSED');
    await drive(clock, broker.flush());
    expect(await broker.stats('jobs')).toMatchObject({ pending: 1, claimed: 0 });
  });
});
