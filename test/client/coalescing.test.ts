/**
 * Coalesced pushes (src/client/push-batcher.ts) and acks against real brokers on 127.0.0.1,
 * counted through the test proxy: a lone push leaves at once as the classic request, pushes of one
 * turn share one request, each call keeps its own outcome, a retried coalesced request duplicates
 * nothing, and a broker's lower limits (or one that predates per-item pushes) are coped with; acks
 * of one turn go as one settle request.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient } from '../../src/client/index.js';
import { codeOf } from '../codes.js';
import { perTest } from './per-test.js';
import type { Proxy, SeenRequest } from './proxy.js';

const { server, client, proxy } = perTest();
const stops: Array<() => Promise<void>> = [];

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

const pushRequests = (p: Proxy): SeenRequest[] => p.seen.filter((r) => r.method === 'POST' && r.path.endsWith('/jobs'));
const jobsOf = (r: SeenRequest) => (r.body as { jobs: Array<{ id: string; payload: unknown }> }).jobs;

/**
 * A fake broker whose push answers the test releases one request at a time: what was sent, and
 * while what was in flight.
 */
async function heldBroker(): Promise<{ url: string; requests: Array<{ body: { jobs: Array<{ id: string }>; atomic?: boolean }; answer(): void }>; arrived(n: number): Promise<void> }> {
  const requests: Array<{ body: { jobs: Array<{ id: string }>; atomic?: boolean }; answer(): void }> = [];
  const waiters: Array<() => void> = [];
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => {
      const body = JSON.parse(text) as { jobs: Array<{ id: string }>; atomic?: boolean };
      const answer = () => {
        const jobs = body.jobs.map((j) => (body.atomic === false ? { ok: true, id: j.id, created: true } : { id: j.id, created: true }));
        const json = JSON.stringify({ jobs });
        res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
        res.end(json);
      };
      requests.push({ body, answer });
      for (const wake of waiters.splice(0)) wake();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  stops.push(
    () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  );
  const arrived = async (n: number) => {
    while (requests.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, requests, arrived };
}

describe('createClient: coalesced pushes', () => {
  it('a lone push leaves at once, no timer involved, as the classic one-job request', async () => {
    const b = await heldBroker();
    const q = client({ url: b.url, topic: 'sparse' });
    // With timers frozen, a push that waited for a batching window would never leave.
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval'] });
    const pushed = q.push({ n: 1 }, { id: 'one' });
    await b.arrived(1);
    expect(b.requests[0]!.body).toEqual({ jobs: [{ payload: { n: 1 }, id: 'one' }] });
    b.requests[0]!.answer();
    expect(await pushed).toEqual({ id: 'one', created: true });
  });

  it('pushes made in one turn share one request; each call gets its own answer', async () => {
    const s = await server();
    const p = await proxy(s.url, () => 'forward');
    const q = client<number>({ url: p.url, topic: 'turn' });
    const results = await Promise.all(Array.from({ length: 10 }, (_, n) => q.push(n)));
    expect(pushRequests(p)).toHaveLength(1);
    expect(pushRequests(p)[0]!.body).toMatchObject({ atomic: false });
    expect(jobsOf(pushRequests(p)[0]!).map((j) => j.payload)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(results.every((r) => r.created)).toBe(true);
    expect(new Set(results.map((r) => r.id)).size).toBe(10);
    expect(await q.stats()).toMatchObject({ pending: 10, counters: { pushed: 10 } });
    const [first] = await q.claim({ workerId: 'w' });
    expect(first).toMatchObject({ id: results[0]!.id, payload: 0 }); // in call order
  });

  it('pushes made while requests are in flight wait, then leave together when one returns', async () => {
    const b = await heldBroker();
    const q = client({ url: b.url, topic: 'flight' });
    const first = q.push('a', { id: 'a' });
    await b.arrived(1);
    const second = q.push('b', { id: 'b' });
    await b.arrived(2);
    // Two requests out: the next pushes wait, over several turns, for one of them to return.
    const later: Array<Promise<unknown>> = [];
    for (const id of ['c', 'd', 'e']) {
      later.push(q.push(id, { id }));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(b.requests).toHaveLength(2);
    b.requests[0]!.answer();
    await b.arrived(3);
    expect(b.requests[2]!.body).toMatchObject({ atomic: false, jobs: [{ id: 'c' }, { id: 'd' }, { id: 'e' }] });
    b.requests[1]!.answer();
    b.requests[2]!.answer();
    expect(await Promise.all([first, second, ...later])).toEqual(['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, created: true })));
    expect(b.requests).toHaveLength(3);
  });

  it('a job the client can check is refused alone and never joins the batch', async () => {
    const s = await server();
    const p = await proxy(s.url, () => 'forward');
    const q = client<number>({ url: p.url, topic: 'bad' });
    const calls = Array.from({ length: 10 }, (_, n) => (n === 4 ? q.push(n, { priority: 1.5 }) : q.push(n, { id: `j${n}` })));
    const codes = await Promise.all(calls.map((c) => codeOf(c)));
    expect(codes).toEqual(['ok', 'ok', 'ok', 'ok', 'INVALID_ARGUMENT', 'ok', 'ok', 'ok', 'ok', 'ok']);
    expect(await calls[4]!.catch((e: Error) => e.message)).toMatch(/^job\.priority must be an integer/);
    expect(pushRequests(p)).toHaveLength(1);
    expect(jobsOf(pushRequests(p)[0]!)).toHaveLength(9);
    expect(await q.stats()).toMatchObject({ pending: 9 });
  });

  it('a job the broker refuses (a payload over its limit) fails only its own call', async () => {
    const s = await server({ limits: { maxPayloadBytes: 100 } });
    const p = await proxy(s.url, () => 'forward');
    const q = client<string>({ url: p.url, topic: 'big' });
    const calls = Array.from({ length: 10 }, (_, n) => q.push(n === 7 ? 'x'.repeat(200) : `small ${n}`, { id: `j${n}` }));
    const outcomes = await Promise.all(calls.map((c) => c.then((r) => r.id, (e: { code: string }) => e.code)));
    expect(outcomes).toEqual(['j0', 'j1', 'j2', 'j3', 'j4', 'j5', 'j6', 'PAYLOAD_TOO_LARGE', 'j8', 'j9']);
    expect(pushRequests(p)).toHaveLength(1);
    expect(await q.stats()).toMatchObject({ pending: 9, counters: { pushed: 9 } });
  });

  it('a coalesced request whose answer was lost is retried and duplicates nothing', async () => {
    const s = await server();
    const p = await proxy(s.url, (req, n) => (req.path.endsWith('/jobs') && n === 1 ? 'drop-answer' : 'forward'));
    const q = client<number>({ url: p.url, topic: 'dedupe' });
    const results = await Promise.all(Array.from({ length: 10 }, (_, n) => q.push(n)));
    expect(p.dropped).toBe(1);
    expect(results.every((r) => r.created)).toBe(true); // ids made here: the replay's created:false means the first try landed
    expect(new Set(results.map((r) => r.id)).size).toBe(10);
    const sent = pushRequests(p);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.body).toEqual(sent[0]!.body);
    expect(await q.stats()).toMatchObject({ pending: 10, counters: { pushed: 10 } });
  });

  it('a batch over the broker\'s limit is halved until it fits', async () => {
    const s = await server({ limits: { maxBatch: 3 } });
    const p = await proxy(s.url, () => 'forward');
    const q = client<number>({ url: p.url, topic: 'halves' });
    const results = await Promise.all(Array.from({ length: 10 }, (_, n) => q.push(n, { id: `j${n}` })));
    expect(results.map((r) => r.id)).toEqual(Array.from({ length: 10 }, (_, n) => `j${n}`));
    // 10 refused (413), its halves of 5 refused, their halves of 2 and 3 land.
    expect(pushRequests(p).map((r) => jobsOf(r).length).sort((a, b) => a - b)).toEqual([2, 2, 3, 3, 5, 5, 10]);
    expect(await q.stats()).toMatchObject({ pending: 10, counters: { pushed: 10 } });
  });

  it('a broker that predates per-item pushes (400 for "atomic") gets the jobs one request each', async () => {
    const s = await server();
    const old = { status: 400, body: { error: { code: 'INVALID_ARGUMENT', message: 'the request body has an unknown field "atomic" (allowed: jobs)' } } };
    const p = await proxy(s.url, (req) => ((req.body as { atomic?: boolean } | undefined)?.atomic === false ? old : 'forward'));
    const q = client<number>({ url: p.url, topic: 'old' });
    const results = await Promise.all([1, 2, 3].map((n) => q.push(n, { id: `j${n}` })));
    expect(results).toEqual([1, 2, 3].map((n) => ({ id: `j${n}`, created: true })));
    expect(pushRequests(p).map((r) => jobsOf(r).length)).toEqual([3, 1, 1, 1]);
  });

  it('close() sends the pushes made before it; later ones fail with CLOSED', async () => {
    const s = await server();
    const q = createClient<number>({ url: s.url, topic: 'closing' });
    const pushed = [q.push(1), q.push(2)];
    await q.close();
    expect((await Promise.all(pushed)).every((r) => r.created)).toBe(true);
    expect(await codeOf(q.push(3))).toBe('CLOSED');
    expect(await s.broker.stats('closing')).toMatchObject({ pending: 2 });
  });

  it('batchPushes: false sends one request per call; pushMany stays all or nothing', async () => {
    const s = await server();
    const p = await proxy(s.url, () => 'forward');
    const q = client<number>({ url: p.url, topic: 'single', batchPushes: false });
    await Promise.all([1, 2, 3].map((n) => q.push(n)));
    expect(pushRequests(p).map((r) => r.body)).toEqual([1, 2, 3].map((n) => ({ jobs: [{ payload: n, id: expect.any(String) }] })));

    const batched = client<number>({ url: p.url, topic: 'single' });
    expect(await codeOf(batched.pushMany([{ payload: 1, id: 'x1' }, { payload: 2, priority: 0.5 }]))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(batched.get('x1'))).toBe('NOT_FOUND');
  });
});

describe('createClient: coalesced acks', () => {
  it('acks of one turn go as one settle request, each call with its own outcome; a lone ack is the single ack request', async () => {
    const s = await server();
    const p = await proxy(s.url, () => 'forward');
    const q = client<number>({ url: p.url, topic: 'acks' });
    await q.pushMany([1, 2, 3, 4].map((n) => ({ payload: n, id: `j${n}` })));
    const [a, b, c, d] = await q.claim({ workerId: 'w', max: 4 });
    const acks = [q.ack(a!, 'ra'), q.ack({ ...b!, lease: 'stale' }), q.ack(c!, 'rc')];
    expect(await Promise.all(acks.map((x) => codeOf(x)))).toEqual(['ok', 'LEASE_LOST', 'ok']);
    expect(await acks[0]).toEqual({ id: 'j1' });
    const settles = p.seen.filter((r) => r.path.endsWith('/settle'));
    expect(settles).toHaveLength(1);
    expect((settles[0]!.body as { acks: unknown[] }).acks).toHaveLength(3);
    expect(p.seen.filter((r) => r.path.endsWith('/ack'))).toHaveLength(0);

    expect(await q.ack(d!, 'alone')).toEqual({ id: 'j4' });
    expect(p.seen.filter((r) => r.path.endsWith('/ack')).map((r) => r.path)).toEqual(['/v1/topics/acks/jobs/j4/ack']);
    expect(await q.stats()).toMatchObject({ claimed: 1, counters: { completed: 3 } });
  });

  it('close() sends the acks made before it', async () => {
    const s = await server();
    const q = createClient<number>({ url: s.url, topic: 'ack-close' });
    await q.pushMany([{ payload: 1 }, { payload: 2 }]);
    const jobs = await q.claim({ workerId: 'w', max: 2 });
    const acked = jobs.map((j) => q.ack(j));
    await q.close();
    expect(await Promise.all(acked)).toEqual(jobs.map((j) => ({ id: j.id })));
    expect(await codeOf(q.ack(jobs[0]!))).toBe('CLOSED');
    expect(await s.broker.stats('ack-close')).toMatchObject({ claimed: 0, counters: { completed: 2 } });
  });
});
