/**
 * The HTTP API against a real server on 127.0.0.1 (memory store): every route, its status codes,
 * the bad-input list (each a 4xx JSON error, the server serving on afterwards), tokens, long polls
 * and a long-poller that hangs up.
 */
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { createHttpHandler } from '../../src/transports/http/index.js';
import { api, raw } from '../http-helpers.js';

const MAX_BODY = 4096;
let server: BrokerServer;
let call: ReturnType<typeof api>;

beforeEach(async () => {
  server = await startBrokerServer({
    store: 'memory://',
    listen: '127.0.0.1:0',
    maxBodyBytes: MAX_BODY,
    limits: { maxBatch: 5, maxPayloadBytes: 1000 },
  });
  call = api(server.url);
});

afterEach(async () => {
  await server.close();
});

async function claimOne(topic = 't', workerId = 'w1') {
  const r = await call('POST', `/v1/topics/${topic}/claim`, { workerId });
  expect(r.status).toBe(200);
  expect(r.body.jobs).toHaveLength(1);
  return r.body.jobs[0] as { id: string; lease: string };
}

describe('routes', () => {
  it('GET /healthz answers ok with the broker id', async () => {
    const r = await call('GET', '/healthz');
    expect(r).toMatchObject({ status: 200, body: { ok: true, broker: server.broker.id } });
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('POST jobs: one job (201, then 200 with the existing job for its id again), a batch (201, 200 when nothing is new)', async () => {
    expect(await call('POST', '/v1/topics/t/jobs', { id: 'a', payload: { n: 1 }, priority: 2 })).toMatchObject({ status: 201, body: { id: 'a', created: true } });
    const again = await call('POST', '/v1/topics/t/jobs', { id: 'a', payload: { n: 999 } });
    expect(again).toMatchObject({ status: 200, body: { id: 'a', created: false, job: { id: 'a', state: 'pending', payload: { n: 1 }, priority: 2 } } });
    const gen = await call('POST', '/v1/topics/t/jobs', { payload: 'no id' });
    expect(gen.status).toBe(201);
    expect(typeof gen.body.id).toBe('string');

    const batch = await call('POST', '/v1/topics/t/jobs', { jobs: [{ id: 'a', payload: 1 }, { id: 'b', payload: 2 }] });
    expect(batch).toMatchObject({ status: 201, body: { jobs: [{ id: 'a', created: false }, { id: 'b', created: true }] } });
    expect(await call('POST', '/v1/topics/t/jobs', { jobs: [{ id: 'b', payload: 2 }] })).toMatchObject({ status: 200, body: { jobs: [{ id: 'b', created: false }] } });
  });

  it('POST jobs with "atomic": false answers each job on its own; by default one refused job fails the batch', async () => {
    const mixed = [{ id: 'ok1', payload: 1 }, { id: 'big', payload: 'x'.repeat(2000) }, { id: 'bad', payload: 2, priority: 1.5 }, { payload: 3 }, { id: 'ok2', payload: 4 }];
    // All or nothing (the default, and pushMany's): the first refusal answers, nothing is pushed.
    expect(await call('POST', '/v1/topics/each/jobs', { jobs: mixed })).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE' } } });
    expect(await call('GET', '/v1/topics/each')).toMatchObject({ status: 404 });

    const each = await call('POST', '/v1/topics/each/jobs', { jobs: mixed, atomic: false });
    expect(each.status).toBe(201);
    expect(each.body.jobs).toMatchObject([
      { ok: true, id: 'ok1', created: true },
      { ok: false, error: { code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(/^job\.payload is 2002 bytes/) } },
      { ok: false, error: { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^job\.priority/) } },
      { ok: true, id: expect.any(String), created: true },
      { ok: true, id: 'ok2', created: true },
    ]);
    expect(await call('GET', '/v1/topics/each')).toMatchObject({ status: 200, body: { pending: 3, counters: { pushed: 3 } } });
    // Nothing new: 200. Every job refused: 200, nothing created (not even the topic).
    expect(await call('POST', '/v1/topics/each/jobs', { jobs: [{ id: 'ok1', payload: 1 }], atomic: false })).toMatchObject({ status: 200, body: { jobs: [{ ok: true, id: 'ok1', created: false }] } });
    expect(await call('POST', '/v1/topics/none/jobs', { jobs: [{ payload: 1, nope: 1 }], atomic: false })).toMatchObject({ status: 200, body: { jobs: [{ ok: false, error: { code: 'INVALID_ARGUMENT' } }] } });
    expect(await call('GET', '/v1/topics/none')).toMatchObject({ status: 404 });
    // The request itself is still checked as a whole: its size and its fields.
    const six = Array.from({ length: 6 }, (_, n) => ({ payload: n }));
    expect(await call('POST', '/v1/topics/each/jobs', { jobs: six, atomic: false })).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE' } } });
    expect(await call('POST', '/v1/topics/each/jobs', { jobs: [], atomic: false })).toMatchObject({ status: 400 });
    expect(await call('POST', '/v1/topics/each/jobs', { jobs: [{ payload: 1 }], atomic: 'no' })).toMatchObject({ status: 400, body: { error: { message: expect.stringMatching(/atomic must be true or false/) } } });
  });

  it('GET /v1/topics and /v1/topics/{topic}: stats with the leader', async () => {
    await call('POST', '/v1/topics/t1/jobs', { payload: 1 });
    await call('POST', '/v1/topics/t2/jobs', { jobs: [{ payload: 1 }, { payload: 2 }] });
    const list = await call('GET', '/v1/topics');
    expect(list.status).toBe(200);
    expect(list.body.topics.map((t: { topic: string }) => t.topic).sort()).toEqual(['t1', 't2']);
    const t2 = list.body.topics.find((t: { topic: string }) => t.topic === 't2');
    expect(t2).toMatchObject({ pending: 2, counters: { pushed: 2 }, leader: { id: server.broker.id, url: server.advertiseUrl } });

    const one = await call('GET', '/v1/topics/t2');
    expect(one).toMatchObject({ status: 200, body: { topic: 't2', pending: 2, claimed: 0, leader: { id: server.broker.id, url: server.advertiseUrl, epoch: 1 } } });
    expect(one.body.leader.leaseUntil).toBeGreaterThan(Date.now());
  });

  it('claim, heartbeat, ack, nack with their answers; a foreign lease is 409 LEASE_LOST', async () => {
    await call('POST', '/v1/topics/t/jobs', { jobs: [{ id: 'a', payload: { x: 1 } }, { id: 'b', payload: null, maxAttempts: 3 }] });
    const claim = await call('POST', '/v1/topics/t/claim', { workerId: 'w1', max: 2, leaseMs: 60_000 });
    expect(claim.status).toBe(200);
    const [a, b] = claim.body.jobs;
    expect(a).toMatchObject({ id: 'a', payload: { x: 1 }, attempt: 1, maxAttempts: 5, priority: 0 });
    expect(Object.keys(a).sort()).toEqual(['attempt', 'createdAt', 'id', 'lease', 'leaseUntil', 'maxAttempts', 'payload', 'priority']);
    expect(b).toMatchObject({ id: 'b', payload: null, maxAttempts: 3 });

    const hb = await call('POST', '/v1/topics/t/jobs/a/heartbeat', { workerId: 'w1', lease: a.lease, leaseMs: 120_000 });
    expect(hb.status).toBe(200);
    expect(hb.body.leaseUntil).toBeGreaterThan(a.leaseUntil);

    expect(await call('POST', '/v1/topics/t/jobs/a/ack', { workerId: 'w2', lease: a.lease })).toMatchObject({ status: 409, body: { error: { code: 'LEASE_LOST' } } });
    expect(await call('POST', '/v1/topics/t/jobs/a/ack', { workerId: 'w1', lease: a.lease, result: { ok: 1 } })).toMatchObject({ status: 200, body: { id: 'a' } });
    const nack = await call('POST', '/v1/topics/t/jobs/b/nack', { workerId: 'w1', lease: b.lease, error: 'boom', delayMs: 5000 });
    expect(nack).toMatchObject({ status: 200, body: { id: 'b', state: 'delayed' } });
    expect(nack.body.runAt).toBeGreaterThan(Date.now());
    expect(await call('POST', '/v1/topics/t/jobs/b/heartbeat', { workerId: 'w1', lease: b.lease })).toMatchObject({ status: 409, body: { error: { code: 'LEASE_LOST' } } });
  });

  it('claim answers carry each payload as pushed (its text written as it is), with lastError on a redelivery', async () => {
    const payload = { s: 'é ✓ \u2028 "q" \\', n: [1, 2.5, -3e-7], deep: { a: [{ b: null }] }, t: true };
    await call('POST', '/v1/topics/t/jobs', { jobs: [{ id: 'u', payload }, { id: 'v', payload: 'a string' }, { id: 'w', payload: 0 }] });
    const first = await call('POST', '/v1/topics/t/claim', { workerId: 'w1', max: 3 });
    expect(first.body.jobs.map((j: { payload: unknown }) => j.payload)).toEqual([payload, 'a string', 0]);
    const u = first.body.jobs[0];
    expect(await call('POST', '/v1/topics/t/jobs/u/nack', { workerId: 'w1', lease: u.lease, error: 'boom', delayMs: 0 })).toMatchObject({ status: 200 });
    const again = await call('POST', '/v1/topics/t/claim', { workerId: 'w1', max: 1 });
    expect(again.body.jobs).toEqual([{ id: 'u', priority: 0, attempt: 2, maxAttempts: 5, lease: expect.any(String), leaseUntil: expect.any(Number), createdAt: expect.any(Number), lastError: 'boom', payload }]);
  });

  it('settle: acks and nacks in one commit with an outcome per item', async () => {
    await call('POST', '/v1/topics/t/jobs', { jobs: [{ id: 'a', payload: 1 }, { id: 'b', payload: 2 }, { id: 'c', payload: 3 }] });
    const { body } = await call('POST', '/v1/topics/t/claim', { workerId: 'w', max: 3 });
    const [a, b, c] = body.jobs as Array<{ id: string; lease: string }>;
    const batches: string[][] = [];
    server.broker.events.on('batch', (b: { requests: ReadonlyArray<{ op: string }> }) => batches.push(b.requests.map((q) => q.op)));
    const r = await call('POST', '/v1/topics/t/settle', {
      acks: [
        { id: a!.id, workerId: 'w', lease: a!.lease, result: 'done' },
        { id: b!.id, workerId: 'w', lease: 'not-the-lease' },
        { id: 'x', workerId: 'w' },
      ],
      nacks: [{ id: c!.id, workerId: 'w', lease: c!.lease, error: 'again', delayMs: 0 }],
    });
    expect(r.status).toBe(200);
    expect(r.body.acks).toEqual([
      { ok: true, id: 'a' },
      { ok: false, error: expect.objectContaining({ code: 'LEASE_LOST' }) },
      { ok: false, error: expect.objectContaining({ code: 'INVALID_ARGUMENT' }) },
    ]);
    expect(r.body.nacks).toEqual([{ ok: true, id: 'c', state: 'pending', runAt: expect.any(Number) }]);
    // The three well-formed items went into one commit. Housekeeping may ride in it or follow
    // (archiving the finished job; the retention janitor's first run, which lands whenever its
    // listing ends): only the settle's own ops are counted.
    const settled = batches.map((ops) => ops.filter((op) => op === 'ack' || op === 'nack')).filter((ops) => ops.length > 0);
    expect(settled).toEqual([['ack', 'ack', 'nack']]);
  });

  it('GET a job (payload, no lease token), DELETE cancels a pending one, 409 for a claimed one', async () => {
    await call('POST', '/v1/topics/t/jobs', { jobs: [{ id: 'a', payload: { big: 'x' } }, { id: 'b/with slash', payload: 2 }] });
    const claimed = await claimOne();
    const got = await call('GET', '/v1/topics/t/jobs/a');
    expect(got).toMatchObject({ status: 200, body: { id: 'a', state: 'claimed', payload: { big: 'x' }, attempts: 1, lease: { worker: 'w1' } } });
    expect(JSON.stringify(got.body)).not.toContain(claimed.lease);
    expect(got.body.lease.until).toBeGreaterThan(Date.now());

    expect(await call('DELETE', '/v1/topics/t/jobs/a')).toMatchObject({ status: 409, body: { error: { code: 'FAILED_PRECONDITION' } } });
    expect(await call('DELETE', `/v1/topics/t/jobs/${encodeURIComponent('b/with slash')}`)).toMatchObject({ status: 200, body: { id: 'b/with slash', state: 'cancelled' } });
  });

  it('PATCH a topic: changes its settings and answers all of them; paused stops claims, resuming answers a waiting one', async () => {
    await call('POST', '/v1/topics/t/jobs', { id: 'a', payload: 1 });
    const defaults = await call('PATCH', '/v1/topics/t', {});
    expect(defaults).toEqual(expect.objectContaining({ status: 200, body: { maxAttempts: 5, backoff: expect.objectContaining({ type: 'exponential' }), paused: false } }));

    const set = await call('PATCH', '/v1/topics/t', { maxAttempts: 2, backoff: { type: 'fixed', delayMs: 250 } });
    expect(set).toMatchObject({ status: 200, body: { maxAttempts: 2, backoff: { type: 'fixed', delayMs: 250 }, paused: false } });
    expect(Object.keys(set.body).sort()).toEqual(['backoff', 'maxAttempts', 'paused']);
    await call('POST', '/v1/topics/t/jobs', { id: 'b', payload: 2 });
    expect(await call('GET', '/v1/topics/t/jobs/b')).toMatchObject({ body: { maxAttempts: 2 } });

    expect(await call('PATCH', '/v1/topics/t', { paused: true })).toMatchObject({ status: 200, body: { maxAttempts: 2, paused: true } });
    expect(await call('GET', '/v1/topics/t')).toMatchObject({ body: { paused: true, pending: 2 } });
    expect(await call('POST', '/v1/topics/t/claim', { workerId: 'w' })).toMatchObject({ status: 200, body: { jobs: [] } });
    expect(await call('POST', '/v1/topics/t/jobs', { id: 'c', payload: 3 })).toMatchObject({ status: 201 }); // pushes still land
    const waiting = call('POST', '/v1/topics/t/claim', { workerId: 'w', waitMs: 20_000 });
    await vi.waitFor(() => expect(server.inFlight).toBe(1), { timeout: 5_000 });
    expect(await call('PATCH', '/v1/topics/t', { paused: false })).toMatchObject({ status: 200, body: { paused: false } });
    expect(await waiting).toMatchObject({ status: 200, body: { jobs: [{ id: 'a' }] } });
  });

  it('PATCH creates a topic that does not exist yet, like push and claim', async () => {
    expect(await call('PATCH', '/v1/topics/fresh', { paused: true })).toMatchObject({ status: 200, body: { paused: true } });
    expect(await call('GET', '/v1/topics/fresh')).toMatchObject({ status: 200, body: { topic: 'fresh', paused: true, pending: 0 } });
  });

  it('POST retry sends a dead job back to pending; a live one is 409', async () => {
    await call('POST', '/v1/topics/t/jobs', { id: 'd', payload: 'p', maxAttempts: 1 });
    const job = await claimOne();
    expect(await call('POST', '/v1/topics/t/jobs/d/nack', { workerId: 'w1', lease: job.lease, error: 'fatal' })).toMatchObject({ body: { state: 'dead' } });
    expect(await call('GET', '/v1/topics/t/jobs/d')).toMatchObject({ status: 200, body: { state: 'dead', lastError: 'fatal', payload: 'p' } });
    expect(await call('POST', '/v1/topics/t/jobs/d/retry')).toMatchObject({ status: 200, body: { id: 'd', state: 'pending' } });
    expect(await call('POST', '/v1/topics/t/jobs/d/retry')).toMatchObject({ status: 409, body: { error: { code: 'FAILED_PRECONDITION' } } });
  });
});

describe('bad input: each its own 4xx JSON error, and the server keeps serving', () => {
  it('answers every mistake with the right status and code', async () => {
    await call('POST', '/v1/topics/t/jobs', { id: 'a', payload: 1 });
    const cases: Array<[string, () => Promise<{ status: number; body: any }>, number, string]> = [
      ['malformed JSON', () => call('POST', '/v1/topics/t/jobs', '{"payload": '), 400, 'INVALID_ARGUMENT'],
      ['a JSON array', () => call('POST', '/v1/topics/t/claim', '[1,2]'), 400, 'INVALID_ARGUMENT'],
      ['no body', () => call('POST', '/v1/topics/t/claim'), 400, 'INVALID_ARGUMENT'],
      ['workerId of the wrong type', () => call('POST', '/v1/topics/t/claim', { workerId: 7 }), 400, 'INVALID_ARGUMENT'],
      ['max of the wrong type', () => call('POST', '/v1/topics/t/claim', { workerId: 'w', max: '3' }), 400, 'INVALID_ARGUMENT'],
      ['waitMs beyond 30 s', () => call('POST', '/v1/topics/t/claim', { workerId: 'w', waitMs: 30_001 }), 400, 'INVALID_ARGUMENT'],
      ['an unknown field', () => call('POST', '/v1/topics/t/claim', { workerId: 'w', maxx: 3 }), 400, 'INVALID_ARGUMENT'],
      ['an unknown job field', () => call('POST', '/v1/topics/t/jobs', { payload: 1, delay: 5 }), 400, 'INVALID_ARGUMENT'],
      ['priority not an integer', () => call('POST', '/v1/topics/t/jobs', { payload: 1, priority: 1.5 }), 400, 'INVALID_ARGUMENT'],
      ['jobs not an array', () => call('POST', '/v1/topics/t/jobs', { jobs: 'x' }), 400, 'INVALID_ARGUMENT'],
      ['settings: paused not a boolean', () => call('PATCH', '/v1/topics/t', { paused: 'yes' }), 400, 'INVALID_ARGUMENT'],
      ['settings: maxAttempts 0', () => call('PATCH', '/v1/topics/t', { maxAttempts: 0 }), 400, 'INVALID_ARGUMENT'],
      ['settings: maxAttempts not an integer', () => call('PATCH', '/v1/topics/t', { maxAttempts: 2.5 }), 400, 'INVALID_ARGUMENT'],
      ['settings: an unknown backoff type', () => call('PATCH', '/v1/topics/t', { backoff: { type: 'linear' } }), 400, 'INVALID_ARGUMENT'],
      ['settings: a fixed backoff without delayMs', () => call('PATCH', '/v1/topics/t', { backoff: { type: 'fixed' } }), 400, 'INVALID_ARGUMENT'],
      ['a job with a fixed backoff without delayMs', () => call('POST', '/v1/topics/t/jobs', { payload: 1, backoff: { type: 'fixed' } }), 400, 'INVALID_ARGUMENT'],
      ['settings: an unknown field', () => call('PATCH', '/v1/topics/t', { pause: true }), 400, 'INVALID_ARGUMENT'],
      ['settings: no body', () => call('PATCH', '/v1/topics/t'), 400, 'INVALID_ARGUMENT'],
      ['settings of an unknown topic, invalid', () => call('PATCH', '/v1/topics/nope', { paused: 1 }), 400, 'INVALID_ARGUMENT'],
      ['an empty settle', () => call('POST', '/v1/topics/t/settle', {}), 400, 'INVALID_ARGUMENT'],
      ['a bad topic name', () => call('GET', '/v1/topics/no%20spaces'), 400, 'INVALID_ARGUMENT'],
      ['a dot-dot topic', () => raw(server.url, { path: '/v1/topics/%2E%2E/jobs', method: 'POST', headers: { 'content-type': 'application/json' }, chunks: ['{"payload":1}'] }), 400, 'INVALID_ARGUMENT'],
      ['broken percent-encoding', () => call('GET', '/v1/topics/t/jobs/%E0%A4%A'), 400, 'INVALID_ARGUMENT'],
      ['a job id too long', () => call('GET', `/v1/topics/t/jobs/${'x'.repeat(300)}`), 400, 'INVALID_ARGUMENT'],
      ['an unknown topic', () => call('GET', '/v1/topics/nope'), 404, 'NOT_FOUND'],
      ['a job of an unknown topic', () => call('GET', '/v1/topics/nope/jobs/a'), 404, 'NOT_FOUND'],
      ['an ack on an unknown topic', () => call('POST', '/v1/topics/nope/jobs/a/ack', { workerId: 'w', lease: 'l' }), 404, 'NOT_FOUND'],
      ['an unknown job', () => call('GET', '/v1/topics/t/jobs/zzz'), 404, 'NOT_FOUND'],
      ['cancel an unknown job', () => call('DELETE', '/v1/topics/t/jobs/zzz'), 404, 'NOT_FOUND'],
      ['retry an unknown job', () => call('POST', '/v1/topics/t/jobs/zzz/retry'), 404, 'NOT_FOUND'],
      ['an ack of an unclaimed job', () => call('POST', '/v1/topics/t/jobs/a/ack', { workerId: 'w', lease: 'l' }), 409, 'LEASE_LOST'],
      ['an unknown route', () => call('GET', '/v2/nothing'), 404, 'NOT_FOUND'],
      ['a trailing slash', () => call('GET', '/v1/topics/'), 404, 'NOT_FOUND'],
      ['the wrong method', () => call('PUT', '/v1/topics/t/jobs', { payload: 1 }), 405, 'INVALID_ARGUMENT'],
      ['a body not declared JSON', () => call('POST', '/v1/topics/t/jobs', '{"payload":1}', { 'content-type': 'text/plain' }), 415, 'INVALID_ARGUMENT'],
      ['a body over the limit', () => call('POST', '/v1/topics/t/jobs', { payload: 'x'.repeat(MAX_BODY) }), 413, 'PAYLOAD_TOO_LARGE'],
      ['a payload over its limit', () => call('POST', '/v1/topics/t/jobs', { payload: 'x'.repeat(1200) }), 413, 'PAYLOAD_TOO_LARGE'],
      ['a batch over its limit', () => call('POST', '/v1/topics/t/jobs', { jobs: Array.from({ length: 6 }, () => ({ payload: 1 })) }), 413, 'PAYLOAD_TOO_LARGE'],
    ];
    for (const [what, reply, status, code] of cases) {
      const r = await reply();
      expect({ what, status: r.status, code: r.body?.error?.code, message: typeof r.body?.error?.message }).toEqual({ what, status, code, message: 'string' });
    }
    const wrongMethod = await call('PUT', '/v1/topics/t');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, PATCH');
    // The invalid settings changed nothing.
    expect(await call('GET', '/v1/topics/t')).toMatchObject({ body: { paused: false } });

    // Unknown topics were not created as a side effect.
    const topics = await call('GET', '/v1/topics');
    expect(topics.body.topics.map((t: { topic: string }) => t.topic)).toEqual(['t']);
    expect(await call('GET', '/healthz')).toMatchObject({ status: 200 });
    expect(await call('POST', '/v1/topics/t/jobs', { payload: 'still fine' })).toMatchObject({ status: 201 });
  });

  it('refuses an oversized chunked body while reading it, and the connection stays usable', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const chunk = `"${'x'.repeat(1000)}",`;
      const big = await raw(`${server.url}/v1/topics/t/jobs`, {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        chunks: ['{"jobs":[', ...Array.from({ length: 10 }, () => chunk), '"end"]}'],
      });
      expect(big).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE' } } });
      const next = await raw(`${server.url}/healthz`, { agent });
      expect(next).toMatchObject({ status: 200, reusedSocket: true });
    } finally {
      agent.destroy();
    }
  });

  it('refuses a body whose Content-Length is over the limit without reading it', async () => {
    const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${server.url}/v1/topics/t/jobs`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': 50 * 1024 * 1024 } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.flushHeaders(); // headers only: the answer must come before any of the 50 MiB
    });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect(await call('GET', '/healthz')).toMatchObject({ status: 200 });
  });

  it('answers malformed HTTP with a JSON 400', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
      let data = '';
      socket.on('data', (d) => (data += d.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
      socket.write('THIS IS NOT HTTP\r\n\r\n');
    });
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
    expect(await call('GET', '/healthz')).toMatchObject({ status: 200 });
  });

  it('keeps connections alive across answers, errors included', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await raw(`${server.url}/healthz`, { agent });
      const err = await raw(`${server.url}/v1/topics/t/claim`, { agent, method: 'POST', headers: { 'content-type': 'application/json' }, chunks: ['{bad'] });
      const third = await raw(`${server.url}/nope`, { agent });
      expect([first.status, err.status, third.status]).toEqual([200, 400, 404]);
      expect([err.reusedSocket, third.reusedSocket]).toEqual([true, true]);
    } finally {
      agent.destroy();
    }
  });
});

describe('tokens', () => {
  let secured: BrokerServer;
  beforeEach(async () => {
    secured = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0', token: 's3cret-token' });
  });
  afterEach(async () => {
    await secured.close();
  });

  it('every route but /healthz needs the bearer token', async () => {
    const anon = api(secured.url);
    const wrong = api(secured.url, 'not-it');
    const right = api(secured.url, 's3cret-token');
    expect(await anon('GET', '/healthz')).toMatchObject({ status: 200, body: { ok: true } });
    const missing = await anon('POST', '/v1/topics/t/jobs', { payload: 1 });
    expect(missing).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await wrong('GET', '/v1/topics')).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });
    expect(await anon('PATCH', '/v1/topics/t', { paused: true })).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });
    expect(await anon('GET', '/v1/topics', undefined, { authorization: 'Basic czNjcmV0LXRva2Vu' })).toMatchObject({ status: 401 });
    // Nothing about routes is revealed without the token.
    expect(await anon('GET', '/no/such/route')).toMatchObject({ status: 401 });
    expect(await right('POST', '/v1/topics/t/jobs', { payload: 1 })).toMatchObject({ status: 201 });
    expect(await right('GET', '/v1/topics')).toMatchObject({ status: 200, body: { topics: [{ topic: 't', pending: 1 }] } });
    expect(await right('GET', '/no/such/route')).toMatchObject({ status: 404 });
  });
});

describe('long polls', () => {
  it('a waiting claim is answered by a push from another request', async () => {
    await call('POST', '/v1/topics/t/jobs', { id: 'first', payload: 0 }); // the topic exists; nothing else is due
    await claimOne();
    const waiting = call('POST', '/v1/topics/t/claim', { workerId: 'w2', waitMs: 20_000 });
    await vi.waitFor(() => expect(server.inFlight).toBe(1), { timeout: 5_000 });
    const started = Date.now();
    expect(await call('POST', '/v1/topics/t/jobs', { id: 'late', payload: { hi: 1 } })).toMatchObject({ status: 201 });
    const r = await waiting;
    expect(r).toMatchObject({ status: 200, body: { jobs: [{ id: 'late', payload: { hi: 1 }, attempt: 1 }] } });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a waiting claim whose time is up answers with no jobs', async () => {
    await call('POST', '/v1/topics/t/jobs', { id: 'x', payload: 0, delayMs: 60_000 });
    expect(await call('POST', '/v1/topics/t/claim', { workerId: 'w', waitMs: 50 })).toMatchObject({ status: 200, body: { jobs: [] } });
  });

  it('a long-poller that disconnects claims nothing', async () => {
    await call('POST', '/v1/topics/t/jobs', { id: 'first', payload: 0 });
    await claimOne();
    const req = request(`${server.url}/v1/topics/t/claim`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    req.on('error', () => {});
    req.end(JSON.stringify({ workerId: 'gone', waitMs: 20_000 }));
    await vi.waitFor(() => expect(server.inFlight).toBe(1), { timeout: 5_000 });
    req.destroy();
    await vi.waitFor(() => expect(server.inFlight).toBe(0), { timeout: 5_000 });

    expect(await call('POST', '/v1/topics/t/jobs', { id: 'second', payload: 2 })).toMatchObject({ status: 201 });
    const stats = await call('GET', '/v1/topics/t');
    expect(stats.body).toMatchObject({ pending: 1, claimed: 1, counters: { claimed: 1 } });
    const r = await call('POST', '/v1/topics/t/claim', { workerId: 'w2' });
    expect(r.body.jobs).toMatchObject([{ id: 'second', attempt: 1 }]);
  });
});

describe('createHttpHandler on its own', () => {
  it('serves a Broker on any node:http server; once draining it refuses new requests with 503 and closes connections', async () => {
    const broker = new Broker({ store: createMemoryStore(), standby: 'reject' });
    const handler = createHttpHandler(broker, { maxBodyBytes: 1024 });
    const http = createServer(handler);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    try {
      const own = api(base);
      expect(await own('POST', '/v1/topics/t/jobs', { payload: 1 })).toMatchObject({ status: 201 });
      handler.drain();
      const refused = await own('GET', '/v1/topics/t');
      expect(refused).toMatchObject({ status: 503, body: { error: { code: 'UNAVAILABLE' } } });
      expect(refused.headers.get('connection')).toBe('close');
      await handler.idle();
      expect(handler.inFlight).toBe(0);
    } finally {
      await broker.stop();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});
