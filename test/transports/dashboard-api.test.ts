/**
 * The dashboard's API routes against a real server (memory store): pages of jobs by state,
 * retry every dead job in one commit, the workers holding leases, GET /v1/broker, and the stats
 * stream as a browser meets it (headers, an event at once, ended by close()).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { api } from '../http-helpers.js';
import { watch } from './sse-reader.js';
import { SMALL } from '../core/segments/backlog-harness.js';

let server: BrokerServer;
let call: ReturnType<typeof api>;

beforeEach(async () => {
  server = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0' });
  call = api(server.url);
});

afterEach(async () => {
  await server.close();
});

/** Pushes jobs that die at their first nack, claims and nacks them, and waits for their archive. */
async function killed(topic: string, ids: string[]): Promise<void> {
  expect((await call('POST', `/v1/topics/${topic}/jobs`, { jobs: ids.map((id) => ({ id, payload: { id }, maxAttempts: 1 })) })).status).toBe(201);
  const claimed = await call('POST', `/v1/topics/${topic}/claim`, { workerId: 'w', max: ids.length });
  for (const j of claimed.body.jobs) {
    expect((await call('POST', `/v1/topics/${topic}/jobs/${j.id}/nack`, { workerId: 'w', lease: j.lease, error: `boom ${j.id}` })).status).toBe(200);
  }
  await server.broker.flush(); // the dead jobs leave queue.json for their archive object
}

function commitsOf(topic: string): { count: number } {
  const seen = { count: 0 };
  server.broker.events.on('commit', (e: { topic: string }) => {
    if (e.topic === topic) seen.count++;
  });
  return seen;
}

describe('GET /v1/topics/:topic/jobs', () => {
  it('pages pending jobs in claim order with next and total, payloads included, writing nothing', async () => {
    const jobs = [0, 1, 2, 3, 4].map((i) => ({ id: `j${i}`, payload: { i }, priority: i % 2 }));
    await call('POST', '/v1/topics/t/jobs', { jobs });
    const commits = commitsOf('t');
    const first = await call('GET', '/v1/topics/t/jobs?state=pending&limit=2');
    expect(first.status).toBe(200);
    expect(first.body.jobs.map((j: { id: string }) => j.id)).toEqual(['j1', 'j3']);
    expect(first.body.jobs[0]).toMatchObject({ state: 'pending', payload: { i: 1 }, priority: 1 });
    expect(first.body.total).toBe(5);
    const rest = await call('GET', `/v1/topics/t/jobs?state=pending&limit=50&after=${encodeURIComponent(first.body.next)}`);
    expect(rest.body).toMatchObject({ next: null, total: 5 });
    expect(rest.body.jobs.map((j: { id: string }) => j.id)).toEqual(['j0', 'j2', 'j4']);
    expect((await call('GET', '/v1/topics/t/jobs?q=j4')).body.jobs.map((j: { id: string }) => j.id)).toEqual(['j4']);
    expect(commits.count).toBe(0);
  });

  it('lists dead jobs newest first with their archived payload and last error; claimed ones without lease tokens', async () => {
    await killed('t', ['a', 'b']);
    const dead = await call('GET', '/v1/topics/t/jobs?state=dead');
    expect(dead.body.total).toBe(2);
    expect(dead.body.jobs.map((j: { id: string }) => j.id)).toEqual(['b', 'a']);
    expect(dead.body.jobs[0]).toMatchObject({ id: 'b', state: 'dead', payload: { id: 'b' }, lastError: 'boom b' });
    await call('POST', '/v1/topics/t/jobs', { id: 'c', payload: 1 });
    await call('POST', '/v1/topics/t/claim', { workerId: 'w9' });
    const claimed = await call('GET', '/v1/topics/t/jobs?state=claimed');
    expect(claimed.body.jobs[0].lease).toEqual({ worker: 'w9', until: expect.any(Number) });
  });

  it('refuses bad parameters with a 400 naming them, and an unknown topic with 404', async () => {
    await call('POST', '/v1/topics/t/jobs', { payload: 1 });
    for (const [query, word] of [['state=done', 'state'], ['limit=0', 'limit'], ['limit=501', 'limit'], ['limit=x', 'limit'], ['after=nope', 'after'], ['page=2', 'page'], ['state=dead&state=pending', 'twice']]) {
      const r = await call('GET', `/v1/topics/t/jobs?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.body.error.code).toBe('INVALID_ARGUMENT');
      expect(r.body.error.message).toContain(word);
    }
    expect((await call('GET', '/v1/topics/nope/jobs')).status).toBe(404);
  });
});

describe('GET /v1/topics/:topic/jobs over segments', () => {
  it('pages on past the head into the segments in claim order; a bad cursor is a 400 with a JSON error', async () => {
    const small = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0', brokerOptions: { backlog: SMALL } });
    try {
      const get = api(small.url);
      const want = Array.from({ length: 40 }, (_, i) => `s${String(i).padStart(2, '0')}`);
      expect((await get('POST', '/v1/topics/deep/jobs', { jobs: want.map((id) => ({ id, payload: { id } })) })).status).toBe(201);
      const seen: string[] = [];
      let after = '';
      for (let i = 0; i < 40; i++) {
        const r = await get('GET', `/v1/topics/deep/jobs?state=pending&limit=7${after ? `&after=${encodeURIComponent(after)}` : ''}`);
        expect(r.status).toBe(200);
        expect(r.body.total).toBe(40);
        expect(r.body.inSegments).toBeGreaterThan(0);
        expect(r.body).not.toHaveProperty('wants');
        seen.push(...r.body.jobs.map((j: { id: string }) => j.id));
        if (r.body.next === null) break;
        after = r.body.next;
      }
      expect(seen).toEqual(want);
      const found = await get('GET', '/v1/topics/deep/jobs?state=pending&q=s38');
      expect(found.body.jobs.map((j: { id: string }) => j.id)).toEqual(['s38']);
      for (const cursor of ['nope', Buffer.from('[0,1,{"x":"y"}]').toString('base64url'), Buffer.from('{"a":1}').toString('base64url')]) {
        const r = await get('GET', `/v1/topics/deep/jobs?state=delayed&after=${encodeURIComponent(cursor)}`);
        expect(r.status).toBe(400);
        expect(r.body.error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('after is not a cursor') });
      }
    } finally {
      await small.close();
    }
  });
});

describe('POST /v1/topics/:topic/dead/retry', () => {
  it('sends every dead job back to pending in one commit', async () => {
    await killed('t', ['a', 'b', 'c']);
    const commits = commitsOf('t');
    const events = watch(server.url, { query: 'topics=t' });
    await events.opened;
    const r = await call('POST', '/v1/topics/t/dead/retry', {});
    expect(r).toMatchObject({ status: 200, body: { retried: 3, skipped: [] } });
    expect(commits.count).toBe(1);
    // The event stream tells the dashboard's lists, one `retried` per job.
    await events.next((e) => e.kind === 'retried' && e.data.job === 'c');
    expect(events.jobLine().filter((l) => l.startsWith('retried:')).sort()).toEqual(['retried:a', 'retried:b', 'retried:c']);
    events.close();
    expect((await call('GET', '/v1/topics/t')).body).toMatchObject({ pending: 3, dead: 0 });
    expect((await call('GET', '/v1/topics/t/jobs/a')).body).toMatchObject({ state: 'pending', attempts: 0, payload: { id: 'a' } });
    expect((await call('POST', '/v1/topics/t/dead/retry', {})).body.retried).toBe(0);
  });

  it('retries only the listed ids and reports those that are not dead', async () => {
    await killed('t', ['a', 'b']);
    const r = await call('POST', '/v1/topics/t/dead/retry', { ids: ['a', 'zzz'] });
    expect(r.body).toMatchObject({ retried: 1, ids: ['a'], skipped: [{ id: 'zzz', code: 'NOT_FOUND' }] });
    expect((await call('GET', '/v1/topics/t')).body).toMatchObject({ pending: 1, dead: 1 });
    for (const body of [{ ids: [] }, { ids: 'a' }, { ids: [7] }, { all: true }, []]) {
      const bad = await call('POST', '/v1/topics/t/dead/retry', body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe('job history', () => {
  it('a job moved while someone watched carries its history, newest last; none without watchers', async () => {
    await call('POST', '/v1/topics/u/jobs', { id: 'unwatched', payload: 0 });
    const events = watch(server.url);
    await events.opened;
    await call('POST', '/v1/topics/t/jobs', { id: 'h', payload: 1, maxAttempts: 2 });
    let [job] = (await call('POST', '/v1/topics/t/claim', { workerId: 'w1' })).body.jobs;
    await call('POST', `/v1/topics/t/jobs/h/nack`, { workerId: 'w1', lease: job.lease, error: 'first', delayMs: 0 });
    [job] = (await call('POST', '/v1/topics/t/claim', { workerId: 'w2' })).body.jobs;
    await call('POST', `/v1/topics/t/jobs/h/nack`, { workerId: 'w2', lease: job.lease, error: 'second' });
    await events.next((e) => e.kind === 'dead' && e.data.job === 'h');
    const r = await call('GET', '/v1/topics/t/jobs/h');
    expect(r.body.history).toEqual([
      { at: expect.any(Number), event: 'pushed' },
      { at: expect.any(Number), event: 'claimed', worker: 'w1' },
      { at: expect.any(Number), event: 'nacked', worker: 'w1', error: 'first' },
      { at: expect.any(Number), event: 'claimed', worker: 'w2' },
      { at: expect.any(Number), event: 'dead', worker: 'w2', error: 'second' },
    ]);
    // Pushed before anyone watched: only what happened since.
    await call('POST', '/v1/topics/u/claim', { workerId: 'w3' });
    await events.next((e) => e.kind === 'claimed' && e.data.job === 'unwatched');
    expect((await call('GET', '/v1/topics/u/jobs/unwatched')).body.history).toEqual([{ at: expect.any(Number), event: 'claimed', worker: 'w3' }]);
    events.close();
  });
});

describe('GET /v1/topics/:topic/workers', () => {
  it('lists the lease holders with their jobs', async () => {
    await call('POST', '/v1/topics/t/jobs', { jobs: [{ id: 'a', payload: 1 }, { id: 'b', payload: 2 }, { id: 'c', payload: 3 }] });
    await call('POST', '/v1/topics/t/claim', { workerId: 'w1', max: 2, leaseMs: 60_000 });
    await call('POST', '/v1/topics/t/claim', { workerId: 'w2', max: 1 });
    const r = await call('GET', '/v1/topics/t/workers');
    expect(r.status).toBe(200);
    expect(r.body.workers.map((w: { workerId: string }) => w.workerId)).toEqual(['w1', 'w2']);
    expect(r.body.workers[0]).toMatchObject({ jobs: [{ id: 'a', attempts: 1 }, { id: 'b', attempts: 1 }], lastHeartbeatAt: expect.any(Number) });
    expect(r.body.workers[0].leaseUntil).toBeGreaterThan(Date.now() + 30_000);
  });
});

describe('GET /v1/broker', () => {
  it('names this broker, its version and store, and which topics it leads', async () => {
    await call('POST', '/v1/topics/t/jobs', { payload: 1 });
    const r = await call('GET', '/v1/broker');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: server.broker.id, url: server.advertiseUrl, version: expect.stringMatching(/^\d+\.\d+\.\d+/), store: expect.stringMatching(/^memory/) });
    expect(Math.abs(r.body.startedAt - Date.now())).toBeLessThan(60_000);
    expect(r.body.topics).toEqual([{ topic: 't', leading: true, leader: { id: server.broker.id, url: server.advertiseUrl, epoch: 1, leaseUntil: expect.any(Number) } }]);
  });
});

describe('GET /v1/broker/stats/stream', () => {
  it('sends an event at once, adds no listener to the broker (the history ticker has one), and is ended by close()', async () => {
    await call('POST', '/v1/topics/t/jobs', { jobs: [{ payload: 1 }, { payload: 2 }] });
    // Others may listen (metrics, the stats history): the stream adds none; close() takes the ticker's away.
    const before = server.broker.events.listenerCount('commit');
    const res = await fetch(`${server.url}/v1/broker/stats/stream`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('event: stats\ndata: ')) text += (await reader.read()).value ?? '';
    while (!text.slice(text.indexOf('event: stats')).includes('\n\n')) text += (await reader.read()).value ?? '';
    const data = JSON.parse(text.slice(text.indexOf('data: ') + 6, text.indexOf('\n\n', text.indexOf('data: '))));
    expect(data.topics.t).toMatchObject({ pending: 2, delayed: 0, claimed: 0, dead: 0, completed: 0, paused: false });
    expect(data.commits).toMatchObject({ perSec: expect.any(Number), p50Ms: expect.any(Number), p99Ms: expect.any(Number) });
    expect(server.broker.events.listenerCount('commit')).toBe(before);
    await server.close(); // must end the stream, or this read never finishes
    for (;;) if ((await reader.read()).done) break;
    expect(server.broker.events.listenerCount('commit')).toBe(before - 1);
  });
});
