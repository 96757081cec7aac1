/**
 * GET /metrics as Prometheus meets it: counters and histograms move with pushes, claims, acks,
 * conflicts, ambiguous writes and storage errors, labels are route patterns (never raw paths),
 * each BrokerServer has its own registry, and the token is required.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { queueKey } from '../../src/core/keys.js';
import { QueueError } from '../../src/errors.js';
import type { BrokerServer } from '../../src/server/broker-server.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { api, serversPerTest } from '../http-helpers.js';
import { parseSamples, sumOf, valueOf, type Sample } from './prometheus-text.js';

const start = serversPerTest();

async function scrape(server: BrokerServer, token?: string): Promise<Sample[]> {
  const res = await fetch(`${server.url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseSamples(await res.text());
}

describe('GET /metrics', () => {
  it('counts commits, requests per commit, storage calls, HTTP requests by route pattern, and jobs by state', async () => {
    // A clock that stands still: no lease renewal and no archive commit joins the five counted
    // below, however slowly a loaded machine runs the requests (it counted 7 once).
    const server = await start({ id: 'm1', brokerOptions: { clock: new FakeClock() } });
    const call = api(server.url);
    for (const id of ['a', 'b', 'c']) expect((await call('POST', '/v1/topics/orders/jobs', { id, payload: { n: id } })).status).toBe(201);
    const claimed = await call('POST', '/v1/topics/orders/claim', { workerId: 'w1', max: 2 });
    expect(claimed.body.jobs).toHaveLength(2);
    const first = claimed.body.jobs[0];
    expect((await call('POST', `/v1/topics/orders/jobs/${first.id}/ack`, { workerId: 'w1', lease: first.lease })).status).toBe(200);
    expect((await call('GET', '/v1/topics/orders/jobs/nope')).status).toBe(404);
    expect((await call('GET', '/no/such/route')).status).toBe(404);
    await fetch(`${server.url}/dashboard/assets/app-0123abcd.js`); // built or not: one label for every asset

    const m = await scrape(server);
    // 3 pushes, 1 claim, 1 ack, each alone in its commit (sequential requests).
    expect(valueOf(m, 'bucketq_commit_duration_seconds_count', { topic: 'orders' })).toBe(5);
    expect(valueOf(m, 'bucketq_commit_requests_sum', { topic: 'orders' })).toBe(5);
    expect(valueOf(m, 'bucketq_commit_requests_bucket', { topic: 'orders', le: '1' })).toBe(5);
    expect(valueOf(m, 'bucketq_commit_bytes_count', { topic: 'orders' })).toBe(5);
    expect(valueOf(m, 'bucketq_commit_duration_seconds_bucket', { topic: 'orders', le: '+Inf' })).toBe(5);
    expect(valueOf(m, 'bucketq_storage_calls_total', { op: 'write' })).toBeGreaterThanOrEqual(5);
    expect(valueOf(m, 'bucketq_storage_call_duration_seconds_count', { op: 'write' })).toBe(valueOf(m, 'bucketq_storage_calls_total', { op: 'write' }));
    expect(valueOf(m, 'bucketq_http_requests_total', { method: 'POST', route: '/v1/topics/:topic/jobs', code: '201' })).toBe(3);
    expect(valueOf(m, 'bucketq_http_requests_total', { method: 'POST', route: '/v1/topics/:topic/claim', code: '200' })).toBe(1);
    expect(valueOf(m, 'bucketq_http_requests_total', { method: 'POST', route: '/v1/topics/:topic/jobs/:id/ack', code: '200' })).toBe(1);
    expect(valueOf(m, 'bucketq_http_requests_total', { method: 'GET', route: '/v1/topics/:topic/jobs/:id', code: '404' })).toBe(1);
    expect(valueOf(m, 'bucketq_http_requests_total', { method: 'GET', route: 'unmatched', code: '404' })).toBe(1);
    expect(sumOf(m, 'bucketq_http_requests_total', { route: '/dashboard/*' })).toBe(1); // whatever the dashboard answered
    // Route patterns only: no topic name or job id ever becomes a label value of the HTTP counter.
    const routes = m.filter((s) => s.name === 'bucketq_http_requests_total').map((s) => s.labels.route!);
    expect(routes.some((r) => r.includes('orders') || r.includes('nope') || r.includes('such'))).toBe(false);
    // Collected at scrape time from the committed state: 1 pending, 1 claimed (2 claimed, 1 acked).
    expect(valueOf(m, 'bucketq_jobs', { topic: 'orders', state: 'pending' })).toBe(1);
    expect(valueOf(m, 'bucketq_jobs', { topic: 'orders', state: 'claimed' })).toBe(1);
    expect(valueOf(m, 'bucketq_jobs', { topic: 'orders', state: 'dead' })).toBe(0);
    expect(valueOf(m, 'bucketq_topic_leader', { topic: 'orders' })).toBe(1);
    expect(valueOf(m, 'bucketq_topic_leader_epoch', { topic: 'orders' })).toBe(1);
    expect(valueOf(m, 'bucketq_cas_conflicts_total', { topic: 'orders' })).toBeUndefined();
    // Default process metrics are there too.
    expect(valueOf(m, 'process_start_time_seconds')).toBeGreaterThan(1_600_000_000);
    // The scrape itself is counted on the next one.
    expect(valueOf(await scrape(server), 'bucketq_http_requests_total', { method: 'GET', route: '/metrics', code: '200' })).toBe(1);
  });

  it('counts requests per commit when a burst is group-committed', async () => {
    const server = await start();
    await api(server.url)('POST', '/v1/topics/t/jobs', { payload: 0 }); // the topic exists and is led
    const before = await scrape(server);
    const sum0 = valueOf(before, 'bucketq_commit_requests_sum', { topic: 't' }) ?? 0;
    const count0 = valueOf(before, 'bucketq_commit_requests_count', { topic: 't' }) ?? 0;
    await Promise.all(Array.from({ length: 20 }, (_, i) => server.broker.push('t', [{ payload: i }])));
    const m = await scrape(server);
    // The 20 pushes, plus at most one housekeeping op (the retention janitor's first run) that
    // waits for the next batch instead of committing alone.
    expect(valueOf(m, 'bucketq_commit_requests_sum', { topic: 't' })! - sum0).toBeGreaterThanOrEqual(20);
    expect(valueOf(m, 'bucketq_commit_requests_sum', { topic: 't' })! - sum0).toBeLessThanOrEqual(21);
    // 20 pushes in one synchronous pass share far fewer than 20 commits.
    expect(valueOf(m, 'bucketq_commit_requests_count', { topic: 't' })! - count0).toBeLessThan(10);
    expect(valueOf(m, 'bucketq_jobs', { topic: 't', state: 'pending' })).toBe(21);
  });

  it('counts CAS conflicts when another writer changed queue.json, and ambiguous writes by outcome', async () => {
    const inner = createMemoryStore();
    let ambiguousNext = false;
    const store: StorageDriver = {
      ...inner,
      name: inner.name,
      minWriteIntervalMs: 0,
      async write(key, body, condition) {
        const out = await inner.write(key, body, condition);
        if (ambiguousNext && key === queueKey('t')) {
          ambiguousNext = false;
          throw new QueueError('STORE_AMBIGUOUS', 'timed out after sending (it landed)');
        }
        return out;
      },
    };
    const server = await start({ store });
    const call = api(server.url);
    await call('POST', '/v1/topics/t/jobs', { payload: 1 });
    // Another writer rewrites the object: the broker's cached etag is stale now.
    const obj = await inner.read(queueKey('t'));
    await inner.write(queueKey('t'), obj!.body, { ifMatch: obj!.etag });
    expect((await call('POST', '/v1/topics/t/jobs', { payload: 2 })).status).toBe(201);
    ambiguousNext = true;
    expect((await call('POST', '/v1/topics/t/jobs', { payload: 3 })).status).toBe(201);

    const m = await scrape(server);
    expect(valueOf(m, 'bucketq_cas_conflicts_total', { topic: 't' })).toBe(1);
    expect(valueOf(m, 'bucketq_storage_errors_total', { op: 'write', code: 'STORE_CONFLICT' })).toBe(1);
    expect(valueOf(m, 'bucketq_ambiguous_writes_total', { topic: 't', landed: 'true' })).toBe(1);
    expect(valueOf(m, 'bucketq_storage_errors_total', { op: 'write', code: 'STORE_AMBIGUOUS' })).toBe(1);
    expect(valueOf(m, 'bucketq_jobs', { topic: 't', state: 'pending' })).toBe(3);
  });

  it('counts failed storage calls by op and error code (each retry is a call)', async () => {
    const inner = createMemoryStore();
    let failReads = 2;
    const store: StorageDriver = {
      ...inner,
      name: inner.name,
      minWriteIntervalMs: 0,
      async read(key) {
        if (failReads > 0 && key === queueKey('t')) {
          failReads--;
          throw new QueueError('STORE_UNAVAILABLE', 'connection reset');
        }
        return inner.read(key);
      },
    };
    const server = await start({ store, brokerOptions: { retry: { baseMs: 1, maxMs: 1 } } });
    expect((await api(server.url)('POST', '/v1/topics/t/jobs', { payload: 1 })).status).toBe(201);
    const m = await scrape(server);
    expect(valueOf(m, 'bucketq_storage_errors_total', { op: 'read', code: 'STORE_UNAVAILABLE' })).toBe(2);
    expect(valueOf(m, 'bucketq_storage_calls_total', { op: 'read' })).toBeGreaterThanOrEqual(3);
  });

  it('keeps one registry per BrokerServer', async () => {
    const a = await start({ id: 'a' });
    const b = await start({ id: 'b' });
    await api(a.url)('POST', '/v1/topics/only-a/jobs', { payload: 1 });
    const ma = await scrape(a);
    const mb = await scrape(b);
    expect(valueOf(ma, 'bucketq_commit_duration_seconds_count', { topic: 'only-a' })).toBe(1);
    expect(valueOf(mb, 'bucketq_commit_duration_seconds_count', { topic: 'only-a' })).toBeUndefined();
    expect(sumOf(mb, 'bucketq_http_requests_total', { route: '/v1/topics/:topic/jobs' })).toBe(0);
    expect(a.metrics).not.toBe(b.metrics);
  });

  it('shows leadership per topic: 1 while leading, 0 once released, and the standby that took over leads at epoch 2', async () => {
    const store = createMemoryStore();
    const a = await start({ store, id: 'a' });
    const b = await start({ store, id: 'b' });
    await api(a.url)('POST', '/v1/topics/t/jobs', { payload: 1 });
    expect(valueOf(await scrape(a), 'bucketq_topic_leader', { topic: 't' })).toBe(1);
    await a.close(); // releases the lease; its registry stays readable
    expect(valueOf(parseSamples(await a.metrics.metrics()), 'bucketq_topic_leader', { topic: 't' })).toBe(0);
    expect((await api(b.url)('POST', '/v1/topics/t/jobs', { payload: 2 })).status).toBe(201);
    const mb = await scrape(b);
    expect(valueOf(mb, 'bucketq_topic_leader', { topic: 't' })).toBe(1);
    expect(valueOf(mb, 'bucketq_topic_leader_epoch', { topic: 't' })).toBe(2);
  });

  it('needs the broker token (or the read-only token), like the API; /readyz and /healthz stay public', async () => {
    const server = await start({ token: 's3cret' });
    const none = await fetch(`${server.url}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="bucketq"');
    expect(await none.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    const wrong = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain('bucketq_');
    expect(valueOf(await scrape(server, 's3cret'), 'bucketq_http_requests_total', { route: '/metrics', code: '401' })).toBe(2);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const reader = await start({ token: 'admin-tok', readToken: 'read-tok' });
    expect(valueOf(await scrape(reader, 'read-tok'), 'process_start_time_seconds')).toBeGreaterThan(1_600_000_000); // the read-only token may scrape
    expect((await fetch(`${reader.url}/metrics`, { headers: { authorization: 'Bearer other' } })).status).toBe(401);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const post = await fetch(`${server.url}/metrics`, { method: 'POST', headers: { authorization: 'Bearer s3cret' } });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
  });

  it('serves /metrics and /readyz without a token on metricsListen, and nothing else there', async () => {
    const server = await start({ token: 's3cret', metricsListen: '127.0.0.1:0' });
    expect(server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.metricsUrl).not.toBe(server.url);
    await api(server.url, 's3cret')('POST', '/v1/topics/t/jobs', { payload: 1 });
    const res = await fetch(`${server.metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(valueOf(parseSamples(await res.text()), 'bucketq_commit_duration_seconds_count', { topic: 't' })).toBe(1);
    expect(await api(server.metricsUrl!)('GET', '/readyz')).toMatchObject({ status: 200, body: { ready: true, role: 'leading' } });
    expect(await api(server.metricsUrl!)('GET', '/v1/topics')).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    expect(await api(server.metricsUrl!)('GET', '/v1/topics/t/jobs/x')).toMatchObject({ status: 404 });
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401); // the main port still wants the token
    await server.close();
    await expect(fetch(`${server.metricsUrl}/metrics`)).rejects.toThrow(); // closed with the server
  });
});
