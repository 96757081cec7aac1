import { describe, expect, it } from 'vitest';
import { ARCHIVE_WINDOW_MAX_JOBS } from '../../src/core/state.js';
import { Broker } from '../../src/broker/broker.js';
import { HOUSEKEEPING_WAIT_MS } from '../../src/broker/topic-loop.js';
import { FakeClock, settle } from '../../src/clock.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { readQueue } from './helpers.js';

/** A broker whose commits are counted, with one full archive window of acked jobs and their archive written. */
async function archivedWindow() {
  const clock = new FakeClock();
  const store = createMemoryStore();
  const broker = new Broker({ store, clock, archiveWindowMs: 60_000 });
  const commits: string[] = [];
  broker.events.on('batch', (e: { requests: ReadonlyArray<{ op: string }> }) => commits.push(e.requests.map((r) => r.op).join()));
  const n = ARCHIVE_WINDOW_MAX_JOBS;
  await broker.push('jobs', Array.from({ length: n + 2 }, (_, i) => ({ id: `j${i}`, payload: i })));
  await clock.advance(0); // the retention janitor's first run (a commit), out of the way
  for (let i = 0; i < 20; i++) await settle();
  const claimed = await broker.claim('jobs', { workerId: 'w', max: n });
  await Promise.all(claimed.map((j) => broker.ack('jobs', { id: j.id, workerId: 'w', lease: j.lease })));
  // The full window is written at once (no clock movement); its `archived` op then waits.
  for (let i = 0; i < 50 && (await store.list('archive/jobs/')).length === 0; i++) await settle();
  expect(await store.list('archive/jobs/')).toHaveLength(1);
  for (let i = 0; i < 20; i++) await settle();
  return { clock, store, broker, commits, n };
}

describe('deferrable housekeeping', () => {
  it('an archived window leaves the head with the next batch, not in a commit of its own', async () => {
    const { store, broker, commits, n } = await archivedWindow();
    const before = commits.length;
    expect((await readQueue(store, 'jobs')).done).toHaveLength(n); // still there: nothing committed it alone
    await broker.claim('jobs', { workerId: 'w', max: 1 });
    expect(commits.length).toBe(before + 1); // the claim's commit carried it
    expect((await readQueue(store, 'jobs')).done).toHaveLength(0);
    await broker.stop();
  });

  it(`on a topic with no other traffic it commits alone after ${HOUSEKEEPING_WAIT_MS} ms`, async () => {
    const { clock, store, broker, commits } = await archivedWindow();
    const before = commits.length;
    await clock.advance(HOUSEKEEPING_WAIT_MS - 1);
    expect(commits.slice(before)).toEqual([]);
    await clock.advance(1);
    for (let i = 0; i < 50 && commits.length === before; i++) await settle();
    expect(commits.length).toBe(before + 1);
    expect((await readQueue(store, 'jobs')).done).toHaveLength(0);
    await broker.stop();
  });

  it('flush and stop do not wait for it', async () => {
    const { store, broker } = await archivedWindow();
    await broker.flush(); // the fake clock stands still: a wait on it would never end
    expect((await readQueue(store, 'jobs')).done).toHaveLength(0);
    await broker.stop();
  });
});

describe('batch gathering', () => {
  it('requests submitted in separate callbacks of one event-loop turn share one commit', async () => {
    const clock = new FakeClock();
    const broker = new Broker({ store: createMemoryStore(), clock });
    await broker.push('jobs', [{ id: 'a', payload: 1 }, { id: 'b', payload: 2 }]);
    const [a] = await broker.claim('jobs', { workerId: 'w', max: 1 });
    const commits: number[] = [];
    broker.events.on('commit', (e: { requests: number }) => commits.push(e.requests));
    // As a worker's claim and its acks arrive over two connections: two I/O callbacks, one turn.
    const [claimed, acked] = await Promise.all([
      new Promise((resolve) => setImmediate(() => resolve(broker.claim('jobs', { workerId: 'w', max: 1 })))),
      new Promise((resolve) => setImmediate(() => resolve(broker.ack('jobs', { id: a!.id, workerId: 'w', lease: a!.lease })))),
    ]);
    expect(claimed).toHaveLength(1);
    expect(acked).toMatchObject({ id: 'a' });
    expect(commits).toEqual([2]);
    await broker.stop();
  });
});

describe('retrying dead jobs while their window is archived', () => {
  it('a dead job listed from done and archived by the batch that retries it is read from its archive and retried', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const broker = new Broker({ store, clock, archiveWindowMs: 60_000 });
    const n = ARCHIVE_WINDOW_MAX_JOBS;
    await broker.push('jobs', Array.from({ length: n + 2 }, (_, i) => ({ id: `d${i}`, payload: i, maxAttempts: 1 })));
    await clock.advance(0);
    for (let i = 0; i < 20; i++) await settle();
    const claimed = await broker.claim('jobs', { workerId: 'w', max: n });
    await Promise.all(claimed.map((j) => broker.nack('jobs', { id: j.id, workerId: 'w', lease: j.lease, error: 'fatal' })));
    // The full window of dead jobs is archived at once; its `archived` op waits for the next batch.
    for (let i = 0; i < 50 && (await store.list('archive/jobs/')).length === 0; i++) await settle();
    expect(await store.list('archive/jobs/')).toHaveLength(1);
    for (let i = 0; i < 20; i++) await settle();
    expect((await readQueue(store, 'jobs')).done).toHaveLength(n); // listed from here, full records
    const out = await broker.retryDead('jobs');
    expect(out).toMatchObject({ retried: n, skipped: [] });
    expect((await broker.stats('jobs')).dead).toBe(0);
    await broker.stop();
  });
});
