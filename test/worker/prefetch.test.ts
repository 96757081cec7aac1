/**
 * createWorker's claim-ahead (`prefetch`): one claim for the free slots plus the prefetch room,
 * held jobs started as slots free, leases of held jobs kept alive, held jobs handed back untouched
 * on close (Queue.release), and release itself on the embedded queue and over HTTP.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryStore, createQueue, createWorker, FakeClock, QueueError, type ClaimedJob, type Queue, type Worker, type WorkerJob, type WorkerOptions } from '../../src/index.js';
import { createClient } from '../../src/client/index.js';
import { startBrokerServer } from '../../src/server/broker-server.js';
import { codeOf, deferred, drive, until, type Deferred } from '../embedded-helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function setup() {
  const clock = new FakeClock();
  const queue = createQueue<number>({ store: createMemoryStore(), topic: 'work', clock });
  cleanup.push(() => drive(clock, queue.close()));
  const start = <R>(handler: (job: WorkerJob<number>) => Promise<R> | R, opts: WorkerOptions): Worker<number, R> => {
    const worker = createWorker(queue, handler, opts);
    worker.on('error', () => {});
    cleanup.push(() => drive(clock, worker.close({ timeoutMs: 0 })));
    return worker;
  };
  return { clock, queue, start };
}

/** A handler whose jobs wait for the test; `started` lists job ids in the order handlers began. */
function gated() {
  const gates = new Map<string, Deferred<string>>();
  const started: string[] = [];
  const handler = (job: WorkerJob<number>): Promise<string> => {
    const d = deferred<string>();
    gates.set(job.id, d);
    started.push(job.id);
    return d.promise;
  };
  return { gates, started, handler };
}

const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `j${String(i + from).padStart(2, '0')}`);

async function pushN(queue: Queue<number>, n: number, opts: { maxAttempts?: number } = {}): Promise<void> {
  await queue.pushMany(ids(n).map((id, i) => ({ id, payload: i, ...opts })));
}

describe('createWorker with prefetch', () => {
  it('claims the free slots plus the prefetch in one call, and starts held jobs in claim order as slots free', async () => {
    const { clock, queue, start } = setup();
    await pushN(queue, 30);
    const claim = vi.spyOn(queue, 'claim');
    const { gates, started, handler } = gated();
    const worker = start(handler, { concurrency: 2, prefetch: 6 });
    await until(clock, () => started.length === 2 && worker.held === 6);
    expect(claim).toHaveBeenCalledTimes(1);
    expect(claim.mock.calls[0]![0]).toMatchObject({ max: 8 });
    expect(worker.running).toBe(2);
    expect((await queue.stats()).claimed).toBe(8);

    // Two slots free: the next two held jobs start at once, and no claim goes out (2 < half of 6).
    gates.get('j00')!.resolve('a');
    gates.get('j01')!.resolve('b');
    await until(clock, () => started.length === 4);
    expect(started).toEqual(ids(4));
    expect(worker.held).toBe(4);
    expect(claim).toHaveBeenCalledTimes(1);

    // One more free makes three of six: a top-up claim for the whole room.
    gates.get('j02')!.resolve('c');
    await until(clock, () => claim.mock.calls.length === 2);
    expect(claim.mock.calls[1]![0]).toMatchObject({ max: 3 });
    await until(clock, () => worker.held === 6);
    expect(started).toEqual(ids(5));
  });

  it('without prefetch claims only the free slots (unchanged behaviour)', async () => {
    const { clock, queue, start } = setup();
    await pushN(queue, 10);
    const claim = vi.spyOn(queue, 'claim');
    const { started, handler } = gated();
    const worker = start(handler, { concurrency: 3 });
    await until(clock, () => started.length === 3);
    expect(claim.mock.calls[0]![0]).toMatchObject({ max: 3 });
    expect(worker.held).toBe(0);
    expect((await queue.stats()).claimed).toBe(3);
  });

  it('keeps the leases of held jobs alive: they run long after one lease would have expired, each delivered once', async () => {
    const { clock, queue, start } = setup();
    await pushN(queue, 4);
    const { gates, started, handler } = gated();
    const completed: string[] = [];
    const worker = start(handler, { concurrency: 1, prefetch: 3, leaseMs: 3000, heartbeatMs: 1000 });
    worker.on('completed', (job) => completed.push(job.id));
    await until(clock, () => started.length === 1 && worker.held === 3);
    for (const id of ids(4)) {
      await clock.advance(10_000); // over three leases per job
      await until(clock, () => gates.has(id));
      gates.get(id)!.resolve('done');
      await until(clock, () => completed.includes(id));
    }
    expect(completed).toEqual(ids(4));
    expect((await queue.stats()).counters).toMatchObject({ claimed: 4, completed: 4, leasesExpired: 0 });
  });

  it('close hands held jobs back untouched (their attempt not counted) and lets running ones finish', async () => {
    const { clock, queue, start } = setup();
    await pushN(queue, 5, { maxAttempts: 1 }); // a counted attempt would dead-letter them
    const { gates, started, handler } = gated();
    const worker = start(handler, { concurrency: 1, prefetch: 4 });
    await until(clock, () => worker.held === 4);
    const closing = worker.close({ timeoutMs: 60_000 });
    await until(clock, async () => (await queue.stats()).pending === 4);
    expect(worker.held).toBe(0);
    for (const id of ids(4, 1)) expect(await queue.get(id)).toMatchObject({ state: 'pending', attempts: 0 });
    expect((await queue.get('j01')).lastError).toBeUndefined();
    gates.get('j00')!.resolve('finished');
    await drive(clock, closing);
    expect(started).toEqual(['j00']);
    expect(await queue.stats()).toMatchObject({ pending: 4, claimed: 0, dead: 0, counters: { completed: 1 } });
  });

  it('a held job whose lease was lost is dropped, never run', async () => {
    const { clock, queue, start } = setup();
    await pushN(queue, 2);
    const claim = vi.spyOn(queue, 'claim');
    const { gates, started, handler } = gated();
    const lost: string[] = [];
    const worker = start(handler, { concurrency: 1, prefetch: 1, leaseMs: 3000, heartbeatMs: 1000 });
    worker.on('lease-lost', (job) => lost.push(job.id));
    await until(clock, () => worker.held === 1);
    // Take the held job's lease away behind the worker's back (as an expiry and another claim would).
    const held = ((await claim.mock.results[0]!.value) as ClaimedJob<number>[]).find((j) => j.id === 'j01')!;
    await queue.pause(); // so the worker cannot simply claim it again
    expect(await queue.release([held])).toEqual({ released: 1 });
    await clock.advance(1500); // its next heartbeat answers LEASE_LOST
    await until(clock, () => lost.includes('j01'));
    expect(worker.held).toBe(0);
    gates.get('j00')!.resolve('ok');
    await clock.advance(100);
    expect(started).toEqual(['j00']);
  });

  it('a held job whose lease ran out while its heartbeats failed is dropped, not started', async () => {
    const { clock, queue, start } = setup();
    await pushN(queue, 2);
    const real = queue.heartbeat.bind(queue);
    vi.spyOn(queue, 'heartbeat').mockImplementation((job, ms) => (job.id === 'j01' ? Promise.reject(new QueueError('UNAVAILABLE', 'store down')) : real(job, ms)));
    const { gates, started, handler } = gated();
    const lost: string[] = [];
    const worker = start(handler, { concurrency: 1, prefetch: 1, leaseMs: 3000, heartbeatMs: 1000 });
    worker.on('lease-lost', (job) => lost.push(job.id));
    await until(clock, () => worker.held === 1);
    await queue.pause(); // so nobody (this worker included) claims j01 again meanwhile
    await clock.advance(5000); // past j01's lease: the broker takes it back
    await queue.resume();
    const other = await drive(clock, queue.claim({ workerId: 'other', max: 5 }));
    expect(other.map((j) => j.id)).toEqual(['j01']);
    await queue.ack(other[0]!, 'by other');
    gates.get('j00')!.resolve('ok');
    await until(clock, () => lost.includes('j01'));
    await clock.advance(100);
    expect(started).toEqual(['j00']);
    expect(worker.held).toBe(0);
  });

  it('a release the broker refuses leaves the held jobs ours: they run within the close timeout, none dead-lettered', async () => {
    const { clock, queue, start } = setup();
    await pushN(queue, 3, { maxAttempts: 1 });
    const release = vi.spyOn(queue, 'release').mockRejectedValue(new QueueError('NOT_FOUND', 'no such route (an older broker)'));
    const { gates, started, handler } = gated();
    const errors: string[] = [];
    const worker = start(handler, { concurrency: 1, prefetch: 2, leaseMs: 3000, heartbeatMs: 1000 });
    worker.on('error', (e) => errors.push(e.code));
    await until(clock, () => worker.held === 2);
    const closing = worker.close({ timeoutMs: 60_000 });
    await until(clock, () => errors.includes('NOT_FOUND'));
    for (const id of ids(3)) {
      await until(clock, () => gates.has(id));
      await clock.advance(2000); // each runs longer than a lease: the held ones are heartbeated meanwhile
      gates.get(id)!.resolve('ok');
    }
    await drive(clock, closing);
    expect(release).toHaveBeenCalledTimes(1);
    expect(started).toEqual(ids(3));
    expect(await queue.stats()).toMatchObject({ dead: 0, claimed: 0, counters: { completed: 3, leasesExpired: 0 } });
  });

  it('a claim that lands after close() runs nothing: its jobs go back in one release', async () => {
    const { clock, queue, start } = setup();
    await pushN(queue, 6);
    const landed = deferred();
    const realClaim = queue.claim.bind(queue);
    // The claim reaches the broker, but its answer arrives only after close() (the abort comes too late).
    vi.spyOn(queue, 'claim').mockImplementation(async (opts) => {
      const jobs = await realClaim({ ...opts, signal: undefined });
      await landed.promise;
      return jobs;
    });
    const release = vi.spyOn(queue, 'release');
    const { started, handler } = gated();
    const worker = start(handler, { concurrency: 2, prefetch: 4 });
    await until(clock, async () => (await queue.stats()).claimed === 6);
    const closing = worker.close({ timeoutMs: 60_000 });
    landed.resolve();
    await drive(clock, closing);
    expect(started).toEqual([]);
    expect(release).toHaveBeenCalledTimes(1);
    expect(await queue.stats()).toMatchObject({ pending: 6, claimed: 0 });
  });

  it("refuses a prefetch that is not 'auto' or an integer from 0 to 1000 minus concurrency", () => {
    const { queue } = setup();
    for (const bad of [-1, 1.5, '4', 'Auto', null, 999]) {
      expect(() => createWorker(queue, () => 'x', { concurrency: 2, prefetch: bad as never, autoStart: false })).toThrow(/prefetch must be 'auto' or an integer from 0 to 998/);
    }
  });
});

describe('Queue.release', () => {
  it('embedded: pending again at once with the attempt not counted; a lease not yours is skipped', async () => {
    const { clock, queue } = setup();
    await pushN(queue, 3, { maxAttempts: 1 });
    const claimed = await drive(clock, queue.claim({ workerId: 'w1', max: 3 }));
    expect(await queue.release([claimed[0]!, claimed[1]!])).toEqual({ released: 2 });
    expect(await queue.release([claimed[0]!])).toEqual({ released: 0 }); // replayed: not yours any more
    expect(await queue.release([{ ...claimed[2]!, workerId: 'w2' }])).toEqual({ released: 0 });
    expect(await queue.stats()).toMatchObject({ pending: 2, claimed: 1, dead: 0 });
    const again = await drive(clock, queue.claim({ workerId: 'w1', max: 2 }));
    expect(again.map((j) => [j.id, j.attempt])).toEqual([
      [claimed[0]!.id, 1],
      [claimed[1]!.id, 1],
    ]);
    expect(await codeOf(queue.release([]))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(queue.release('j00' as never))).toBe('INVALID_ARGUMENT');
  });

  it('over HTTP: the client releases, and a bad body is a 400 with a JSON error', async () => {
    const server = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0' });
    cleanup.push(() => server.close());
    const c = createClient<number>({ url: server.url, topic: 'jobs' });
    cleanup.push(() => c.close());
    await c.pushMany([1, 2].map((n) => ({ payload: n, maxAttempts: 1 })));
    const jobs = await c.claim({ workerId: 'w1', max: 2 });
    expect(await c.release(jobs)).toEqual({ released: 2 });
    expect(await c.stats()).toMatchObject({ pending: 2, claimed: 0 });
    for (const body of [{}, { jobs: [] }, { jobs: [{ id: 'x' }] }, { jobs: [{ id: 'x', workerId: 'w', lease: 'l', extra: 1 }] }, { jobs: 'x' }]) {
      const res = await fetch(`${server.url}/v1/topics/jobs/release`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status).toBe(400);
      expect((await res.json()) as unknown).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
    }
    expect(await c.stats()).toMatchObject({ pending: 2, claimed: 0 });
  });

  it('a worker over HTTP with prefetch runs every job once and hands back what it held on close', async () => {
    const server = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0' });
    cleanup.push(() => server.close());
    const c = createClient<number>({ url: server.url, topic: 'jobs' });
    cleanup.push(() => c.close());
    await c.pushMany(Array.from({ length: 200 }, (_, n) => ({ payload: n })));
    const seen: number[] = [];
    const all = deferred();
    const w = createWorker(c, (job) => void (seen.push(job.payload) === 200 && all.resolve()), { concurrency: 4, prefetch: 32 });
    await all.promise;
    await w.close();
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, n) => n));
    expect((await c.stats()).counters).toMatchObject({ claimed: 200, completed: 200 });
  });
});
