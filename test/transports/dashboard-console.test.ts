/**
 * The console's routes against a real server (memory store): recent completions with their
 * results, cancelling many jobs in one commit, purging dead jobs, a topic's settings in its
 * stats, and the stats history the charts start from. Read-only tokens are refused the changes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { MAX_RESULT_CHARS } from '../../src/transports/http/dashboard-server/recent-completions.js';
import { api } from '../http-helpers.js';
import { watch } from './sse-reader.js';

const ADMIN = 'console-admin-5e1';
const READER = 'console-reader-9c2';

let server: BrokerServer;
let call: ReturnType<typeof api>;
let read: ReturnType<typeof api>;

beforeEach(async () => {
  server = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0', token: ADMIN, readToken: READER });
  call = api(server.url, ADMIN);
  read = api(server.url, READER);
});

afterEach(async () => {
  await server.close();
});

function commitsOf(topic: string): { count: number } {
  const seen = { count: 0 };
  server.broker.events.on('commit', (e: { topic: string }) => {
    if (e.topic === topic) seen.count++;
  });
  return seen;
}

/** Pushes jobs that die at their first nack, claims and nacks them. */
async function killed(topic: string, ids: string[]): Promise<void> {
  expect((await call('POST', `/v1/topics/${topic}/jobs`, { jobs: ids.map((id) => ({ id, payload: { id }, maxAttempts: 1 })) })).status).toBe(201);
  const claimed = await call('POST', `/v1/topics/${topic}/claim`, { workerId: 'w', max: ids.length });
  const nacks = claimed.body.jobs.map((j: { id: string; lease: string }) => ({ id: j.id, workerId: 'w', lease: j.lease, error: `boom ${j.id}` }));
  expect((await call('POST', `/v1/topics/${topic}/settle`, { nacks })).status).toBe(200);
}

describe('GET /v1/topics/:topic/completed', () => {
  it('lists the jobs completed while someone watched, newest first, with their results (a large one by its size)', async () => {
    await call('POST', '/v1/topics/t/jobs', { jobs: ['a', 'b', 'c'].map((id) => ({ id, payload: id })) });
    const events = watch(server.url, { token: ADMIN, query: 'topics=t' });
    await events.opened;
    const claimed = (await call('POST', '/v1/topics/t/claim', { workerId: 'w1', max: 3 })).body.jobs as Array<{ id: string; lease: string }>;
    const results: Record<string, unknown> = { a: { sent: true, to: 'ada@example.com' }, b: undefined, c: 'x'.repeat(MAX_RESULT_CHARS) };
    for (const j of claimed) {
      const body = results[j.id] === undefined ? { workerId: 'w1', lease: j.lease } : { workerId: 'w1', lease: j.lease, result: results[j.id] };
      expect((await call('POST', `/v1/topics/t/jobs/${j.id}/ack`, body)).status).toBe(200);
    }
    await events.next((e) => e.kind === 'acked' && e.data.job === 'c');
    events.close();
    const r = await read('GET', '/v1/topics/t/completed');
    expect(r.status).toBe(200);
    expect(r.body.jobs).toEqual([
      { id: 'c', at: expect.any(Number), worker: 'w1', resultChars: MAX_RESULT_CHARS + 2 },
      { id: 'b', at: expect.any(Number), worker: 'w1' },
      { id: 'a', at: expect.any(Number), worker: 'w1', result: { sent: true, to: 'ada@example.com' } },
    ]);
    expect((await read('GET', '/v1/topics/t/completed?limit=1')).body.jobs.map((j: { id: string }) => j.id)).toEqual(['c']);
    expect((await read('GET', '/v1/topics/t/completed?limit=0')).status).toBe(400);
    expect((await read('GET', '/v1/topics/t/completed?state=x')).status).toBe(400);
    // An unknown topic is 404, and asking does not create it.
    expect((await read('GET', '/v1/topics/nope/completed')).status).toBe(404);
    expect((await call('GET', '/v1/topics/nope')).status).toBe(404);
  });
});

describe('POST /v1/topics/:topic/cancel', () => {
  it('cancels the listed jobs in one commit and reports the ones it could not', async () => {
    await call('POST', '/v1/topics/t/jobs', { jobs: [{ id: 'p1', payload: 1 }, { id: 'p2', payload: 2 }, { id: 'd1', payload: 3, delayMs: 3_600_000 }, { id: 'busy', payload: 4, priority: 9 }] });
    await call('POST', '/v1/topics/t/claim', { workerId: 'w' }); // takes `busy`
    const commits = commitsOf('t');
    const r = await call('POST', '/v1/topics/t/cancel', { ids: ['p1', 'd1', 'busy', 'nope'] });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      cancelled: 2,
      skipped: [
        { id: 'busy', code: 'FAILED_PRECONDITION', message: expect.stringContaining('claimed') },
        { id: 'nope', code: 'NOT_FOUND', message: expect.any(String) },
      ],
    });
    expect(commits.count).toBe(1);
    expect((await call('GET', '/v1/topics/t')).body).toMatchObject({ pending: 1, delayed: 0, claimed: 1, counters: { cancelled: 2 } });
  });

  it('cancels a page of a state at a time and says how many remain', async () => {
    await call('POST', '/v1/topics/t/jobs', { jobs: Array.from({ length: 600 }, (_, i) => ({ id: `j${i}`, payload: i })) });
    await call('POST', '/v1/topics/t/jobs', { id: 'later', payload: 0, delayMs: 3_600_000 });
    const first = await call('POST', '/v1/topics/t/cancel', { state: 'pending' });
    expect(first.body).toEqual({ cancelled: 500, skipped: [], remaining: 100 });
    const some = await call('POST', '/v1/topics/t/cancel', { state: 'pending', max: 30 });
    expect(some.body).toEqual({ cancelled: 30, skipped: [], remaining: 70 });
    const second = await call('POST', '/v1/topics/t/cancel', { state: 'pending' });
    expect(second.body).toEqual({ cancelled: 70, skipped: [], remaining: 0 });
    expect((await call('GET', '/v1/topics/t')).body).toMatchObject({ pending: 0, delayed: 1 });
  });

  it('refuses a bad body with a 4xx JSON error, the read-only token with 403, an unknown topic with 404', async () => {
    await call('POST', '/v1/topics/t/jobs', { id: 'a', payload: 0 });
    for (const body of [{}, { ids: [] }, { ids: 'a' }, { state: 'claimed' }, { state: 'dead' }, { ids: ['a'], state: 'pending' }, { ids: ['a'], max: 1 }, { state: 'pending', max: 0 }, { state: 'pending', max: 501 }, { all: true }, []]) {
      const bad = await call('POST', '/v1/topics/t/cancel', body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.body.error.code).toBe('INVALID_ARGUMENT');
    }
    const tooMany = await call('POST', '/v1/topics/t/cancel', { ids: Array.from({ length: server.broker.limits.maxBatch + 1 }, (_, i) => `x${i}`) });
    expect(tooMany.status).toBe(413);
    expect((await read('POST', '/v1/topics/t/cancel', { ids: ['a'] })).status).toBe(403);
    expect((await call('POST', '/v1/topics/nope/cancel', { ids: ['a'] })).status).toBe(404);
    expect((await call('GET', '/v1/topics/t')).body.pending).toBe(1);
  });
});

describe('POST /v1/topics/:topic/dead/purge', () => {
  it('drops every dead job in one commit, or only the listed ones', async () => {
    await killed('t', ['a', 'b', 'c', 'd']);
    await server.broker.flush(); // archived: the dead jobs are index entries now
    const commits = commitsOf('t');
    const some = await call('POST', '/v1/topics/t/dead/purge', { ids: ['a', 'zzz'] });
    expect(some.body).toEqual({ purged: 1, skipped: [{ id: 'zzz', code: 'NOT_FOUND', message: 'job zzz is not dead' }] });
    expect((await call('GET', '/v1/topics/t/jobs/a')).status).toBe(404);
    expect((await call('GET', '/v1/topics/t')).body.dead).toBe(3);
    const all = await call('POST', '/v1/topics/t/dead/purge', {});
    expect(all.body).toEqual({ purged: 3, skipped: [] });
    expect(commits.count).toBe(2);
    expect((await call('GET', '/v1/topics/t/jobs?state=dead')).body).toMatchObject({ jobs: [], total: 0 });
    expect((await read('POST', '/v1/topics/t/dead/purge', {})).status).toBe(403);
    expect((await call('POST', '/v1/topics/t/dead/purge', { ids: [] })).status).toBe(400);
    expect((await call('POST', '/v1/topics/nope/dead/purge', {})).status).toBe(404);
  });
});

describe('a topic\'s settings', () => {
  it('GET /v1/topics/:topic carries them; PATCH changes them and refuses bad values with 400', async () => {
    await call('POST', '/v1/topics/t/jobs', { id: 'a', payload: 0 });
    expect((await read('GET', '/v1/topics/t')).body.settings).toEqual({ maxAttempts: 5, backoff: { type: 'exponential', baseMs: 1000, maxMs: 3_600_000, jitter: 0.5 }, paused: false });
    const patched = await call('PATCH', '/v1/topics/t', { maxAttempts: 3, backoff: { type: 'fixed', delayMs: 2000 } });
    expect(patched.body).toEqual({ maxAttempts: 3, backoff: { type: 'fixed', delayMs: 2000 }, paused: false });
    expect((await read('GET', '/v1/topics/t')).body.settings).toEqual(patched.body);
    const bad = await call('PATCH', '/v1/topics/t', { maxAttempts: 0 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_ARGUMENT');
  });
});

describe('GET /v1/broker/stats/history', () => {
  it('keeps the samples the ticker made, with totals, and of the topics only the one asked for', async () => {
    await call('POST', '/v1/topics/t/jobs', { jobs: [{ payload: 1 }, { payload: 2 }] });
    await call('POST', '/v1/topics/u/jobs', { payload: 3 });
    // Nobody watches the stream: the history fills anyway, one sample a second.
    let history: any;
    await expect
      .poll(async () => {
        history = (await read('GET', '/v1/broker/stats/history?topic=t')).body;
        return history.samples.filter((s: any) => s.topics.t).length;
      }, { timeout: 10_000 })
      .toBeGreaterThan(0);
    expect(history).toMatchObject({ intervalMs: 1000, historyMs: 600_000 });
    const last = history.samples.at(-1);
    expect(Object.keys(last.topics)).toEqual(['t']);
    expect(last.topics.t).toMatchObject({ pending: 2, workers: null, paused: false });
    expect(last.totals).toMatchObject({ pending: 3 });
    expect(last.commits).toMatchObject({ perSec: expect.any(Number) });
    expect((await read('GET', '/v1/broker/stats/history')).body.samples.at(-1).topics).toEqual({});
    expect((await read('GET', '/v1/broker/stats/history?topic=..')).status).toBe(400);
    expect((await read('GET', '/v1/broker/stats/history?since=1')).status).toBe(400);
  });
});
