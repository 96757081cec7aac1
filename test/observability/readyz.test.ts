/**
 * GET /readyz: 200 with the broker's role while it serves and its store answers; 503 with a JSON
 * reason when the store cannot be reached or the broker drains. /healthz stays "alive" throughout.
 */
import { Agent } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Broker } from '../../src/broker/broker.js';
import { QueueError } from '../../src/errors.js';
import { startBrokerServer } from '../../src/server/broker-server.js';
import { LeadershipTracker } from '../../src/server/leadership.js';
import { createReadiness, PROBE_KEY } from '../../src/server/readiness.js';
import { instrumentStore } from '../../src/storage/instrumented.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { api, raw, serversPerTest } from '../http-helpers.js';
import { EventEmitter } from 'node:events';

const start = serversPerTest();

/** A memory store that fails every call with STORE_UNAVAILABLE while `down` is set. */
function switchableStore(): StorageDriver & { down: boolean } {
  const inner = createMemoryStore();
  const gate = <T>(call: () => Promise<T>): Promise<T> =>
    store.down ? Promise.reject(new QueueError('STORE_UNAVAILABLE', 'connection refused')) : call();
  const store = {
    down: false,
    name: inner.name,
    minWriteIntervalMs: 0,
    read: (key: string) => gate(() => inner.read(key)),
    write: (key: string, body: Uint8Array | string, condition?: Parameters<StorageDriver['write']>[2]) => gate(() => inner.write(key, body, condition)),
    list: (prefix: string) => gate(() => inner.list(prefix)),
    delete: (key: string) => gate(() => inner.delete(key)),
    close: () => inner.close(),
  };
  return store;
}

describe('GET /readyz', () => {
  it('is ready as a standby before leading anything, and as the leader of its topics after', async () => {
    const server = await start({ id: 'r1', token: 'tok' });
    const call = api(server.url); // no token: /readyz is public
    expect(await call('GET', '/readyz')).toMatchObject({ status: 200, body: { ready: true, broker: 'r1', role: 'standby', leading: 0 } });
    expect((await api(server.url, 'tok')('POST', '/v1/topics/b/jobs', { payload: 1 })).status).toBe(201);
    expect((await api(server.url, 'tok')('POST', '/v1/topics/a/jobs', { payload: 1 })).status).toBe(201);
    const ready = await call('GET', '/readyz');
    expect(ready).toMatchObject({ status: 200, body: { ready: true, role: 'leading', leading: 2 } });
    expect(ready.headers.get('cache-control')).toBe('no-store');
  });

  it('answers 503 with a reason once the store fails, and 200 again when it answers', async () => {
    const store = switchableStore();
    const server = await start({ store, brokerOptions: { retry: { attempts: 2, baseMs: 1, maxMs: 1 } } });
    const call = api(server.url);
    expect((await call('POST', '/v1/topics/t/jobs', { payload: 1 })).status).toBe(201);
    store.down = true;
    expect((await call('POST', '/v1/topics/t/jobs', { payload: 2 })).status).toBe(503); // the commit could not be written
    const down = await call('GET', '/readyz');
    expect(down).toMatchObject({ status: 503, body: { ready: false, reason: 'store-unreachable', error: { code: 'UNAVAILABLE' } } });
    expect(down.body.error.message).toMatch(/connection refused/);
    expect((await call('GET', '/healthz')).status).toBe(200); // alive all the same
    store.down = false;
    // The store answers again, but topic t's last commit failed and none has landed since.
    expect(await call('GET', '/readyz')).toMatchObject({ status: 503, body: { ready: false, reason: 'commit-failing', topics: [{ topic: 't', reason: 'commit-failing' }] } });
    expect((await call('POST', '/v1/topics/t/jobs', { payload: 3 })).status).toBe(201);
    expect(await call('GET', '/readyz')).toMatchObject({ status: 200, body: { ready: true } });
  });

  it('answers 503 draining on an open connection while the broker shuts down', async () => {
    const server = await startBrokerServer({ store: createMemoryStore(), listen: '127.0.0.1:0', connectionGraceMs: 10_000 });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await raw(`${server.url}/readyz`, { agent })).toMatchObject({ status: 200 });
      const closed = server.close(); // waits for our idle keep-alive connection (grace 10 s)
      const draining = await raw(`${server.url}/readyz`, { agent });
      expect(draining).toMatchObject({ status: 503, reusedSocket: true, body: { ready: false, reason: 'draining' } });
      expect(draining.headers.connection).toBe('close'); // so the drain need not wait for this connection
      await closed;
    } finally {
      agent.destroy();
    }
  });
});

describe('createReadiness', () => {
  it('probes a store that has not answered recently, with a timeout', async () => {
    let hang = true;
    const inner = createMemoryStore();
    const reads: string[] = [];
    const store = instrumentStore(
      {
        ...inner,
        name: inner.name,
        minWriteIntervalMs: 0,
        read: (key) => {
          reads.push(key);
          return hang ? new Promise(() => {}) : inner.read(key);
        },
      },
      () => {},
    );
    const broker = { id: 'x', events: new EventEmitter() } as unknown as Broker;
    const ready = createReadiness({ brokerId: 'x', store, leadership: new LeadershipTracker(broker), phase: () => 'serving', troubles: () => [], probeTimeoutMs: 50 });
    // Two checks at once share one probe.
    const [a, b] = await Promise.all([ready(false), ready(false)]);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ status: 503, body: { reason: 'store-unreachable' } });
    expect(a.body.error).toMatchObject({ message: expect.stringMatching(/no answer within 50 ms/) });
    expect(reads).toEqual([PROBE_KEY]);
    hang = false;
    expect(await ready(false)).toMatchObject({ status: 200, body: { ready: true, role: 'standby' } });
    // The store just answered: the next check needs no probe.
    expect(await ready(false)).toMatchObject({ status: 200 });
    expect(reads).toEqual([PROBE_KEY, PROBE_KEY]);
  });

  it('lists a topic with a lost segment (segmentLost), named with the token, counted without; the broker stays ready', async () => {
    const store = instrumentStore(createMemoryStore(), () => {});
    await store.read(PROBE_KEY); // the store answered just now
    const broker = { id: 'x', events: new EventEmitter() } as unknown as Broker;
    const error = new QueueError('CORRUPT_STATE', 'topic jobs: segment segments/jobs/k.seg named by the head is missing from the store');
    const ready = createReadiness({ brokerId: 'x', store, leadership: new LeadershipTracker(broker), phase: () => 'serving', troubles: () => [{ topic: 'jobs', trouble: 'segment-lost', error, since: 5 }] });
    expect(await ready(true)).toMatchObject({ status: 200, body: { ready: true, segmentLost: [{ topic: 'jobs', code: 'CORRUPT_STATE', message: error.message, since: 5 }] } });
    expect(await ready(false)).toMatchObject({ status: 200, body: { ready: true, segmentLost: 1 } });
  });
});
