/**
 * State that existed is never re-created implicitly. A broker that read or wrote a topic's
 * queue.json and then finds it missing (or behind the commit it saw) stops serving the topic with
 * STATE_LOST, reports it once, and writes nothing until an operator resets the topic; a topic that
 * never existed is still created by its first push. Memory store, fake clock.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { STANDBY_RECHECK_MS } from '../../src/broker/leadership.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { drive } from '../embedded-helpers.js';
import { codeOf, readQueue } from './helpers.js';

const Q = 'topics/jobs/queue.json';
const LEASE_MS = 3000;

function broker(store: StorageDriver, clock: FakeClock, id: string, extra: Partial<ConstructorParameters<typeof Broker>[0]> = {}): Broker {
  return new Broker({ store, clock, id, url: `http://${id.toLowerCase()}`, leaseMs: LEASE_MS, archiveWindowMs: 0, ...extra });
}

/** Every 'state-lost' event of a broker. */
function lostEvents(b: Broker): Array<{ topic: string; seq: number; error: { code: string; message: string } }> {
  const seen: Array<{ topic: string; seq: number; error: { code: string; message: string } }> = [];
  b.events.on('state-lost', (e) => seen.push(e));
  return seen;
}

describe('a topic whose queue.json vanishes', () => {
  it('is not re-created by the leader: its lease renewal finds it gone and the topic answers STATE_LOST', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const a = broker(store, clock, 'A');
    const lost = lostEvents(a);
    await a.push('jobs', [{ id: 'j1', payload: 1 }, { id: 'j2', payload: 2 }]);
    const before = await readQueue(store, 'jobs');
    await store.delete(Q);

    await clock.advance(LEASE_MS); // several renewal times, no request
    expect(await store.read(Q)).toBeNull(); // nothing written: no empty queue.json with seq 1
    expect(lost).toHaveLength(1); // reported once
    expect(lost[0]).toMatchObject({ topic: 'jobs', seq: before.seq, error: { code: 'STATE_LOST' } });
    expect(lost[0]!.error.message).toMatch(/topics\/jobs\/queue\.json vanished after commit \d+/);

    for (const call of [() => a.push('jobs', [{ id: 'j3', payload: 3 }]), () => a.stats('jobs'), () => a.claim('jobs', { workerId: 'w' }), () => a.get('jobs', 'j1')]) {
      expect(await codeOf(call())).toBe('STATE_LOST');
    }
    await clock.advance(5 * STANDBY_RECHECK_MS); // requests may look again once a second: still nothing
    expect(await codeOf(a.push('jobs', [{ id: 'j4', payload: 4 }]))).toBe('STATE_LOST');
    expect(await store.read(Q)).toBeNull();
    expect(lost).toHaveLength(1);
    expect(a.topicTroubles()).toMatchObject([{ topic: 'jobs', trouble: 'state-lost', error: { code: 'STATE_LOST' } }]);
    expect(a.topicLeases()).toMatchObject([{ topic: 'jobs', leading: false, stateLost: { code: 'STATE_LOST', seq: before.seq, memorySeq: expect.any(Number) } }]);
  });

  it('long polls parked on the topic end with STATE_LOST', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const a = broker(store, clock, 'A');
    await a.push('jobs', [{ id: 'j1', payload: 1 }]);
    await a.claim('jobs', { workerId: 'w', max: 1 });
    const parked = a.claim('jobs', { workerId: 'w', waitMs: 20_000 });
    await store.delete(Q);
    expect(await drive(clock, codeOf(parked))).toBe('STATE_LOST');
  });

  it('a topic that never existed is still created by its first push, a large payload written first included', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const a = broker(store, clock, 'A', { payloadThreshold: 16 });
    await a.push('fresh', [{ id: 'big', payload: 'x'.repeat(100) }]); // payloads/fresh/... is written before queue.json
    expect((await readQueue(store, 'fresh')).jobs.map((j: { id: string }) => j.id)).toEqual(['big']);
    expect(a.topicTroubles()).toEqual([]);
  });

  it('a standby that read the topic refuses it too, rather than electing itself into an empty object', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const a = broker(store, clock, 'A');
    const b = broker(store, clock, 'B');
    await a.push('jobs', [{ id: 'j1', payload: 1 }]);
    expect(await codeOf(b.stats('jobs'))).toBe('NOT_LEADER'); // b read the object
    await a.stop(); // a is gone: its lease is released
    await store.delete(Q);
    await clock.advance(STANDBY_RECHECK_MS);
    expect(await codeOf(b.push('jobs', [{ id: 'j2', payload: 2 }]))).toBe('STATE_LOST');
    expect(await store.read(Q)).toBeNull();
  });

  it('a broker that never saw the topic refuses it when archive objects show it existed, and a reset continues past their seq', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const a = broker(store, clock, 'A');
    await a.push('jobs', [{ id: 'j1', payload: 1 }]);
    const [job] = await a.claim('jobs', { workerId: 'w', max: 1 });
    await a.ack('jobs', { id: job!.id, workerId: 'w', lease: job!.lease });
    await a.flush();
    const archives = await store.list('archive/jobs/');
    expect(archives.length).toBeGreaterThan(0);
    await a.stop();
    await store.delete(Q); // then a broker restarts with no memory of the topic

    const c = broker(store, clock, 'C');
    const err = await c.push('jobs', [{ id: 'j2', payload: 2 }]).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'STATE_LOST', message: expect.stringContaining('archive object') });
    expect(await store.read(Q)).toBeNull();

    const archivedSeq = Math.max(...archives.map((k) => Number(/(\d+)\.json$/.exec(k)![1])));
    const reset = await c.resetTopic('jobs');
    expect(reset).toMatchObject({ topic: 'jobs', action: 'fresh', jobs: { pending: 0, claimed: 0 } });
    expect(reset.seq).toBeGreaterThan(archivedSeq); // new archive keys cannot overwrite the old ones
    expect(await codeOf(c.push('jobs', [{ id: 'j2', payload: 2 }]))).toBe('ok');
  });

  it('an object behind the commit a broker saw (re-created by a broker without memory of it) is refused too', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const a = broker(store, clock, 'A');
    for (let i = 0; i < 5; i++) await a.push('jobs', [{ id: `j${i}`, payload: i }]);
    const seen = (await readQueue(store, 'jobs')).seq;
    await store.delete(Q);
    // Before A notices, a restarted broker with no memory of the topic (and no archives to tell) creates it anew.
    const d = broker(store, new FakeClock(clock.now() + 10 * LEASE_MS), 'D');
    await d.push('jobs', [{ id: 'other', payload: 0 }]);
    expect((await readQueue(store, 'jobs')).seq).toBeLessThan(seen);
    const lost = lostEvents(a);
    await clock.advance(LEASE_MS); // A's renewal conflicts, it re-reads: seq went back
    expect(lost).toMatchObject([{ topic: 'jobs', error: { code: 'STATE_LOST', message: expect.stringMatching(/went back from commit \d+ to commit \d+/) } }]);
    expect(await codeOf(a.stats('jobs'))).toBe('STATE_LOST');
  });
});

describe('resetting a lost topic', () => {
  async function lostLeader() {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const a = broker(store, clock, 'A');
    await a.push('jobs', [{ id: 'j1', payload: 1 }, { id: 'j2', payload: 2 }, { id: 'j3', payload: 3 }]);
    const [claimed] = await a.claim('jobs', { workerId: 'w', max: 1 });
    const before = await readQueue(store, 'jobs');
    await store.delete(Q);
    await clock.advance(LEASE_MS);
    expect(await codeOf(a.stats('jobs'))).toBe('STATE_LOST');
    return { clock, store, a, claimed: claimed!, before };
  }

  it('fresh: an empty topic whose seq and epoch continue, served at once', async () => {
    const { store, a, before } = await lostLeader();
    const out = await a.resetTopic('jobs');
    expect(out).toMatchObject({ action: 'fresh', jobs: { pending: 0, delayed: 0, claimed: 0, dead: 0 } });
    const q = await readQueue(store, 'jobs');
    expect(q.seq).toBe(before.seq + 1);
    expect(q.broker).toMatchObject({ id: 'A', epoch: before.broker.epoch + 1 });
    expect(q.jobs).toEqual([]);
    expect(a.topicTroubles()).toEqual([]);
    expect(await codeOf(a.push('jobs', [{ id: 'after', payload: 1 }]))).toBe('ok');
  });

  it('from memory: the last commit the leader landed comes back, claims and their leases included', async () => {
    const { store, a, claimed, before } = await lostLeader();
    const out = await a.resetTopic('jobs', { restoreFromMemory: true });
    expect(out).toMatchObject({ action: 'restored', seq: before.seq + 1, jobs: { pending: 2, claimed: 1 } });
    const q = await readQueue(store, 'jobs');
    expect(q.jobs.map((j: { id: string }) => j.id).sort()).toEqual(['j1', 'j2', 'j3']);
    expect(q.counters).toEqual(before.counters);
    // The worker holding j1 can still ack it.
    expect(await codeOf(a.ack('jobs', { id: claimed.id, workerId: 'w', lease: claimed.lease }))).toBe('ok');
  });

  it('refuses a topic whose state is in place and a topic that never existed, writing nothing', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const a = broker(store, clock, 'A');
    await a.push('jobs', [{ id: 'j1', payload: 1 }]);
    const etag = (await store.read(Q))!.etag;
    expect(await codeOf(a.resetTopic('jobs'))).toBe('FAILED_PRECONDITION');
    expect(await codeOf(a.resetTopic('jobs', { restoreFromMemory: true }))).toBe('FAILED_PRECONDITION');
    expect((await store.read(Q))!.etag).toBe(etag);
    expect(await codeOf(a.resetTopic('nothing'))).toBe('NOT_FOUND');
    expect(await store.list('topics/nothing/')).toEqual([]);
  });

  it('a reset on a leader that has not noticed yet finds the object gone and resets it', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const a = broker(store, clock, 'A');
    const lost = lostEvents(a);
    await a.push('jobs', [{ id: 'j1', payload: 1 }]);
    await store.delete(Q);
    expect(await a.resetTopic('jobs', { restoreFromMemory: true })).toMatchObject({ action: 'restored', jobs: { pending: 1 } });
    expect(lost).toHaveLength(1);
  });

  it('restoring from memory needs a broker that led the topic, and never overwrites an object that is back', async () => {
    const { clock, store, a, before } = await lostLeader();
    const b = broker(store, clock, 'B');
    // B never saw 'jobs', and nothing shows it existed (no archives yet): there is nothing B could reset.
    expect(await codeOf(b.resetTopic('jobs', { restoreFromMemory: true }))).toBe('NOT_FOUND');
    // Someone puts an older copy back by hand: a restore from memory would overwrite it.
    await store.write(Q, JSON.stringify({ ...before, seq: 1 }));
    expect(await codeOf(a.resetTopic('jobs', { restoreFromMemory: true }))).toBe('FAILED_PRECONDITION');
    // A plain reset adopts it as it is, even though it is behind what A saw: the operator said so.
    expect(await a.resetTopic('jobs')).toMatchObject({ action: 'adopted', seq: 1 });
    expect(await codeOf(a.push('jobs', [{ id: 'next', payload: 1 }]))).toBe('ok');
    expect((await readQueue(store, 'jobs')).seq).toBe(2);
  });

  it('a standby that found the topic lost carries on by itself once the leader reset it', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const a = broker(store, clock, 'A');
    const b = broker(store, clock, 'B');
    await a.push('jobs', [{ id: 'j1', payload: 1 }]);
    expect(await codeOf(b.stats('jobs'))).toBe('NOT_LEADER');
    await store.delete(Q);
    await clock.advance(LEASE_MS);
    expect(await codeOf(b.stats('jobs'))).toBe('STATE_LOST');
    await a.resetTopic('jobs'); // continues past the seq B saw
    expect(await codeOf(b.stats('jobs'))).toBe('STATE_LOST'); // B trusts its last look for a second
    await clock.advance(STANDBY_RECHECK_MS);
    const err = await b.stats('jobs').catch((e: { code: string; details: Record<string, unknown> }) => e);
    expect(err).toMatchObject({ code: 'NOT_LEADER', details: { leader: 'http://a' } });
    expect(b.topicTroubles()).toEqual([]);
  });
});
