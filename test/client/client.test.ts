/**
 * The network client against real broker servers on 127.0.0.1 (memory stores): the Queue API
 * round trip, createWorker over it, NOT_LEADER redirects between two brokers on one store,
 * re-discovery from the store after the leader closes, and the retry rules (through a proxy that
 * drops answers, delays them or answers 503 itself): pushes never duplicate, claims are not
 * retried once they may have landed, connect failures are.
 */
import { describe, expect, it } from 'vitest';
import { createClient, type ClientOptions } from '../../src/client/index.js';
import { leaseOfQueueJson } from '../../src/client/discovery.js';
import { failureKind, httpRequest, retryAfterMs } from '../../src/client/http.js';
import { queueKey } from '../../src/core/keys.js';
import { isQueueError, type QueueError } from '../../src/errors.js';
import type { Queue } from '../../src/api.js';
import type { BrokerServer } from '../../src/server/broker-server.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { createWorker } from '../../src/worker/index.js';
import { codeOf } from '../codes.js';
import { perTest } from './per-test.js';
import { freePort } from './proxy.js';

const { servers, server, client, proxy } = perTest();

/** Resolves when `s` takes the lease of `topic`. */
function leads(s: BrokerServer, topic: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (e: { topic: string }) => {
      if (e.topic !== topic) return;
      s.broker.events.off('leader', on);
      resolve();
    };
    s.broker.events.on('leader', on);
  });
}

describe('createClient: the Queue API over HTTP', () => {
  it('round-trips push, claim, heartbeat, ack, nack, get, stats, cancel and retry', async () => {
    const s = await server();
    const q = client<{ n: number }>({ url: s.url, topic: 'rt' });

    expect(await q.push({ n: 1 }, { id: 'a', priority: 5 })).toEqual({ id: 'a', created: true });
    expect(await q.push({ n: 999 }, { id: 'a' })).toEqual({ id: 'a', created: false });
    const many = await q.pushMany([{ payload: { n: 2 } }, { payload: { n: 3 }, id: 'c', maxAttempts: 1 }]);
    expect(many).toMatchObject([{ created: true }, { id: 'c', created: true }]);
    expect(many[0]!.id).toMatch(/^c/);

    const [a] = await q.claim({ workerId: 'w1' });
    expect(a).toMatchObject({ id: 'a', payload: { n: 1 }, attempt: 1, priority: 5, workerId: 'w1' });
    expect((await q.heartbeat(a!, 60_000)).leaseUntil).toBeGreaterThan(Date.now() + 50_000);
    expect(await q.get('a')).toMatchObject({ id: 'a', state: 'claimed', payload: { n: 1 } });
    expect(await q.ack(a!, { ok: true })).toEqual({ id: 'a' });
    expect(await codeOf(q.ack({ ...a!, lease: 'forged' }))).toBe('LEASE_LOST');

    const [b, c] = await q.claim({ workerId: 'w2', max: 2 });
    expect(await q.nack(b!, new Error('boom'), { delayMs: 60_000 })).toMatchObject({ id: b!.id, state: 'delayed' });
    expect(await q.nack(c!, 'last try')).toEqual({ id: 'c', state: 'dead' });
    expect(await q.get('c')).toMatchObject({ state: 'dead', lastError: 'last try' });
    expect(await q.retry('c')).toEqual({ id: 'c', state: 'pending' });
    expect(await q.cancel('c')).toEqual({ id: 'c', state: 'cancelled' });

    const stats = await q.stats();
    expect(stats).toMatchObject({ pending: 0, delayed: 1, claimed: 0, counters: { pushed: 3, completed: 1, cancelled: 1 } });
    expect(stats.broker).toMatchObject({ id: s.broker.id, url: s.advertiseUrl });
    expect(stats).not.toHaveProperty('leader');
  });

  it('turns error answers into QueueErrors with the server code and details', async () => {
    const s = await server({ token: 'sesame' });
    const q = client({ url: s.url, topic: 'errs', token: 'sesame' });
    await q.push(1, { id: 'x' });
    const err = await q.get('nope').catch((e: unknown) => e as QueueError);
    expect(isQueueError(err, 'NOT_FOUND')).toBe(true);
    expect(await codeOf(q.push(1, { priority: 1.5 }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(q.claim({ workerId: '' }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(q.cancel('x'))).toBe('ok');
    expect(await codeOf(q.configure({ maxAttempts: 0 }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(q.configure(null as never))).toBe('INVALID_ARGUMENT');

    const noToken = client({ url: s.url, topic: 'errs' });
    expect(await codeOf(noToken.stats())).toBe('UNAUTHENTICATED');
    expect(() => createClient({ topic: 'x' } as ClientOptions)).toThrow(/url .* or store/);
    expect(() => createClient({ url: 'ftp://x', topic: 'x' })).toThrow(/http/);
    expect(() => createClient({ url: s.url, topic: 'bad topic' })).toThrow(/topic/);
  });

  it('configure, pause and resume change the topic settings (PATCH), also of a topic not created yet', async () => {
    const store = createMemoryStore();
    const s = await server({ store });
    const q = client<number>({ url: s.url, topic: 'cfg' });
    expect(await q.pause()).toEqual({ maxAttempts: 5, backoff: expect.objectContaining({ type: 'exponential' }), paused: true });
    expect(await q.configure({ maxAttempts: 2, backoff: { type: 'fixed', delayMs: 10 } })).toEqual({ maxAttempts: 2, backoff: { type: 'fixed', delayMs: 10 }, paused: true });
    await q.push(1, { id: 'p' });
    expect(await q.claim({ workerId: 'w' })).toEqual([]);
    expect(await q.stats()).toMatchObject({ paused: true, pending: 1 });
    const waiting = q.claim({ workerId: 'w', waitMs: 10_000 });
    expect(await q.resume()).toMatchObject({ paused: false, maxAttempts: 2 });
    expect(await waiting).toMatchObject([{ id: 'p', maxAttempts: 2 }]);
    // The embedded queue sees the same settings.
    expect(await s.broker.configure('cfg', {})).toEqual({ maxAttempts: 2, backoff: { type: 'fixed', delayMs: 10 }, paused: false });

    // Through a standby: NOT_LEADER is followed to the leader, like every other call.
    const b = await server({ store });
    const viaB = client({ url: b.url, topic: 'cfg' });
    expect(await viaB.pause()).toMatchObject({ paused: true });
    expect(await q.stats()).toMatchObject({ paused: true, broker: { id: s.broker.id } });
  });

  it('ackMany and nackMany settle in one request with one outcome per item', async () => {
    const s = await server();
    const q = client({ url: s.url, topic: 'settle' });
    await q.pushMany([1, 2, 3, 4].map((n) => ({ payload: n, id: `j${n}` })));
    const jobs = await q.claim({ workerId: 'w', max: 4 });
    const acked = await q.ackMany([
      { ...jobs[0]!, result: 'r1' },
      { ...jobs[1]!, lease: 'stale' },
      { ...jobs[2]!, result: [1, 2] },
    ]);
    expect(acked.map((o) => (o.ok ? 'ok' : o.error.code))).toEqual(['ok', 'LEASE_LOST', 'ok']);
    expect(acked[0]).toEqual({ id: 'j1', ok: true, value: { id: 'j1' } });
    const nacked = await q.nackMany([
      { ...jobs[1]!, error: 'again', delayMs: 0 },
      { ...jobs[3]!, error: new Error('later'), delayMs: 60_000 },
    ]);
    expect(nacked).toMatchObject([{ id: 'j2', ok: true, value: { id: 'j2', state: 'pending' } }, { id: 'j4', ok: true, value: { state: 'delayed' } }]);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const bad = await q.ackMany([{ ...jobs[0]!, result: cyclic }]);
    expect(bad).toMatchObject([{ id: 'j1', ok: false, error: { code: 'INVALID_ARGUMENT' } }]);
    expect(await q.ackMany([])).toEqual([]);
  });

  it('long-polls a claim until a job is pushed, and an aborted poll claims nothing', async () => {
    const s = await server();
    const q = client({ url: s.url, topic: 'poll' });
    const waiting = q.claim({ workerId: 'w', waitMs: 20_000 });
    await q.push('hello', { id: 'p1' });
    expect(await waiting).toMatchObject([{ id: 'p1', payload: 'hello' }]);

    const abort = new AbortController();
    const aborted = q.claim({ workerId: 'w', waitMs: 20_000, signal: abort.signal });
    abort.abort();
    expect(await codeOf(aborted)).toBe('CLOSED');
    await q.push('later', { id: 'p2' });
    expect(await q.claim({ workerId: 'w2', waitMs: 20_000 })).toMatchObject([{ id: 'p2', workerId: 'w2' }]);
  });

  it('close() ends a long poll at once and refuses later calls with CLOSED', async () => {
    const s = await server();
    const q = createClient({ url: s.url, topic: 'closing' });
    const waiting = q.claim({ workerId: 'w', waitMs: 20_000 });
    await q.close();
    expect(await codeOf(waiting)).toBe('CLOSED');
    expect(await codeOf(q.push(1))).toBe('CLOSED');
  });

  it('runs createWorker unchanged: results acked, failures nacked', async () => {
    const s = await server();
    const q = client<{ n: number }>({ url: s.url, topic: 'work' });
    await q.pushMany(Array.from({ length: 20 }, (_, n) => ({ payload: { n }, maxAttempts: 1 })));
    const worker = createWorker(
      q,
      async (job) => {
        if (job.payload.n % 5 === 0) throw new Error(`no ${job.payload.n}`);
        return job.payload.n * 2;
      },
      { concurrency: 4, waitMs: 1000 },
    );
    const done = { completed: 0, failed: 0 };
    await new Promise<void>((resolve) => {
      const check = () => done.completed + done.failed === 20 && resolve();
      worker.on('completed', () => (done.completed++, check()));
      worker.on('failed', (_job, _err, outcome) => (expect(outcome.state).toBe('dead'), done.failed++, check()));
    });
    await worker.close();
    expect(done).toEqual({ completed: 16, failed: 4 });
    const stats = await q.stats();
    expect(stats).toMatchObject({ pending: 0, claimed: 0, dead: 4, counters: { completed: 16 } });
  });
});

describe('createClient: leaders and retries', () => {
  it('follows NOT_LEADER from a standby to the leader at once', async () => {
    const store = createMemoryStore();
    const a = await server({ store });
    const b = await server({ store });
    const viaA = client({ url: a.url, topic: 'led' });
    await viaA.push('first', { id: 'one' }); // A takes the topic
    const p = await proxy(b.url, () => 'forward'); // to count what B is asked
    const viaB = client({ url: p.url, topic: 'led' });
    expect(await viaB.push('second', { id: 'two' })).toEqual({ id: 'two', created: true });
    expect(await viaB.stats()).toMatchObject({ pending: 2, broker: { id: a.broker.id } });
    // B answered NOT_LEADER once; every later request went straight to A.
    expect(p.seen.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v1/topics/led/jobs']);
  });

  it('NOT_LEADER without a leader URL is retried with back-off until the deadline, then thrown with its details', async () => {
    const p = await proxy(null, () => ({ status: 503, body: { error: { code: 'NOT_LEADER', message: 'led by an embedded broker', leader: null, leaderId: 'e1' } } }));
    const q = client({ url: p.url, topic: 't', retry: { deadlineMs: 200, baseMs: 20, maxMs: 40 } });
    const err = (await q.stats().catch((e: unknown) => e)) as QueueError;
    expect(err.code).toBe('NOT_LEADER');
    expect(err.details).toMatchObject({ leader: null, leaderId: 'e1' });
    expect(err.message).toMatch(/gave up after \d+ tries/);
    expect(p.seen.length).toBeGreaterThan(2);
  });

  it('finds the leader in the store, and after the leader closes finds the broker that took over', async () => {
    const store = createMemoryStore();
    const a = await server({ store, leaseMs: 60_000 });
    const b = await server({ store, leaseMs: 60_000, standbyCheckMs: 50 });
    await client({ url: a.url, topic: 'disc' }).push('seed', { id: 's' }); // A leads 'disc'
    const q = client({ store, topic: 'disc' });
    expect(await q.stats()).toMatchObject({ broker: { url: a.advertiseUrl } });

    const takeover = leads(b, 'disc');
    await a.close(); // releases the lease; B's watcher takes the topic over
    expect(await q.push('after', { id: 'after' })).toEqual({ id: 'after', created: true });
    await takeover;
    expect(await q.stats()).toMatchObject({ pending: 2, broker: { id: b.broker.id, url: b.advertiseUrl } });
  });

  it('a store-only client of a new topic is sent to a broker that leads another topic', async () => {
    const store = createMemoryStore();
    const s = await server({ store });
    await client({ url: s.url, topic: 'old' }).push(1);
    const q = client({ store, topic: 'brand-new' });
    expect(await q.push('x', { id: 'x' })).toEqual({ id: 'x', created: true });
    expect(await q.stats()).toMatchObject({ pending: 1, broker: { id: s.broker.id } });

    const empty = client({ store: createMemoryStore(), topic: 't', retry: { deadlineMs: 100, baseMs: 10, maxMs: 20 } });
    const err = (await empty.push(1).catch((e: unknown) => e)) as QueueError;
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toMatch(/names no broker/);
  });

  it('retries a refused connection with back-off until the broker is up', async () => {
    const port = await freePort();
    let started: Promise<BrokerServer> | null = null;
    const q = client({
      url: `http://127.0.0.1:${port}`,
      topic: 'late',
      onRetry: ({ error }) => {
        expect(error.code).toBe('UNAVAILABLE');
        started ??= server({ listen: `127.0.0.1:${port}` });
      },
    });
    expect(await q.push('x', { id: 'x' })).toEqual({ id: 'x', created: true });
    expect(started).not.toBeNull();
  });

  it('gives up on a refused connection at the deadline with one clear error', async () => {
    const port = await freePort();
    const q = client({ url: `http://127.0.0.1:${port}`, topic: 't', retry: { deadlineMs: 150, baseMs: 20, maxMs: 40 } });
    const err = (await q.push(1).catch((e: unknown) => e)) as QueueError;
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toMatch(/cannot connect \(ECONNREFUSED\).*gave up after/);
  });

  it('failFastUnreachable: a refused first call fails at once; once a broker has answered, refusals are retried', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let retries = 0;
    const q = client({ url, topic: 'ff', failFastUnreachable: true, retry: { deadlineMs: 60_000, baseMs: 20, maxMs: 40 }, onRetry: () => retries++ });
    const err = (await q.push(1).catch((e: unknown) => e)) as QueueError;
    expect(err).toMatchObject({ code: 'UNAVAILABLE', message: `no broker at ${url} (connection refused)`, details: { url, unreachable: true, errno: 'ECONNREFUSED' } });
    expect(retries).toBe(0);
    // The broker comes up and answers; then it restarts: the refusals in between are retried.
    const first = await server({ listen: `127.0.0.1:${port}` });
    expect(await q.push('a', { id: 'a' })).toEqual({ id: 'a', created: true });
    await first.close();
    servers.splice(servers.indexOf(first), 1);
    const pushed = q.push('b', { id: 'b' });
    // Restart it once the client has been refused at least once.
    while (retries === 0) await new Promise((r) => setImmediate(r));
    await server({ listen: `127.0.0.1:${port}` });
    expect(await pushed).toEqual({ id: 'b', created: true });
  });

  it('pushes retried after lost answers and timeouts never duplicate', async () => {
    const s = await server();
    // The first two batches land but their answers are lost; the third lands and answers too late.
    const p = await proxy(s.url, (req, n) => (req.path.endsWith('/jobs') ? (n <= 2 ? 'drop-answer' : n === 3 ? 'late-answer' : 'forward') : 'forward'));
    const q = client<number>({ url: p.url, topic: 'dedupe', timeoutMs: 300 });
    const results = [];
    for (let batch = 0; batch < 5; batch++) {
      results.push(...(await q.pushMany(Array.from({ length: 10 }, (_, i) => ({ payload: batch * 10 + i })))));
    }
    expect(p.dropped).toBe(2);
    expect(results).toHaveLength(50);
    expect(results.every((r) => r.created)).toBe(true);
    expect(new Set(results.map((r) => r.id)).size).toBe(50);
    const stats = await createClient({ url: s.url, topic: 'dedupe' }).stats();
    expect(stats).toMatchObject({ pending: 50, counters: { pushed: 50 } });
    // The three unlucky batches were each sent again, with the same ids (at least 8 sends: on a
    // loaded machine a lucky batch may also outlive the 300 ms timeout and be sent again, which
    // must not duplicate either: every send carries ids of the 50).
    const sent = p.seen.filter((r) => r.path.endsWith('/jobs'));
    expect(sent.length).toBeGreaterThanOrEqual(8);
    expect((sent[1]!.body as { jobs: unknown[] }).jobs).toEqual((sent[0]!.body as { jobs: unknown[] }).jobs);
    const ids = new Set(results.map((r) => r.id));
    for (const r of sent) for (const j of (r.body as { jobs: Array<{ id: string }> }).jobs) expect(ids.has(j.id)).toBe(true);
  });

  it('a claim whose answer may have landed is not retried; one refused by the broker is', async () => {
    const s = await server();
    const p = await proxy(s.url, (req, n) => (req.path.endsWith('/claim') ? (n === 1 ? 'drop-answer' : n === 2 ? 'unavailable' : 'forward') : 'forward'));
    const q = client({ url: p.url, topic: 'claims' });
    await q.pushMany([{ payload: 1, id: 'one' }, { payload: 2, id: 'two' }]);
    const lost = (await q.claim({ workerId: 'w', leaseMs: 60_000 }).catch((e: unknown) => e)) as QueueError;
    expect(lost.code).toBe('UNAVAILABLE');
    expect(lost.message).toMatch(/connection failed/);
    // It did land: job one is leased to nobody who knows it, until the lease expires.
    expect(await q.get('one')).toMatchObject({ state: 'claimed' });
    // The next claim gets 503 UNAVAILABLE first (nothing done), is retried, and gets job two.
    expect(await q.claim({ workerId: 'w' })).toMatchObject([{ id: 'two' }]);
    expect(p.seen.filter((r) => r.path.endsWith('/claim')).map((r) => r.plan)).toEqual(['drop-answer', 'unavailable', 'forward']);
  });

  it('retries a timed-out ack; the replay answers ok, from the recent window once the job is archived', async () => {
    const s = await server({ brokerOptions: { archiveWindowMs: 0 } });
    const p = await proxy(s.url, (req, n) => (req.path.endsWith('/ack') && n === 1 ? 'late-answer' : 'forward'));
    const q = client({ url: p.url, topic: 'acks', timeoutMs: 300 });
    await q.push(1, { id: 'a' });
    const [job] = await q.claim({ workerId: 'w' });
    expect(await q.ack(job!, 'done')).toEqual({ id: 'a' });
    expect(p.seen.filter((r) => r.path.endsWith('/ack'))).toHaveLength(2);
    expect(await q.stats()).toMatchObject({ claimed: 0, archiving: 0, counters: { completed: 1 } });
  });

  it('retries a timed-out ack; a replay that finds the job forgotten (no recent window) says the first try may have landed', async () => {
    const s = await server({ brokerOptions: { archiveWindowMs: 0, recent: { maxIds: 0 } } });
    const p = await proxy(s.url, (req, n) => (req.path.endsWith('/ack') && n === 1 ? 'late-answer' : 'forward'));
    const q = client({ url: p.url, topic: 'acks', timeoutMs: 300 });
    await q.push(1, { id: 'a' });
    const [job] = await q.claim({ workerId: 'w' });
    const err = (await q.ack(job!, 'done').catch((e: unknown) => e)) as QueueError;
    expect(err.code).toBe('LEASE_LOST');
    expect(err.details).toMatchObject({ retried: true });
    expect(err.message).toMatch(/an earlier try may have landed/);
    expect(p.seen.filter((r) => r.path.endsWith('/ack'))).toHaveLength(2);
    expect(await q.stats()).toMatchObject({ claimed: 0, counters: { completed: 1 } });
  });

  it('retries an ack refused with 503; the replay lands', async () => {
    const s = await server();
    const p = await proxy(s.url, (req, n) => (req.path.endsWith('/ack') && n === 1 ? 'unavailable' : 'forward'));
    const q = client({ url: p.url, topic: 'acks' });
    await q.push(1, { id: 'a' });
    const [job] = await q.claim({ workerId: 'w' });
    expect(await q.ack(job!, 'done')).toEqual({ id: 'a' });
    expect(p.seen.filter((r) => r.path.endsWith('/ack'))).toHaveLength(2);
  });

  it("waits at least what an overloaded broker's Retry-After asks before trying again", async () => {
    const s = await server();
    const overloaded = { status: 503, body: { error: { code: 'UNAVAILABLE', message: 'request bytes in flight are over the budget' } }, headers: { 'retry-after': '2' } };
    const p = await proxy(s.url, (req, n) => (req.path.endsWith('/claim') && n === 1 ? overloaded : 'forward'));
    const retries: Array<{ delayMs: number; details: unknown }> = [];
    const abort = new AbortController();
    const q = client({ url: p.url, topic: 'ra', onRetry: ({ delayMs, error }) => (retries.push({ delayMs, details: error.details }), abort.abort()) });
    await q.push(1);
    // The wait is the client's own: it is aborted as soon as the client says how long it will be.
    expect(await codeOf(q.claim({ workerId: 'w', waitMs: 0, signal: abort.signal }))).toBe('CLOSED');
    expect(retries).toEqual([{ delayMs: expect.any(Number), details: expect.objectContaining({ retryAfterMs: 2000 }) }]);
    expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(2000); // the back-off alone would be about 100 ms
    expect(await q.claim({ workerId: 'w' })).toHaveLength(1);
  });

  it('a Retry-After past the call\'s deadline fails the call at once, saying so', async () => {
    const s = await server();
    const p = await proxy(s.url, (req) => (req.path.endsWith('/claim') ? { status: 503, body: { error: { code: 'UNAVAILABLE', message: 'overloaded' } }, headers: { 'retry-after': '3600' } } : 'forward'));
    const q = client({ url: p.url, topic: 'rb', retry: { deadlineMs: 5000 } });
    await q.push(1);
    const err = (await q.claim({ workerId: 'w', waitMs: 0 }).catch((e: unknown) => e)) as QueueError;
    expect(err).toMatchObject({ code: 'UNAVAILABLE', details: { retryAfterMs: 3_600_000 } });
    expect(err.message).toMatch(/the broker asked to be retried in 3600 s, past this call's deadline \(retry.deadlineMs 5000 ms\)$/);
    expect(p.seen.filter((r) => r.path.endsWith('/claim'))).toHaveLength(1);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.UTC(2026, 11, 7, 12, 0, 0);
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs(new Date(now + 4500).toUTCString(), now)).toBe(4000); // dates have whole seconds
    expect(retryAfterMs(new Date(now - 60_000).toUTCString(), now)).toBe(0);
    expect(retryAfterMs('Monday, 07-Dec-26 12:00:05 GMT', now)).toBe(5000); // RFC 850
    expect(retryAfterMs('Mon Dec  7 12:00:06 2026', now)).toBe(6000); // asctime: GMT, though it does not say so
    expect([retryAfterMs(undefined, now), retryAfterMs('soon', now), retryAfterMs('-1', now), retryAfterMs('9'.repeat(400), now)]).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('sends the bearer token and does not retry UNAUTHENTICATED or INVALID_ARGUMENT', async () => {
    const p = await proxy(null, () => ({ status: 401, body: { error: { code: 'UNAUTHENTICATED', message: 'the bearer token is not valid' } } }));
    const q = client({ url: p.url, topic: 't', token: 'tok' });
    expect(await codeOf(q.stats())).toBe('UNAUTHENTICATED');
    expect(p.seen).toHaveLength(1);
    expect(p.seen[0]!.headers.authorization).toBe('Bearer tok');
  });

  it('a non-JSON 502 from a proxy is retried; a non-JSON 404 is not', async () => {
    const p = await proxy(null, (req, n) => (req.path.startsWith('/v1/topics/t') && n === 1 ? { status: 502, body: '<html>bad gateway</html>' } : { status: 404, body: 'nope' }));
    const q = client({ url: p.url, topic: 't' });
    const err = (await q.stats().catch((e: unknown) => e)) as QueueError;
    expect(err.code).toBe('INTERNAL');
    expect(err.message).toMatch(/answered 404: nope/);
    expect(p.seen.map((r) => r.plan)).toEqual([{ status: 502, body: '<html>bad gateway</html>' }, { status: 404, body: 'nope' }]);
  });
});

describe('leaseOfQueueJson', () => {
  it('reads the lease from small and large queue.json bodies', async () => {
    const store: StorageDriver = createMemoryStore();
    const s = await server({ store });
    const q = client({ url: s.url, topic: 'big' });
    await q.push('x'.repeat(60_000));
    for (let i = 0; i < 6; i++) await q.push('y'.repeat(60_000));
    // Claimed jobs stay in the head (waiting ones beyond its window go to segments): a large head.
    let claimed = 0;
    while (claimed < 7) claimed += (await q.claim({ workerId: 'w', max: 7 - claimed, waitMs: 5000 })).length;
    const body = (await store.read(queueKey('big')))!.body;
    expect(body.byteLength).toBeGreaterThan(256 * 1024);
    expect(leaseOfQueueJson(body)).toMatchObject({ id: s.broker.id, url: s.advertiseUrl, epoch: 1 });
    expect(leaseOfQueueJson(Buffer.from('{"broker":null}'))).toBeNull();
    expect(leaseOfQueueJson(Buffer.from('not json'))).toBeUndefined();
  });
});

describe('the HTTP layer', () => {
  it('refuses a token it could not send, at creation; a request node refuses to send is INVALID_ARGUMENT, not retried', async () => {
    expect(() => createClient({ url: 'http://127.0.0.1:1', topic: 't', token: 'tök' })).toThrow(/visible ASCII/);
    const err = await httpRequest({ method: 'GET', base: 'http://127.0.0.1:1', path: '/v1/topics', token: 'sn☃w', timeoutMs: 1000 }).catch((e: unknown) => e as QueueError);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(failureKind(err)).toBe('answer');
  });

  it('a port nobody listens on is a connect failure (nothing sent, safe to retry)', async () => {
    const port = await freePort();
    const err = await httpRequest({ method: 'POST', base: `http://127.0.0.1:${port}`, path: '/v1/topics/t/claim', body: {}, timeoutMs: 1000 }).catch((e: unknown) => e as QueueError);
    expect(err).toMatchObject({ code: 'UNAVAILABLE' });
    expect(failureKind(err)).toBe('connect');
  });
});
