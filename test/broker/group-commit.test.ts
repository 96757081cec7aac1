import { describe, expect, it } from 'vitest';
import { ARCHIVE_WINDOW_MAX_JOBS } from '../../src/core/state.js';
import { Broker } from '../../src/broker/broker.js';
import { ARCHIVE_SEAL_BYTES } from '../../src/broker/archiver.js';
import { HOUSEKEEPING_WAIT_MS } from '../../src/broker/batch-deferral.js';
import { FakeClock, settle } from '../../src/clock.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { withFaults } from '../../src/storage/faulty.js';
import { drive } from '../embedded-helpers.js';
import { codeOf, counting, readQueue } from './helpers.js';

const Q = 'topics/jobs/queue.json';

function setup(latency = 0) {
  const clock = new FakeClock();
  const base = createMemoryStore();
  const store = counting(withFaults(base, { latency }, () => 0.5, (ms) => clock.sleep(ms)));
  const broker = new Broker({ store, clock, id: 'b1', url: 'http://b1' });
  return { clock, base, store, broker };
}


describe('group commit', () => {
  it('runs a job through push, claim and ack, acknowledging only after the write', async () => {
    const { broker, store, clock } = setup();
    const [pushed] = await broker.push('jobs', [{ id: 'j1', payload: { hello: 'world' } }]);
    expect(pushed).toMatchObject({ id: 'j1', created: true });
    expect((await readQueue(store, 'jobs')).jobs.map((j: { id: string }) => j.id)).toEqual(['j1']);
    const [job] = await broker.claim('jobs', { workerId: 'w', max: 5 });
    expect(job).toMatchObject({ id: 'j1', attempt: 1, payload: { hello: 'world' } });
    await broker.ack('jobs', { id: 'j1', workerId: 'w', lease: job!.lease, result: 42 });
    await drive(clock, broker.flush());
    const q = await readQueue(store, 'jobs');
    expect(q.jobs).toEqual([]);
    expect(q.done).toEqual([]);
    expect(q.counters.completed).toBe(1);
    const archives = await store.list('archive/jobs/');
    expect(archives).toHaveLength(1);
    const archived = JSON.parse(Buffer.from((await store.read(archives[0]!))!.body).toString());
    expect(archived.jobs[0]).toMatchObject({ id: 'j1', state: 'completed', result: 42, payload: { hello: 'world' } });
  });

  it('never has more than one write in flight per topic, and 1,000 concurrent pushes under 50 ms latency take a handful of commits', async () => {
    const { broker, store, clock } = setup(50);
    await drive(clock, broker.push('jobs', [{ payload: 0 }])); // election + first commit
    const before = store.landed.get(Q) ?? 0;
    const pushes = Array.from({ length: 1000 }, (_, i) => broker.push('jobs', [{ id: `p${i}`, payload: i }]));
    await drive(clock, Promise.all(pushes));
    const commits = (store.landed.get(Q) ?? 0) - before;
    expect(store.maxInFlight.get(Q)).toBe(1);
    expect(commits).toBeGreaterThanOrEqual(1);
    expect(commits).toBeLessThanOrEqual(5);
    expect((await broker.stats('jobs')).pending).toBe(1001);
  });

  it('keeps one write in flight while pushes, claims and acks interleave', async () => {
    const { broker, store, clock } = setup(20);
    const work = async (i: number) => {
      await broker.push('jobs', [{ id: `x${i}`, payload: i }]);
      const jobs = await broker.claim('jobs', { workerId: `w${i}`, max: 2 });
      for (const j of jobs) await broker.ack('jobs', { id: j.id, workerId: `w${i}`, lease: j.lease });
    };
    await drive(clock, Promise.all(Array.from({ length: 200 }, (_, i) => work(i))));
    expect(store.maxInFlight.get(Q)).toBe(1);
  });

  it('writes nothing for a batch that changes nothing', async () => {
    const { broker, store } = setup();
    await broker.push('jobs', [{ payload: 1 }]);
    await broker.claim('jobs', { workerId: 'w', max: 1 });
    const writes = store.writeCalls;
    expect(await broker.claim('jobs', { workerId: 'w', max: 1 })).toEqual([]);
    await broker.stats('jobs');
    await broker.get('jobs', (await broker.push('jobs', [{ id: 'dup', payload: 1 }]))[0]!.id);
    const afterPush = store.writeCalls;
    expect(afterPush).toBe(writes + 1);
    await broker.push('jobs', [{ id: 'dup', payload: 2 }]); // duplicate: nothing changes
    expect(store.writeCalls).toBe(afterPush);
  });

  it("isolates one op's error from the rest of its batch", async () => {
    const { broker, clock } = setup(10);
    await drive(clock, broker.push('jobs', [{ id: 'a', payload: 1 }]));
    const results = await drive(
      clock,
      Promise.all([codeOf(broker.push('jobs', [{ id: 'b', payload: 2 }])), codeOf(broker.ack('jobs', { id: 'a', workerId: 'w', lease: 'nope' })), codeOf(broker.cancel('jobs', 'missing'))]),
    );
    expect(results).toEqual(['ok', 'LEASE_LOST', 'NOT_FOUND']);
    expect((await drive(clock, broker.stats('jobs'))).pending).toBe(2);
  });

  it('rejects bad input with INVALID_ARGUMENT before anything is written', async () => {
    const { broker, store } = setup();
    expect(await codeOf(broker.push('bad topic!', [{ payload: 1 }]))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(broker.push('jobs', [{ payload: 1, priority: 1.5 }]))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(broker.push('jobs', []))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(broker.claim('jobs', { workerId: '', max: 1 }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(broker.push('jobs', [{ payload: 1, extra: true } as never]))).toBe('INVALID_ARGUMENT');
    expect(store.writeCalls).toBe(0);
  });

  it('stores large payloads as their own objects and removes them when archived', async () => {
    const clock = new FakeClock();
    const store = counting(createMemoryStore());
    const broker = new Broker({ store, clock, payloadThreshold: 100 });
    const big = 'x'.repeat(500);
    await broker.push('jobs', [{ id: 'big', payload: { big } }, { id: 'small', payload: 1 }]);
    const q = await readQueue(store, 'jobs');
    expect(q.jobs.find((j: { id: string }) => j.id === 'big').payloadRef).toBeDefined();
    expect(JSON.stringify(q)).not.toContain(big);
    expect(await store.list('payloads/jobs/')).toHaveLength(1);
    const jobs = await broker.claim('jobs', { workerId: 'w', max: 2 });
    expect(jobs.find((j) => j.id === 'big')!.payload).toEqual({ big });
    for (const j of jobs) await broker.ack('jobs', { id: j.id, workerId: 'w', lease: j.lease });
    await drive(clock, broker.flush());
    expect(await store.list('payloads/jobs/')).toEqual([]);
    const [archive] = await store.list('archive/jobs/');
    expect(Buffer.from((await store.read(archive!))!.body).toString()).toContain(big);
  });

  it('a finished job archived within the recent window: get reads its whole record back, a push of its id answers only its state, and past the window it is NOT_FOUND', async () => {
    const { broker, clock } = setup();
    await broker.push('jobs', [{ id: 'j1', payload: { hello: 'world' }, priority: 3 }]);
    const [job] = await broker.claim('jobs', { workerId: 'w' });
    await broker.ack('jobs', { id: 'j1', workerId: 'w', lease: job!.lease, result: 42 });
    await drive(clock, broker.flush()); // archived: queue.json holds only the recent window's entry
    // The real record, not placeholders (it answered attempts 0, maxAttempts 0, createdAt 0, no result).
    const got = await broker.get('jobs', 'j1');
    expect(got).toMatchObject({ id: 'j1', state: 'completed', result: 42, payload: { hello: 'world' }, priority: 3, attempts: 1, maxAttempts: expect.any(Number) });
    expect(got.maxAttempts).toBeGreaterThan(0);
    expect(got.createdAt).toBeGreaterThan(0);
    const [again] = await broker.push('jobs', [{ id: 'j1', payload: 'retried' }]);
    expect(again).toEqual({ id: 'j1', created: false, state: 'completed' });
    await clock.advance(61_000); // past the default 60 s window
    expect(await codeOf(broker.get('jobs', 'j1'))).toBe('NOT_FOUND');
  });

  it('dead jobs leave queue.json, stay findable, and can be retried from their archive', async () => {
    const { broker, store, clock } = setup();
    await broker.push('jobs', [{ id: 'd', payload: { n: 1 }, maxAttempts: 1 }]);
    const [job] = await broker.claim('jobs', { workerId: 'w' });
    await broker.nack('jobs', { id: 'd', workerId: 'w', lease: job!.lease, error: 'kaput' });
    await drive(clock, broker.flush());
    const q = await readQueue(store, 'jobs');
    expect(q.jobs).toEqual([]);
    expect(q.done).toEqual([]);
    expect(Object.keys(q.dead)).toEqual(['d']);
    expect(await broker.get('jobs', 'd')).toMatchObject({ state: 'dead', lastError: 'kaput', payload: { n: 1 } });
    expect(await broker.retry('jobs', 'd')).toMatchObject({ state: 'pending' });
    const [again] = await broker.claim('jobs', { workerId: 'w' });
    expect(again).toMatchObject({ id: 'd', attempt: 1, payload: { n: 1 } });
  });

  it('enforces archive retention and expires dead-letter entries past it', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const broker = new Broker({ store, clock, retentionMs: 2 * 86_400_000 });
    await broker.push('jobs', [{ id: 'a', payload: 1 }, { id: 'b', payload: 2, maxAttempts: 1 }]);
    for (const j of await broker.claim('jobs', { workerId: 'w', max: 2 })) {
      if (j.id === 'a') await broker.ack('jobs', { id: j.id, workerId: 'w', lease: j.lease });
      else await broker.nack('jobs', { id: j.id, workerId: 'w', lease: j.lease });
    }
    await drive(clock, broker.flush());
    // The ack and the nack were two commits inside one archive window: one archive object.
    expect(await store.list('archive/jobs/')).toHaveLength(1);
    await clock.advance(86_400_000);
    await broker.janitor('jobs');
    expect(await store.list('archive/jobs/')).toHaveLength(1);
    // The leader's hourly janitor collects them on its own once they pass retention.
    await clock.advance(2 * 86_400_000);
    await drive(clock, broker.flush());
    expect(await store.list('archive/jobs/')).toEqual([]);
    const stats = await broker.stats('jobs');
    expect(stats.dead).toBe(0);
    expect(stats.counters.deadExpired).toBe(1);
    await broker.stop();
  });

  it('gathers the jobs finished in one archive window into one object, sealed and written when the window ends', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const broker = new Broker({ store, clock, archiveWindowMs: 200 });
    await broker.push('jobs', ['a', 'b', 'c'].map((id) => ({ id, payload: id })));
    const claimed = await broker.claim('jobs', { workerId: 'w', max: 3 });
    for (const j of claimed.slice(0, 2)) {
      await broker.ack('jobs', { id: j.id, workerId: 'w', lease: j.lease });
      await clock.advance(50); // separate commits, inside the window
    }
    expect(await store.list('archive/jobs/')).toEqual([]);
    expect((await broker.stats('jobs')).archiving).toBe(2);
    await clock.advance(100); // the window (opened by the first ack) ends: its timer seals it, then it is written
    for (let i = 0; i < 50 && (await store.list('archive/jobs/')).length === 0; i++) await settle();
    const [key, ...more] = await store.list('archive/jobs/');
    expect(more).toEqual([]);
    const archived = JSON.parse(Buffer.from((await store.read(key!))!.body).toString('utf8')) as { jobs: Array<{ id: string }> };
    expect(archived.jobs.map((j) => j.id)).toEqual(['a', 'b']);
    // A job finishing after the seal opens a new window, hence a new object: none is written twice.
    await broker.ack('jobs', { id: 'c', workerId: 'w', lease: claimed[2]!.lease });
    await drive(clock, broker.flush());
    expect(await store.list('archive/jobs/')).toHaveLength(2);
    expect((await broker.stats('jobs')).archiving).toBe(0);
    await broker.stop();
  });

  it('a window whose records reach ARCHIVE_SEAL_BYTES is sealed and written at once, not after its time: large records do not wait in every commit', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const broker = new Broker({ store, clock, archiveWindowMs: 60_000 });
    const payload = 'p'.repeat(Math.ceil(ARCHIVE_SEAL_BYTES / 3)); // inline (below the payload threshold)
    await broker.push('jobs', ['a', 'b', 'c', 'd'].map((id) => ({ id, payload })));
    const claimed = await broker.claim('jobs', { workerId: 'w', max: 4 });
    /** The archive objects once the archiver has done what it does without the clock moving. */
    const written = async () => {
      for (let i = 0; i < 50; i++) await settle();
      return store.list('archive/jobs/');
    };
    await broker.ack('jobs', { id: 'a', workerId: 'w', lease: claimed[0]!.lease });
    await broker.ack('jobs', { id: 'b', workerId: 'w', lease: claimed[1]!.lease });
    expect(await written()).toEqual([]); // about two thirds of the bound: the window waits for its time
    await broker.ack('jobs', { id: 'c', workerId: 'w', lease: claimed[2]!.lease });
    const [key, ...more] = await written(); // past it: sealed and written with no clock movement
    expect(more).toEqual([]);
    expect((JSON.parse(Buffer.from((await store.read(key!))!.body).toString('utf8')) as { jobs: Array<{ id: string }> }).jobs.map((j) => j.id)).toEqual(['a', 'b', 'c']);
    // They leave queue.json with the next batch, or after the housekeeping wait on an idle topic.
    await clock.advance(HOUSEKEEPING_WAIT_MS);
    for (let i = 0; i < 50 && (await broker.stats('jobs')).archiving > 0; i++) await settle();
    expect((await broker.stats('jobs')).archiving).toBe(0);
    await broker.ack('jobs', { id: 'd', workerId: 'w', lease: claimed[3]!.lease }); // a new window, on its timer again
    expect(await written()).toHaveLength(1);
    await broker.stop();
  });

  it('a full window is written as soon as the commit that filled it landed, and later jobs open a new one', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const broker = new Broker({ store, clock, archiveWindowMs: 60_000 });
    const n = ARCHIVE_WINDOW_MAX_JOBS + 10;
    await broker.push('jobs', Array.from({ length: n + 1 }, (_, i) => ({ id: `j${i}`, payload: i })));
    const claimed = await broker.claim('jobs', { workerId: 'w', max: n + 1 });
    // One commit finishes n jobs: they all join one window, which is full.
    await Promise.all(claimed.slice(0, n).map((j) => broker.ack('jobs', { id: j.id, workerId: 'w', lease: j.lease })));
    // No clock movement: the full window is written without waiting for its time.
    for (let i = 0; i < 50 && (await broker.stats('jobs')).archiving > 0; i++) await settle();
    const keys = await store.list('archive/jobs/');
    expect(keys).toHaveLength(1);
    const archived = JSON.parse(Buffer.from((await store.read(keys[0]!))!.body).toString('utf8')) as { jobs: unknown[] };
    expect(archived.jobs).toHaveLength(n);
    // The next job to finish opens a new window (never the written one), which waits for its time.
    await broker.ack('jobs', { id: claimed[n]!.id, workerId: 'w', lease: claimed[n]!.lease });
    expect((await broker.stats('jobs')).archiving).toBe(1);
    expect((await readQueue(store, 'jobs')).archiveOpen).toMatchObject({ n: 1 });
    await drive(clock, broker.stop());
    expect(await store.list('archive/jobs/')).toHaveLength(2); // stop seals and writes the rest
  });

  it('answers a long-polling claim as soon as a job is pushed, and with nothing when time is up', async () => {
    const { broker, clock } = setup();
    await broker.stats('jobs');
    const waiting = broker.claim('jobs', { workerId: 'w', waitMs: 5000 });
    await clock.advance(1000);
    await broker.push('jobs', [{ id: 'late', payload: 1 }]);
    expect((await waiting).map((j) => j.id)).toEqual(['late']);
    const empty = broker.claim('jobs', { workerId: 'w', waitMs: 2000 });
    let settled = false;
    void empty.then(() => (settled = true));
    await clock.advance(1999);
    expect(settled).toBe(false);
    await clock.advance(1);
    expect(await empty).toEqual([]);
  });

  it('wakes a long poll when a delayed job comes due', async () => {
    const { broker, clock } = setup();
    await broker.push('jobs', [{ id: 'later', payload: 1, delayMs: 3000 }]);
    const waiting = broker.claim('jobs', { workerId: 'w', waitMs: 10_000 });
    await clock.advance(3000);
    expect((await waiting).map((j) => j.id)).toEqual(['later']);
  });

  it('a long poll aborted by its caller claims nothing', async () => {
    const { broker, clock } = setup();
    await broker.stats('jobs');
    const ac = new AbortController();
    const waiting = broker.claim('jobs', { workerId: 'gone', waitMs: 5000 }, ac.signal);
    await clock.advance(10);
    ac.abort();
    expect(await codeOf(waiting)).toBe('CLOSED');
    await broker.push('jobs', [{ id: 'j', payload: 1 }]);
    await settle();
    expect(await broker.stats('jobs')).toMatchObject({ pending: 1, claimed: 0 });
  });

  it('refuses a corrupt or newer queue.json with CORRUPT_STATE naming it, and never overwrites it', async () => {
    const { broker, base } = setup();
    await base.write(Q, 'this is not json');
    const err = await broker.push('jobs', [{ payload: 1 }]).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'CORRUPT_STATE' });
    expect((err as Error).message).toContain(Q);
    expect(Buffer.from((await base.read(Q))!.body).toString()).toBe('this is not json');
    await base.write('topics/newer/queue.json', JSON.stringify({ format: 99, topic: 'newer', seq: 1, nextOrder: 1, jobs: [] }));
    const err2 = await broker.push('newer', [{ payload: 1 }]).catch((e: Error) => e);
    expect(err2).toMatchObject({ code: 'CORRUPT_STATE' });
    expect((err2 as Error).message).toMatch(/newer bucketq/);
  });

  it('upgrades a format-1 queue.json (no archive window, no recent window) on its first commit', async () => {
    const { broker, base } = setup();
    // As format 1 wrote it: every setting and counter, no archiveOpen, no recent.
    const settings = { maxAttempts: 3, backoff: { type: 'fixed', delayMs: 100 }, paused: false };
    const counters = { pushed: 1, claimed: 0, completed: 0, nacked: 0, dead: 0, cancelled: 0, retried: 0, leasesExpired: 0, deadExpired: 0 };
    const v1 = { format: 1, topic: 'jobs', seq: 7, writer: 'old', time: 0, broker: null, settings, nextOrder: 2, counters, dead: {}, done: [],
      jobs: [{ id: 'old-1', state: 'pending', payload: 'from v1', priority: 0, order: 1, runAt: 0, attempts: 0, maxAttempts: 3, createdAt: 0, updatedAt: 0 }] };
    await base.write(Q, JSON.stringify(v1));
    await broker.push('jobs', [{ id: 'new-1', payload: 'from v2' }]);
    const q = await readQueue(base, 'jobs');
    expect(q).toMatchObject({ format: 3, seq: 8, archiveOpen: null, recent: { windowMs: 60_000, groups: [] }, counters: { pushed: 2 } });
    expect(q.jobs.map((j: { id: string }) => j.id)).toEqual(['old-1', 'new-1']);
    expect((await broker.claim('jobs', { workerId: 'w', max: 1 }))[0]).toMatchObject({ id: 'old-1', payload: 'from v1' });
  });
});
