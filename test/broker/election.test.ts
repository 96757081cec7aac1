import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { STANDBY_RECHECK_MS } from '../../src/broker/leadership.js';
import { QueueError } from '../../src/errors.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { drive } from '../embedded-helpers.js';
import { codeOf, counting, readQueue } from './helpers.js';

const Q = 'topics/jobs/queue.json';

describe('leadership', () => {
  it('two brokers on one store: exactly one leads, the other fails fast with NOT_LEADER naming it', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const a = new Broker({ store, clock, id: 'A', url: 'http://a:8080', leaseMs: 1000 });
    const b = new Broker({ store, clock, id: 'B', url: 'http://b:8080', leaseMs: 1000 });
    const results = await Promise.all([codeOf(a.push('jobs', [{ id: '1', payload: 1 }])), codeOf(b.push('jobs', [{ id: '2', payload: 2 }]))]);
    expect(results.sort()).toEqual(['NOT_LEADER', 'ok']);
    const q = await readQueue(store, 'jobs');
    const [leader, follower] = q.broker.id === 'A' ? [a, b] : [b, a];
    const err = await follower.push('jobs', [{ payload: 3 }]).catch((e: { code: string; details: Record<string, unknown> }) => e);
    expect(err).toMatchObject({ code: 'NOT_LEADER', details: { leader: leader.url } });
    // Failing fast: the follower answered without touching storage again.
    expect(q.jobs).toHaveLength(1);
    expect(q.broker.epoch).toBe(1);
  });

  it('a standby takes over only once the lease is stale, with a higher epoch', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const a = new Broker({ store, clock, id: 'A', url: 'http://a', leaseMs: 1000 });
    const b = new Broker({ store, clock, id: 'B', url: 'http://b', leaseMs: 1000 });
    await a.push('jobs', [{ id: '1', payload: 1 }]);
    // A renews its lease while idle; B keeps being refused.
    for (let i = 0; i < 5; i++) {
      await clock.advance(500);
      expect(await codeOf(b.stats('jobs'))).toBe('NOT_LEADER');
    }
    await a.stop(); // releases the lease
    // B trusts its last read for up to a second, then reads again and takes over at once.
    await clock.advance(STANDBY_RECHECK_MS);
    expect(await codeOf(b.push('jobs', [{ id: '2', payload: 2 }]))).toBe('ok');
    const q = await readQueue(store, 'jobs');
    expect(q.broker).toMatchObject({ id: 'B', epoch: 2 });
    expect(q.jobs.map((j: { id: string }) => j.id).sort()).toEqual(['1', '2']);
  });

  it('a paused old leader that wakes after a takeover commits nothing and answers NOT_LEADER naming the new one', async () => {
    const store = counting(createMemoryStore());
    const clockA = new FakeClock();
    const clockB = new FakeClock(clockA.now());
    const a = new Broker({ store, clock: clockA, id: 'A', url: 'http://a', leaseMs: 1000 });
    const b = new Broker({ store, clock: clockB, id: 'B', url: 'http://b', leaseMs: 1000 });
    await a.push('jobs', [{ id: 'before', payload: 1 }]);
    // A is frozen (its clock does not move); B's time passes the lease and B takes over.
    await clockB.advance(1500);
    await b.push('jobs', [{ id: 'by-b', payload: 2 }]);
    expect((await readQueue(store, 'jobs')).broker).toMatchObject({ id: 'B', epoch: 2 });
    const landedBefore = store.landed.get(Q) ?? 0;
    const seqBefore = (await readQueue(store, 'jobs')).seq;

    // A wakes up: its renewal timer fires and it tries to write; then a client calls it.
    await clockA.advance(1500);
    const err = await a.push('jobs', [{ id: 'by-a', payload: 3 }]).catch((e: { code: string; details: Record<string, unknown> }) => e);
    expect(err).toMatchObject({ code: 'NOT_LEADER', details: { leader: 'http://b' } });
    const q = await readQueue(store, 'jobs');
    expect(store.landed.get(Q)).toBe(landedBefore);
    expect(q.seq).toBe(seqBefore);
    expect(q.jobs.map((j: { id: string }) => j.id).sort()).toEqual(['before', 'by-b']);
  });

  it('in wait mode a restarted process waits for the stale lease and takes over', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const crashed = new Broker({ store, clock: new FakeClock(clock.now()), id: 'old', leaseMs: 5000 });
    await crashed.push('jobs', [{ id: 'x', payload: 1 }]); // then it "dies": never stopped, never renews
    const fresh = new Broker({ store, clock, id: 'new', leaseMs: 5000, standby: 'wait' });
    let done = false;
    const p = fresh.push('jobs', [{ id: 'y', payload: 2 }]).then(() => (done = true));
    await clock.advance(4000);
    expect(done).toBe(false);
    await clock.advance(1100);
    await p;
    expect((await readQueue(store, 'jobs')).broker).toMatchObject({ id: 'new', epoch: 2 });
  });

  it('a broker restarted under the same id takes over at once with a new epoch, and its frozen old incarnation is fenced', async () => {
    const store = counting(createMemoryStore());
    const clockOld = new FakeClock();
    const clock = new FakeClock(clockOld.now());
    const old = new Broker({ store, clock: clockOld, id: 'b0', url: 'http://b0-old', leaseMs: 10_000 });
    await old.push('jobs', [{ id: 'before', payload: 1 }]);
    // The old process stops (SIGKILL or SIGSTOP: its clock stands still) with nearly the whole lease left.
    await clock.advance(100);
    const restarted = new Broker({ store, clock, id: 'b0', url: 'http://b0-new', leaseMs: 10_000 });
    expect(await codeOf(restarted.push('jobs', [{ id: 'after', payload: 2 }]))).toBe('ok');
    expect((await readQueue(store, 'jobs')).broker).toMatchObject({ id: 'b0', url: 'http://b0-new', epoch: 2 });
    const landed = store.landed.get(Q) ?? 0;
    // The old incarnation wakes up believing it leads at epoch 1: it commits nothing.
    await clockOld.advance(4000);
    expect(await codeOf(old.push('jobs', [{ id: 'by-old', payload: 3 }]))).toBe('NOT_LEADER');
    expect(store.landed.get(Q)).toBe(landed);
    // Refused once, it is no restart any more: later requests do not take the topic back.
    await clockOld.advance(STANDBY_RECHECK_MS);
    expect(await codeOf(old.push('jobs', [{ id: 'by-old-2', payload: 4 }]))).toBe('NOT_LEADER');
    expect(await codeOf(restarted.push('jobs', [{ id: 'more', payload: 5 }]))).toBe('ok');
    const q = await readQueue(store, 'jobs');
    expect(q.broker).toMatchObject({ url: 'http://b0-new', epoch: 2 });
    expect(q.jobs.map((j: { id: string }) => j.id).sort()).toEqual(['after', 'before', 'more']);
  });

  it('an idle leader renews its lease at about a third of its length', async () => {
    const clock = new FakeClock();
    const store = counting(createMemoryStore());
    const a = new Broker({ store, clock, id: 'A', leaseMs: 3000 });
    await a.push('jobs', [{ payload: 1 }]);
    const writes = store.landed.get(Q)!;
    await clock.advance(10_000);
    const renewals = store.landed.get(Q)! - writes;
    expect(renewals).toBeGreaterThanOrEqual(9);
    expect(renewals).toBeLessThanOrEqual(11);
    expect((await readQueue(store, 'jobs')).broker.leaseUntil).toBeGreaterThan(clock.now());
  });
});

describe('the recent window across a takeover', () => {
  it('a broker that takes over reads the window back from the archive: a retried push of a job archived by the old leader adds nothing, a replayed ack answers ok', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const a = new Broker({ store, clock, id: 'A', url: 'http://a', leaseMs: 1000, archiveWindowMs: 0 });
    await a.push('jobs', [{ id: 'done-1', payload: 1 }, { id: 'live', payload: 2 }]);
    const [job] = await a.claim('jobs', { workerId: 'w', max: 1 });
    await a.ack('jobs', { id: job!.id, workerId: 'w', lease: job!.lease });
    await drive(clock, a.flush());
    const q = await readQueue(store, 'jobs');
    // queue.json names the archive object, not the ids: a commit pays per window, not per job.
    expect(q.done).toEqual([]);
    expect(q.recent).toEqual({ windowMs: 60_000, groups: [{ at: expect.any(Number), key: expect.stringMatching(/^archive\/jobs\//), n: 1 }] });
    expect(JSON.stringify(q.recent)).not.toContain('done-1');
    await a.stop(); // A is gone (its memory too); B starts from storage alone
    const b = new Broker({ store, clock, id: 'B', url: 'http://b', leaseMs: 1000 });
    expect(await b.push('jobs', [{ id: 'done-1', payload: 1 }])).toMatchObject([{ id: 'done-1', created: false, state: 'completed' }]);
    expect(await b.ack('jobs', { id: 'done-1', workerId: 'w', lease: job!.lease })).toEqual({ id: 'done-1' });
    expect(await codeOf(b.ack('jobs', { id: 'done-1', workerId: 'w', lease: 'not-the-lease' }))).toBe('LEASE_LOST');
    expect(await b.get('jobs', 'done-1')).toMatchObject({ id: 'done-1', state: 'completed' });
    expect((await b.stats('jobs')).counters).toMatchObject({ pushed: 2, completed: 1 });
    await b.stop();
  });
});

describe('the recent window: review findings', () => {
  /** A broker A that completes and archives `ids`, then stops; returns the store. */
  async function archivedBy(clock: FakeClock, ids: string[]) {
    const store = createMemoryStore();
    const a = new Broker({ store, clock, id: 'A', url: 'http://a', leaseMs: 1000, archiveWindowMs: 0 });
    await a.push('jobs', ids.map((id) => ({ id, payload: id })));
    const jobs = await a.claim('jobs', { workerId: 'w', max: ids.length });
    await Promise.all(jobs.map((j) => a.ack('jobs', { id: j.id, workerId: 'w', lease: j.lease })));
    await drive(clock, a.flush());
    await a.stop();
    return store;
  }

  it('on a quiet topic an id is forgotten once the window has passed, though no archive op pruned it', async () => {
    const clock = new FakeClock();
    const store = await archivedBy(clock, ['nightly']);
    const b = new Broker({ store, clock, id: 'B', url: 'http://b', leaseMs: 1000 });
    expect(await b.push('jobs', [{ id: 'nightly', payload: 1 }])).toMatchObject([{ created: false, state: 'completed' }]);
    await clock.advance(60_001);
    expect(await drive(clock, b.push('jobs', [{ id: 'nightly', payload: 2 }]))).toMatchObject([{ created: true }]);
    await drive(clock, b.stop());
  });

  it('a transient failure reading the window back fails the batch (UNAVAILABLE) instead of letting a retried push add a job twice', async () => {
    const clock = new FakeClock();
    const inner = await archivedBy(clock, ['done-1']);
    let outage = true;
    let archiveReads = 0;
    const store = {
      ...inner,
      read: (k: string) => {
        if (k.startsWith('archive/')) archiveReads++;
        return outage && k.startsWith('archive/') ? Promise.reject(new QueueError('STORE_UNAVAILABLE', 'test: throttled')) : inner.read(k);
      },
    };
    const b = new Broker({ store, clock, id: 'B', url: 'http://b', leaseMs: 1000, retry: { attempts: 2, baseMs: 1, maxMs: 2 } });
    expect(await codeOf(drive(clock, b.push('jobs', [{ id: 'done-1', payload: 1 }])))).toBe('UNAVAILABLE');
    outage = false;
    expect(await drive(clock, b.push('jobs', [{ id: 'done-1', payload: 1 }]))).toMatchObject([{ created: false, state: 'completed' }]);
    expect(archiveReads).toBe(3); // two tries in the outage, one after
    await drive(clock, b.stop());
  });

  it('a standby never reads the leader\'s archive objects back', async () => {
    const clock = new FakeClock();
    const inner = createMemoryStore();
    let archiveReadsByB = 0;
    const a = new Broker({ store: inner, clock, id: 'A', url: 'http://a', leaseMs: 1000, archiveWindowMs: 0 });
    const bStore = { ...inner, read: (k: string) => (k.startsWith('archive/') && archiveReadsByB++, inner.read(k)) };
    const b = new Broker({ store: bStore, clock, id: 'B', url: 'http://b', leaseMs: 1000 });
    for (let round = 0; round < 5; round++) {
      await a.push('jobs', [{ id: `j${round}`, payload: round }]);
      const [job] = await a.claim('jobs', { workerId: 'w', max: 1 });
      await a.ack('jobs', { id: job!.id, workerId: 'w', lease: job!.lease });
      await drive(clock, a.flush());
      await clock.advance(STANDBY_RECHECK_MS);
      expect(await codeOf(b.stats('jobs'))).toBe('NOT_LEADER'); // B re-read queue.json
    }
    expect(archiveReadsByB).toBe(0);
    await a.stop();
    await b.stop();
  });
});
