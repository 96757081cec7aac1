import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryStore, createQueue, createWorker, FakeClock, QueueError, type Queue, type Worker, type WorkerJob, type WorkerOptions } from '../../src/index.js';
import { settle } from '../../src/clock.js';
import { codeOf, controlled, deferred, drive, until, type Deferred } from '../embedded-helpers.js';
import { createClient } from '../../src/client/index.js';
import { startBrokerServer } from '../../src/server/broker-server.js';

interface Task {
  n: number;
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function setup() {
  const clock = new FakeClock();
  const store = controlled(createMemoryStore());
  const queue = createQueue<Task>({ store, topic: 'work', clock, backoff: { type: 'fixed', delayMs: 1000 }, brokerOptions: { retry: { attempts: 2, baseMs: 10, maxMs: 10 } } });
  cleanup.push(async () => {
    store.holdArchives = false;
    store.down = false;
    await drive(clock, queue.close());
  });
  const start = <R>(handler: (job: WorkerJob<Task>, signal: AbortSignal) => Promise<R> | R, opts: WorkerOptions = {}): Worker<Task, R> => {
    const worker = createWorker(queue, handler, opts);
    worker.on('error', () => {}); // tests that care add their own listener
    cleanup.push(() => drive(clock, worker.close({ timeoutMs: 0 })));
    return worker;
  };
  return { clock, store, queue, start };
}

/** A handler whose jobs wait for the test: `gates.get(id).resolve(result)` finishes one. */
function gated<R>() {
  const gates = new Map<string, Deferred<R>>();
  const signals = new Map<string, AbortSignal>();
  const handler = (job: WorkerJob<Task>, signal: AbortSignal): Promise<R> => {
    const d = deferred<R>();
    gates.set(job.id, d);
    signals.set(job.id, signal);
    return d.promise;
  };
  return { gates, signals, handler };
}

async function pushN(queue: Queue<Task>, n: number): Promise<void> {
  await queue.pushMany(Array.from({ length: n }, (_, i) => ({ payload: { n: i }, id: `j${i}` })));
}

describe('createWorker', () => {
  it('fills every free slot with one claim, runs handlers concurrently, and reports drained', async () => {
    const { clock, queue, start } = setup();
    await pushN(queue, 10);
    const claim = vi.spyOn(queue, 'claim');
    const { gates, handler } = gated<string>();
    const worker = start(handler, { concurrency: 4, prefetch: 0 }); // no claim-ahead: the free slots exactly
    let drained = 0;
    worker.on('drained', () => drained++);

    await until(clock, () => gates.size === 4);
    expect(claim).toHaveBeenCalledTimes(1);
    expect(claim.mock.calls[0]![0]).toMatchObject({ workerId: worker.id, max: 4 });
    expect(await claim.mock.results[0]!.value).toHaveLength(4);
    expect(worker.running).toBe(4);
    expect(worker.state).toBe('running');

    const completed: string[] = [];
    worker.on('completed', (job) => completed.push(job.id));
    for (let round = 0; completed.length < 10 && round < 100; round++) {
      for (const [id, gate] of gates) gate.resolve(`r-${id}`);
      await clock.advance(10);
    }
    expect(completed.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `j${i}`).sort());
    for (const call of claim.mock.calls) expect(call[0].max).toBeLessThanOrEqual(4);
    await until(clock, () => drained === 1, 100);
    expect((await queue.stats()).counters).toMatchObject({ claimed: 10, completed: 10 });
  });

  it('frees a slot when its handler returns, so the next claim shares a commit with the acks', async () => {
    const { clock, queue, start } = setup();
    await pushN(queue, 8);
    const batches: number[] = [];
    queue.broker.events.on('commit', (e: { requests: number }) => batches.push(e.requests));
    const worker = start(() => 'ok', { concurrency: 4 });
    let completed = 0;
    worker.on('completed', () => completed++);
    await until(clock, () => completed === 8);
    // The first 4 acks and the claim of the next 4 jobs land together: one commit of 5 requests.
    expect(Math.max(...batches)).toBeGreaterThanOrEqual(5);
  });

  it('acks the return value as the result and nacks a throw with its message, then retries', async () => {
    const { clock, queue, store, start } = setup();
    store.holdArchives = true; // completed jobs stay readable with get()
    await queue.push({ n: 21 }, { id: 'flaky' });
    const failed: unknown[] = [];
    const completed: unknown[] = [];
    const worker = start((job) => {
      if (job.attempt === 1) throw new Error('boom');
      return { doubled: job.payload.n * 2 };
    });
    worker.on('failed', (job, error, outcome) => failed.push({ id: job.id, message: (error as Error).message, state: outcome.state }));
    worker.on('completed', (job, result) => completed.push({ id: job.id, result }));

    await until(clock, () => failed.length === 1);
    expect(failed).toEqual([{ id: 'flaky', message: 'boom', state: 'delayed' }]);
    expect(await queue.get('flaky')).toMatchObject({ state: 'delayed', lastError: 'boom', attempts: 1 });

    await until(clock, () => completed.length === 1); // the topic backoff is 1 s
    expect(completed).toEqual([{ id: 'flaky', result: { doubled: 42 } }]);
    expect(await queue.get('flaky')).toMatchObject({ state: 'completed', result: { doubled: 42 }, attempts: 2 });
  });

  it('uses a numeric retryDelayMs of the thrown error as the retry delay', async () => {
    const { clock, queue, start } = setup();
    await queue.push({ n: 1 }, { id: 'later' });
    let failures = 0;
    const worker = start(() => {
      throw Object.assign(new Error('rate limited'), { retryDelayMs: 60_000 });
    });
    worker.on('failed', () => failures++);
    await until(clock, () => failures === 1);
    const rec = await queue.get('later');
    expect(rec).toMatchObject({ state: 'delayed', lastError: 'rate limited' });
    expect(rec.runAt - rec.updatedAt).toBe(60_000);
  });

  it('an error with release: true hands the job back untouched: pending, the attempt not counted', async () => {
    const { clock, queue, start } = setup();
    await queue.push({ n: 1 }, { id: 'stopped' });
    const released: unknown[] = [];
    let failed = 0;
    let runs = 0;
    const worker = start(() => {
      runs++;
      throw Object.assign(new Error('stopped from outside'), { release: true });
    });
    worker.on('released', (job, error) => {
      released.push({ id: job.id, message: (error as Error).message });
      void worker.close({ timeoutMs: 0 }); // once: the job would be claimed again at once
    });
    worker.on('failed', () => failed++);
    await until(clock, () => released.length === 1);
    await drive(clock, worker.close());
    expect(released).toEqual([{ id: 'stopped', message: 'stopped from outside' }]);
    expect(failed).toBe(0);
    expect(runs).toBe(1);
    expect(await queue.get('stopped')).toMatchObject({ state: 'pending', attempts: 0 });
  });

  it('heartbeats keep long jobs alive past their lease, grouped into one round per interval', async () => {
    const { clock, queue, start } = setup();
    await pushN(queue, 2);
    const beats: number[] = [];
    const original = queue.heartbeat.bind(queue);
    vi.spyOn(queue, 'heartbeat').mockImplementation((job, leaseMs) => {
      beats.push(clock.now());
      return original(job, leaseMs);
    });
    const { gates, handler } = gated<string>();
    const worker = start(handler, { concurrency: 2, leaseMs: 3000, heartbeatMs: 1000 });
    await until(clock, () => gates.size === 2);
    for (let i = 0; i < 100; i++) await clock.advance(100); // 10 s: more than three leases

    const stats = await queue.stats();
    expect(stats).toMatchObject({ claimed: 2, counters: { leasesExpired: 0 } });
    expect(beats.length).toBeGreaterThanOrEqual(18);
    const rounds = new Map<number, number>();
    for (const t of beats) rounds.set(t, (rounds.get(t) ?? 0) + 1);
    expect([...rounds.values()].every((n) => n === 2)).toBe(true);

    let completed = 0;
    worker.on('completed', () => completed++);
    for (const gate of gates.values()) gate.resolve('done');
    await until(clock, () => completed === 2);
    expect((await queue.stats()).counters).toMatchObject({ completed: 2, claimed: 2 });
  });

  it('aborts the handler when its job was acked elsewhere, and reports nothing for it', async () => {
    const { clock, queue, store, start } = setup();
    store.holdArchives = true;
    await queue.push({ n: 1 }, { id: 'stolen' });
    const { gates, signals, handler } = gated<string>();
    const lost: QueueError[] = [];
    let completed = 0;
    const worker = start(handler, { leaseMs: 3000, heartbeatMs: 1000 });
    worker.on('lease-lost', (_job, err) => lost.push(err));
    worker.on('completed', () => completed++);
    await until(clock, () => gates.size === 1);

    const [job] = [...gates.keys()];
    const claimed = await queue.get(job!);
    await queue.ack({ id: 'stolen', workerId: worker.id, lease: claimed.lease!.token }, 'acked elsewhere');
    await until(clock, () => signals.get('stolen')!.aborted);
    expect(signals.get('stolen')!.reason).toMatchObject({ code: 'LEASE_LOST' });
    expect(lost.map((e) => e.code)).toEqual(['LEASE_LOST']);

    gates.get('stolen')!.resolve('mine');
    await clock.advance(100);
    expect(completed).toBe(0);
    expect(await queue.get('stolen')).toMatchObject({ state: 'completed', result: 'acked elsewhere' });
  });

  it('aborts the handler when its lease expired and another worker took the job', async () => {
    const { clock, queue, start } = setup();
    await queue.push({ n: 1 }, { id: 'slow' });
    const { gates, signals, handler } = gated<string>();
    const errors: string[] = [];
    const worker = start(handler, { leaseMs: 3000, heartbeatMs: 1000 });
    worker.on('error', (e) => errors.push(e.code));
    await until(clock, () => gates.size === 1);

    // Heartbeats fail (as if storage were unreachable from this worker) until the lease runs out.
    const heartbeat = vi.spyOn(queue, 'heartbeat').mockRejectedValue(new QueueError('UNAVAILABLE', 'test: unreachable'));
    await clock.advance(3500);
    expect(errors).toContain('UNAVAILABLE');
    const [other] = await queue.claim({ workerId: 'other' });
    expect(other).toMatchObject({ id: 'slow', attempt: 2 });

    heartbeat.mockRestore();
    await until(clock, () => signals.get('slow')!.aborted);
    expect(signals.get('slow')!.reason).toMatchObject({ code: 'LEASE_LOST' });
    gates.get('slow')!.resolve('too late');
    await clock.advance(100);
    await queue.ack(other!, 'by the other'); // the other worker still owns it
    expect((await queue.stats()).counters).toMatchObject({ completed: 1, leasesExpired: 1 });
  });

  it('close() stops claiming and waits for running handlers to finish and be acked', async () => {
    const { clock, queue, start } = setup();
    await pushN(queue, 3);
    const claim = vi.spyOn(queue, 'claim');
    const { gates, handler } = gated<string>();
    const worker = start(handler, { concurrency: 2 });
    await until(clock, () => gates.size === 2);

    let closed = false;
    const closing = worker.close().then(() => (closed = true));
    expect(worker.state).toBe('stopping');
    await clock.advance(10_000);
    expect(closed).toBe(false);
    expect(claim).toHaveBeenCalledTimes(1);

    for (const gate of gates.values()) gate.resolve('ok');
    await drive(clock, closing);
    expect(worker.state).toBe('stopped');
    expect(await queue.stats()).toMatchObject({ pending: 1, claimed: 0, counters: { completed: 2 } });
  });

  it('close() aborts a long poll at once', async () => {
    const { clock, queue, start } = setup();
    await queue.stats();
    const worker = start(() => 'x', { waitMs: 30_000 });
    await until(clock, () => worker.state === 'claiming');
    await settle();
    await worker.close(); // resolves without moving the clock
    expect(worker.state).toBe('stopped');
    await queue.push({ n: 1 });
    expect(await queue.stats()).toMatchObject({ pending: 1, claimed: 0 });
  });

  it('the close timeout aborts stragglers and hands their jobs back at once', async () => {
    const { clock, queue, start } = setup();
    await queue.push({ n: 1 }, { id: 'stuck' });
    const { gates, signals, handler } = gated<string>();
    let completed = 0;
    const worker = start(handler, { closeTimeoutMs: 60_000 });
    worker.on('completed', () => completed++);
    await until(clock, () => gates.size === 1);

    let closed = false;
    const closing = worker.close({ timeoutMs: 1000 }).then(() => (closed = true));
    await clock.advance(999);
    expect(closed).toBe(false);
    expect(signals.get('stuck')!.aborted).toBe(false);
    await clock.advance(1);
    await drive(clock, closing);
    expect(signals.get('stuck')!.reason).toMatchObject({ code: 'CLOSED' });
    expect(await queue.get('stuck')).toMatchObject({ state: 'pending', lastError: 'worker closed', attempts: 1 });

    gates.get('stuck')!.resolve('finished late'); // ignored: the job is no longer ours
    await clock.advance(100);
    expect(completed).toBe(0);
    expect((await queue.claim({ workerId: 'next' }))[0]).toMatchObject({ id: 'stuck', attempt: 2 });
  });

  it('keeps going after transient claim errors (storage down, a leader change), backing off', async () => {
    const { clock, queue, store, start } = setup();
    await queue.stats();
    store.down = true;
    const errors: string[] = [];
    const states: string[] = [];
    let completed = 0;
    const worker = start((job) => job.payload.n);
    worker.on('error', (e) => errors.push(e.code));
    worker.on('state', (s) => states.push(s));
    worker.on('completed', () => completed++);
    await until(clock, () => errors.length >= 3);
    expect(new Set(errors)).toEqual(new Set(['UNAVAILABLE']));
    expect(states).toContain('idle');

    store.down = false;
    vi.spyOn(queue, 'claim').mockRejectedValueOnce(new QueueError('NOT_LEADER', 'test: leader moved'));
    await queue.push({ n: 7 });
    await until(clock, () => completed === 1);
    expect(errors).toContain('NOT_LEADER');
    expect(worker.state).not.toBe('stopped');
  });

  it('retries an ack that failed transiently, and completes the job once', async () => {
    const { clock, queue, start } = setup();
    await queue.push({ n: 3 }, { id: 'a' });
    // The worker sends its acks through ackMany (one call per event-loop turn).
    const ack = vi.spyOn(queue, 'ackMany').mockRejectedValueOnce(new QueueError('UNAVAILABLE', 'test: storage blip'));
    const errors: string[] = [];
    const done: unknown[] = [];
    const worker = start((job) => job.payload.n * 10);
    worker.on('error', (e) => errors.push(e.code));
    worker.on('completed', (job, result) => done.push([job.id, result]));
    await until(clock, () => done.length === 1);
    expect(done).toEqual([['a', 30]]);
    expect(errors).toEqual(['UNAVAILABLE']);
    expect(ack).toHaveBeenCalledTimes(2);
    expect((await queue.stats()).counters).toMatchObject({ completed: 1, claimed: 1, nacked: 0 });
  });

  it('acks the jobs of one claim in one ackMany call, and retries only the item that failed', async () => {
    const { clock, queue, start } = setup();
    await queue.pushMany([1, 2, 3, 4].map((n) => ({ payload: { n }, id: `j${n}` })));
    const real = queue.ackMany.bind(queue);
    let first = true;
    const ackMany = vi.spyOn(queue, 'ackMany').mockImplementation(async (items) => {
      const out = await real(first ? items.filter((i) => i.id !== 'j2') : items);
      if (!first) return out;
      first = false;
      // j2 fails alone, transiently: the other three are done.
      const at = items.findIndex((i) => i.id === 'j2');
      return [...out.slice(0, at), { id: 'j2', ok: false as const, error: new QueueError('UNAVAILABLE', 'test: one item failed') }, ...out.slice(at)];
    });
    const done: string[] = [];
    const errors: string[] = [];
    const worker = start(() => 'ok', { concurrency: 4 });
    worker.on('error', (e) => errors.push(e.code));
    worker.on('completed', (job) => done.push(job.id));
    await until(clock, () => done.length === 4);
    expect(ackMany.mock.calls.map((c) => c[0].map((i) => i.id))).toEqual([['j1', 'j2', 'j3', 'j4'], ['j2']]);
    expect(errors).toEqual(['UNAVAILABLE']);
    expect((await queue.stats()).counters).toMatchObject({ completed: 4, claimed: 4, nacked: 0 });
  });

  it('stops itself when its queue is closed', async () => {
    const { clock, queue, start } = setup();
    await queue.stats();
    const errors: string[] = [];
    const worker = start(() => 'x');
    worker.on('error', (e) => errors.push(e.code));
    await until(clock, () => worker.state === 'claiming');
    await drive(clock, queue.close());
    await until(clock, () => worker.state === 'stopped');
    expect(errors).toContain('CLOSED');
  });

  it('validates its options', async () => {
    const { queue } = setup();
    const bad = (opts: WorkerOptions) => {
      try {
        createWorker(queue, () => 1, { ...opts, autoStart: false });
        return 'ok';
      } catch (err) {
        return (err as QueueError).code;
      }
    };
    expect(bad({ concurrency: 0 })).toBe('INVALID_ARGUMENT');
    expect(bad({ leaseMs: 1000, heartbeatMs: 1000 })).toBe('INVALID_ARGUMENT');
    expect(bad({ waitMs: 60_000 })).toBe('INVALID_ARGUMENT');
    expect(bad({ workerId: '' })).toBe('INVALID_ARGUMENT');
    expect(bad({ concurrency: 2, leaseMs: 9000 })).toBe('ok');
    const idle = createWorker(queue, () => 1, { autoStart: false });
    expect(idle.state).toBe('idle');
    await idle.close();
    expect(idle.state).toBe('stopped');
    expect(await codeOf(idle.close())).toBe('ok');
  });
});

describe('createWorker over the network', () => {
  it('results that fit one by one but not all in one settle request are all acked (the batch is split), none nacked', async () => {
    const server = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0', maxBodyBytes: 4096 });
    const c = createClient<number>({ url: server.url, topic: 'jobs', retry: { deadlineMs: 5000, baseMs: 20, maxMs: 100 } });
    try {
      await c.pushMany([1, 2, 3, 4].map((n) => ({ payload: n })));
      const completed: number[] = [];
      const failed: string[] = [];
      // One ack of a 1500-byte result fits in 4096 bytes; four in one request do not.
      const w = createWorker(c, async () => 'x'.repeat(1500), { concurrency: 4 });
      w.on('failed', (_j, e) => failed.push((e as Error).message));
      await new Promise<void>((resolve) => w.on('completed', (j) => completed.push(j.payload) === 4 && resolve()));
      await w.close();
      expect(failed).toEqual([]);
      expect(completed.sort()).toEqual([1, 2, 3, 4]);
      expect((await c.stats()).counters).toMatchObject({ completed: 4, nacked: 0 });
    } finally {
      await c.close();
      await server.close();
    }
  });
});
