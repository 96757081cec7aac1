/**
 * What an operator sees of a broker that cannot serve or commit a topic: /readyz (not ready while
 * commits fail, with the reason; lost topics listed, the broker still ready; topic names only with the token), the gauges on /metrics, the topic list,
 * GET /v1/broker (the dashboard's source), STATE_LOST on every wire, and the reset route. Broker
 * servers on a memory store (or one that refuses writes), driven by a fake clock.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { QueueError } from '../../src/errors.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { GRPC_STATUS, HTTP_STATUS, respErrorText } from '../../src/transports/shared/index.js';
import { writeRefusingStore } from '../broker/helpers.js';
import { drive } from '../embedded-helpers.js';
import { api, serversPerTest } from '../http-helpers.js';
import { parseSamples, valueOf } from './prometheus-text.js';

const start = serversPerTest();
const LEASE_MS = 3000;
const Q = 'topics/t/queue.json';

async function gauge(url: string, name: string, token?: string): Promise<number | undefined> {
  const res = await fetch(`${url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return valueOf(parseSamples(await res.text()), name);
}

describe('a topic whose state vanished, as an operator sees it', () => {
  it('listed on /readyz (named with the token), counted in metrics, listed with its error, refused with STATE_LOST, served again after the reset route', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const server = await start({ store, token: 'tok', leaseMs: LEASE_MS, brokerOptions: { clock } });
    const call = api(server.url, 'tok');
    const anonymous = api(server.url);
    expect((await call('POST', '/v1/topics/t/jobs', { payload: 1 })).status).toBe(201);
    expect((await call('POST', '/v1/topics/other/jobs', { payload: 1 })).status).toBe(201);
    expect(await gauge(server.url, 'bucketq_topics_state_lost', 'tok')).toBe(0);

    await store.delete(Q);
    await clock.advance(LEASE_MS); // the leader's renewal finds it gone

    // Listed, not unready: every broker that saw the topic finds it lost, and a readiness gate
    // would take the whole fleet out of rotation, healthy topics included.
    const ready = await call('GET', '/readyz');
    expect(ready).toMatchObject({ status: 200, body: { ready: true, stateLost: [{ topic: 't', code: 'STATE_LOST' }] } });
    expect(ready.body.stateLost[0].message).toContain(Q);
    // Without the token: a count, no topic names (like the rest of /readyz).
    const blind = await anonymous('GET', '/readyz');
    expect(blind).toMatchObject({ status: 200, body: { ready: true, stateLost: 1 } });
    expect(JSON.stringify(blind.body)).not.toContain('topics/t/');
    expect(await gauge(server.url, 'bucketq_topics_state_lost', 'tok')).toBe(1);

    const push = await call('POST', '/v1/topics/t/jobs', { payload: 2 });
    expect(push).toMatchObject({ status: 500, body: { error: { code: 'STATE_LOST', topic: 't', seq: expect.any(Number) } } });
    const list = await call('GET', '/v1/topics');
    expect(list.body.topics.map((t: { topic: string }) => t.topic)).toEqual(['other', 't']);
    expect(list.body.topics[1]).toMatchObject({ topic: 't', error: { code: 'STATE_LOST' } });
    const info = await call('GET', '/v1/broker');
    expect(info.body.topics).toContainEqual(expect.objectContaining({ topic: 't', leading: false, stateLost: expect.objectContaining({ code: 'STATE_LOST', memorySeq: expect.any(Number) }) }));
    expect((await call('POST', '/v1/topics/other/jobs', { payload: 2 })).status).toBe(201); // other topics are served

    expect((await call('POST', '/v1/topics/other/reset', {})).body.error.code).toBe('FAILED_PRECONDITION');
    expect((await call('POST', '/v1/topics/t/reset', { restoreFromMemory: 'yes' })).status).toBe(400);
    expect((await api(server.url)('POST', '/v1/topics/t/reset', {})).status).toBe(401);
    const reset = await call('POST', '/v1/topics/t/reset', { restoreFromMemory: true });
    expect(reset).toMatchObject({ status: 200, body: { topic: 't', action: 'restored', jobs: { pending: 1 } } });
    const after = await call('GET', '/readyz');
    expect(after).toMatchObject({ status: 200, body: { ready: true } });
    expect(after.body.stateLost).toBeUndefined();
    expect(await gauge(server.url, 'bucketq_topics_state_lost', 'tok')).toBe(0);
    expect((await call('POST', '/v1/topics/t/jobs', { payload: 3 })).status).toBe(201);
  });

  it('STATE_LOST is 500 on HTTP, DATA_LOSS on gRPC and Connect, -STATE_LOST on RESP', () => {
    expect(HTTP_STATUS.STATE_LOST).toBe(500);
    expect(GRPC_STATUS.STATE_LOST).toBe(15);
    expect(respErrorText(new QueueError('STATE_LOST', 'topic t: gone'))).toBe('STATE_LOST topic t: gone');
  });
});

describe('a broker whose store refuses writes (read-only filesystem, full disk)', () => {
  it('is not ready from its next lease renewal on, idle, with the store error as the reason, and ready again once a renewal lands', async () => {
    const clock = new FakeClock();
    const store = writeRefusingStore();
    const server = await start({ store, leaseMs: LEASE_MS, brokerOptions: { clock, retry: { attempts: 2, baseMs: 1, maxMs: 1 } } });
    const call = api(server.url);
    expect((await call('POST', '/v1/topics/t/jobs', { payload: 1 })).status).toBe(201);
    expect((await call('GET', '/readyz')).status).toBe(200);

    try {
      store.refusing = true; // reads still work, so the store probe alone would say ready
      await clock.advance(LEASE_MS / 3 + 100); // no request: the lease renewal is the write that fails
      const down = await call('GET', '/readyz');
      expect(down).toMatchObject({ status: 503, body: { ready: false, reason: 'commit-failing', error: { code: 'UNAVAILABLE' }, topics: [{ topic: 't', reason: 'commit-failing', code: 'UNAVAILABLE' }] } });
      expect(down.body.error.message).toMatch(/topic t: the last commit failed.*Injected failure: write topics\/t\/queue\.json/);
      // A scrape reads the topic's stats, which may retry the renewal (sleeping on the fake clock): drive it.
      expect(await drive(clock, gauge(server.url, 'bucketq_topics_commit_failing'))).toBe(1);

      store.refusing = false;
      await clock.advance(LEASE_MS / 3 + 100); // again no request: the retried renewal lands
      expect(await call('GET', '/readyz')).toMatchObject({ status: 200, body: { ready: true, role: 'leading' } });
      expect(await drive(clock, gauge(server.url, 'bucketq_topics_commit_failing'))).toBe(0);
    } finally {
      store.refusing = false; // the server's close releases the lease: a write
    }
  });
});
