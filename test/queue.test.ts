import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { Broker, createMemoryStore, createQueue, FakeClock, isQueueError, QueueError, type ClaimedJob, type EmbeddedQueue, type JobRecord } from '../src/index.js';
import type { CommitStats } from '../src/broker/index.js';
import { codeOf, controlled, drive } from './embedded-helpers.js';

interface Email {
  to: string;
  subject: string;
}

const open: Array<EmbeddedQueue<unknown>> = [];
function track<T>(q: EmbeddedQueue<T>): EmbeddedQueue<T> {
  open.push(q as EmbeddedQueue<unknown>);
  return q;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((q) => q.close().catch(() => {})));
});

function setup(extra: Partial<Parameters<typeof createQueue>[0]> = {}) {
  const clock = new FakeClock();
  const store = controlled(createMemoryStore());
  const queue = track(createQueue<Email>({ store, topic: 'emails', clock, ...extra }));
  return { clock, store, queue };
}

describe('createQueue', () => {
  it('round-trips a typed job through push, claim, heartbeat and ack', async () => {
    const { queue, store } = setup({ maxAttempts: 3, backoff: { type: 'fixed', delayMs: 100 } });
    store.holdArchives = true; // keep the completed job readable with get()
    const pushed = await queue.push({ to: 'a@example.com', subject: 'hi' }, { id: 'e1', priority: 2 });
    expect(pushed).toEqual({ id: 'e1', created: true });

    const [job] = await queue.claim({ workerId: 'w1', max: 5 });
    expectTypeOf(job!).toEqualTypeOf<ClaimedJob<Email>>();
    expectTypeOf(job!.payload).toEqualTypeOf<Email>();
    expect(job).toMatchObject({ id: 'e1', payload: { to: 'a@example.com', subject: 'hi' }, attempt: 1, maxAttempts: 3, priority: 2, workerId: 'w1' });
    expect('payloadRef' in job!).toBe(false);

    const { leaseUntil } = await queue.heartbeat(job!, 60_000);
    expect(leaseUntil).toBe(queue.clock.now() + 60_000);
    await queue.ack(job!, { sent: true });

    const rec = await queue.get('e1');
    expectTypeOf(rec).toEqualTypeOf<JobRecord<Email>>();
    expect(rec).toMatchObject({ id: 'e1', state: 'completed', result: { sent: true }, payload: { to: 'a@example.com', subject: 'hi' } });
    expect((await queue.stats()).counters).toMatchObject({ pushed: 1, claimed: 1, completed: 1 });
    store.holdArchives = false; // close() waits for archive writes
  });

  it('applies topic settings once, before the first op', async () => {
    const { queue } = setup({ maxAttempts: 2, backoff: { type: 'fixed', delayMs: 5000 } });
    const configure = vi.spyOn(queue.broker, 'configure');
    await Promise.all([queue.push({ to: 'x', subject: '1' }), queue.push({ to: 'y', subject: '2' })]);
    const [job] = await queue.claim({ workerId: 'w' });
    expect(job!.maxAttempts).toBe(2);
    const out = await queue.nack(job!, new Error('smtp down'));
    expect(out).toEqual({ id: job!.id, state: 'delayed', runAt: queue.clock.now() + 5000 });
    expect(await queue.get(job!.id)).toMatchObject({ lastError: 'smtp down', attempts: 1 });
    expect(configure).toHaveBeenCalledTimes(1);
    expect(configure).toHaveBeenCalledWith('emails', { maxAttempts: 2, backoff: { type: 'fixed', delayMs: 5000 } });
  });

  it('pushMany adds every job in one commit, in order, and claims follow priority then FIFO', async () => {
    const { queue } = setup();
    await queue.stats(); // elect first, so the push below is one commit on its own
    const commits: CommitStats[] = [];
    queue.broker.events.on('commit', (e) => commits.push(e));
    const out = await queue.pushMany([
      { payload: { to: 'a', subject: 'low' }, id: 'a' },
      { payload: { to: 'b', subject: 'high' }, id: 'b', priority: 5 },
      { payload: { to: 'c', subject: 'low' }, id: 'c' },
    ]);
    expect(out).toEqual([
      { id: 'a', created: true },
      { id: 'b', created: true },
      { id: 'c', created: true },
    ]);
    expect(commits).toHaveLength(1);
    expect((await queue.claim({ workerId: 'w', max: 3 })).map((j) => j.id)).toEqual(['b', 'a', 'c']);
  });

  it('a duplicate id adds nothing and says so', async () => {
    const { queue } = setup();
    expect(await queue.push({ to: 'a', subject: '1' }, { id: 'same' })).toEqual({ id: 'same', created: true });
    expect(await queue.push({ to: 'b', subject: '2' }, { id: 'same' })).toEqual({ id: 'same', created: false });
    expect(await queue.pushMany([{ payload: { to: 'c', subject: '3' }, id: 'same' }, { payload: { to: 'd', subject: '4' }, id: 'other' }])).toEqual([
      { id: 'same', created: false },
      { id: 'other', created: true },
    ]);
    expect((await queue.stats()).pending).toBe(2);
    expect((await queue.get('same')).payload).toEqual({ to: 'a', subject: '1' });
  });

  it('ackMany and nackMany submit together: one commit, one outcome per item', async () => {
    const { queue } = setup();
    await queue.pushMany(Array.from({ length: 5 }, (_, i) => ({ payload: { to: `u${i}`, subject: 's' }, id: `j${i}` })));
    const jobs = await queue.claim({ workerId: 'w', max: 5 });
    const commits: CommitStats[] = [];
    queue.broker.events.on('commit', (e) => commits.push(e));

    const acked = await queue.ackMany(jobs.slice(0, 3).map((j) => ({ ...j, result: j.id })));
    expect(acked.map((r) => r.ok)).toEqual([true, true, true]);
    expect(commits[0]!.requests).toBe(3);

    commits.length = 0;
    const nacked = await queue.nackMany([
      { ...jobs[3]!, error: 'bad', delayMs: 0 },
      { ...jobs[4]!, lease: 'not-the-lease', error: new Error('worse') },
    ]);
    expect(nacked[0]).toMatchObject({ id: 'j3', ok: true, value: { state: 'pending' } });
    expect(nacked[1]).toMatchObject({ id: 'j4', ok: false });
    expect(!nacked[1]!.ok && nacked[1]!.error.code).toBe('LEASE_LOST');
    expect(commits[0]!.requests).toBe(2);
    expect(await queue.ackMany([])).toEqual([]);
  });

  it('cancel, pause/resume and retry of a dead job', async () => {
    const { queue, clock } = setup();
    await queue.pushMany([{ payload: { to: 'a', subject: '1' }, id: 'a', maxAttempts: 1 }, { payload: { to: 'b', subject: '2' }, id: 'b' }]);
    expect(await queue.cancel('b')).toEqual({ id: 'b', state: 'cancelled' });
    expect(await codeOf(queue.cancel('nope'))).toBe('NOT_FOUND');

    expect(await queue.pause()).toMatchObject({ paused: true });
    expect(await queue.claim({ workerId: 'w' })).toEqual([]);
    expect(await queue.resume()).toMatchObject({ paused: false });

    const [a] = await queue.claim({ workerId: 'w' });
    expect(await queue.nack(a!, 'fatal')).toEqual({ id: 'a', state: 'dead' });
    await drive(clock, queue.broker.flush());
    expect(await queue.get('a')).toMatchObject({ state: 'dead', lastError: 'fatal', payload: { to: 'a', subject: '1' } });
    expect(await queue.retry('a')).toEqual({ id: 'a', state: 'pending' });
    expect((await queue.claim({ workerId: 'w' }))[0]).toMatchObject({ id: 'a', attempt: 1, lastError: 'fatal' });
  });

  it('retryDead sends every dead job back to pending in one commit, a large payload included', async () => {
    const { queue, clock } = setup();
    const big = 'x'.repeat(100 * 1024); // above the 64 KiB threshold: its own object again after the archive
    await queue.pushMany([{ payload: { to: 'big', subject: big }, id: 'big', maxAttempts: 1 }, { payload: { to: 's', subject: 'small' }, id: 's', maxAttempts: 1 }]);
    for (const job of await queue.claim({ workerId: 'w', max: 2 })) await queue.nack(job, 'fatal');
    await drive(clock, queue.broker.flush());
    let commits = 0;
    queue.broker.events.on('commit', () => commits++);
    expect(await queue.retryDead()).toMatchObject({ retried: 2, skipped: [] });
    expect(commits).toBe(1);
    const claimed = await queue.claim({ workerId: 'w', max: 2 });
    expect(claimed.map((j) => [j.id, j.payload.subject === big ? 'big' : j.payload.subject])).toEqual([['big', 'big'], ['s', 'small']]);
  });

  it('retryDead leaves no payload object behind for a job it skipped (retried meanwhile by another call)', async () => {
    const { queue, clock, store } = setup();
    const big = 'x'.repeat(100 * 1024);
    await queue.pushMany([{ payload: { to: 'big', subject: big }, id: 'big', maxAttempts: 1 }]);
    for (const job of await queue.claim({ workerId: 'w', max: 1 })) await queue.nack(job, 'fatal');
    await drive(clock, queue.broker.flush());
    const before = (await store.list('payloads/')).length;
    const outs = await Promise.all([queue.retryDead(), queue.retryDead()]);
    expect(outs.map((o) => o.retried).sort()).toEqual([0, 1]);
    await drive(clock, queue.broker.flush());
    // One live job, one payload object more: the skipped call's copy is deleted.
    expect((await store.list('payloads/')).length).toBe(before + 1);
    const [job] = await queue.claim({ workerId: 'w', max: 1 });
    expect(job!.payload.subject).toBe(big);
  });

  it('close() gives up leadership, so a second queue on the same store takes over at once', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const first = createQueue<string>({ store, topic: 'jobs', clock });
    await first.push('one');
    const epoch = (await first.stats()).broker!.epoch;
    await first.close();
    expect(await codeOf(first.push('late'))).toBe('CLOSED');

    const second = track(createQueue<string>({ store, topic: 'jobs', clock }));
    // No time passes: the released lease is taken over immediately, not after it goes stale.
    await second.push('two');
    const stats = await second.stats();
    expect(stats.broker).toMatchObject({ id: second.broker.id, epoch: epoch + 1 });
    expect(stats.pending).toBe(2);
  });

  it('queues sharing a broker leave it running when one closes', async () => {
    const clock = new FakeClock();
    const broker = new Broker({ store: createMemoryStore(), clock });
    const a = createQueue<number>({ store: broker, topic: 'a', clock });
    const b = createQueue<string>({ store: broker, topic: 'b', clock });
    expect(a.broker).toBe(broker);
    await Promise.all([a.push(1), b.push('x')]);
    await a.close();
    expect(await codeOf(a.stats())).toBe('CLOSED');
    expect((await b.claim({ workerId: 'w' }))[0]!.payload).toBe('x');
    await broker.stop();
  });

  it('rejects bad input with INVALID_ARGUMENT', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const sync = (fn: () => unknown) => {
      try {
        fn();
        return 'ok';
      } catch (err) {
        return isQueueError(err) ? err.code : String(err);
      }
    };
    expect(sync(() => createQueue({ store, topic: 'bad topic!' }))).toBe('INVALID_ARGUMENT');
    expect(sync(() => createQueue({ store, topic: 't', maxAttempts: 0 }))).toBe('INVALID_ARGUMENT');
    expect(sync(() => createQueue({ store, topic: 't', backoff: { type: 'linear' } as never }))).toBe('INVALID_ARGUMENT');
    expect(sync(() => createQueue({ store: 42 as never, topic: 't' }))).toBe('INVALID_ARGUMENT');
    expect(sync(() => createQueue({ store: new Broker({ store }), topic: 't', brokerOptions: { leaseMs: 1 } }))).toBe('INVALID_ARGUMENT');

    const q = track(createQueue<{ n: number }>({ store, topic: 't', clock }));
    expect(await codeOf(q.push({ n: 1 }, { priority: 1.5 }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(q.push({ n: 1 }, { bogus: true } as never))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(q.pushMany([]))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(q.claim({ workerId: '' }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(q.claim({ workerId: 'w', max: 0 }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(q.get(''))).toBe('INVALID_ARGUMENT');
    await q.push({ n: 1 });
    const [job] = await q.claim({ workerId: 'w' });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(await codeOf(q.ack(job!, circular))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(q.nack(job!, 42 as never))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(q.ack({ id: job!.id, workerId: 'w', lease: 'forged' }))).toBe('LEASE_LOST');
    await q.ack(job!);

    const badUrl = track(createQueue({ store: 'nosuch://x', topic: 't' }));
    const err = await badUrl.stats().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueError);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('works end to end on a file: URL, and a reopened queue sees the state', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bucketq-queue-'));
    try {
      const url = `file:${dir}`;
      const q = createQueue<{ n: number }>({ store: url, topic: 'files' });
      await q.pushMany([{ payload: { n: 1 }, id: 'one' }, { payload: { n: 2 }, id: 'two' }]);
      const jobs = await q.claim({ workerId: 'w', max: 2 });
      expect(jobs.map((j) => j.payload.n)).toEqual([1, 2]);
      await q.ack(jobs[0]!, 'done');
      await q.close();

      const again = createQueue<{ n: number }>({ store: url, topic: 'files' });
      const stats = await again.stats();
      expect(stats).toMatchObject({ claimed: 1, counters: { pushed: 2, completed: 1 } });
      expect(stats.broker!.id).toBe(again.broker.id);
      expect(await again.get('two')).toMatchObject({ state: 'claimed', payload: { n: 2 } });
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
