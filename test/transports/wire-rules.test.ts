/**
 * One rule, one place: each rule a request must pass lives in src/protocol.ts or the broker, and
 * every entry to it (the HTTP API, Connect/gRPC, the Redis port, the embedded queue, the network
 * client) answers it the same way: the same code and the protocol's own words. One broker server
 * in process (memory store) serves the three wires.
 */
import { Redis } from 'ioredis';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/client.js';
import { isQueueError, type QueueError } from '../../src/errors.js';
import { createQueue } from '../../src/queue.js';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { deferred, type Deferred } from '../embedded-helpers.js';
import { bucketq } from '../cli/cli-helpers.js';
import { api } from '../http-helpers.js';

let server: BrokerServer;
let redis: Redis;
let http: ReturnType<typeof api>;

beforeAll(async () => {
  server = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0', respListen: '127.0.0.1:0' });
  http = api(server.url);
  redis = new Redis(server.respUrl!, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
});
afterAll(async () => {
  redis?.disconnect();
  await server?.close();
});

interface Refusal {
  code: string;
  message: string;
}

/** A Connect unary call with JSON over HTTP/1.1: its error as bucketq's code and the message. */
async function connect(method: string, body: unknown): Promise<Refusal | 'ok'> {
  const res = await fetch(`${server.url}/bucketq.v1.Queue/${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const answer = (await res.json()) as { message?: string };
  return res.ok ? 'ok' : { code: res.headers.get('bucketq-code') ?? '?', message: answer.message ?? '' };
}

/** An HTTP request sent with its path exactly as given (fetch would resolve `..` itself). */
function rawHttp(method: string, path: string, body: unknown): Promise<Refusal | 'ok'> {
  return new Promise((resolve, reject) => {
    const req = request(server.url + '/', { method, path, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        const answer = JSON.parse(text) as { error?: Refusal };
        resolve(res.statusCode! < 300 ? 'ok' : answer.error!);
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** What a call threw, as a refusal (a QueueError) or 'ok'. */
async function refusal(call: () => unknown): Promise<Refusal | 'ok'> {
  try {
    await call();
    return 'ok';
  } catch (err) {
    if (!isQueueError(err)) throw err;
    return { code: (err as QueueError).code, message: err.message };
  }
}

describe('topic names: "." and ".." are refused by checkTopic itself, on every wire', () => {
  it.each(['.', '..'])('%s', async (topic) => {
    const said = `topic ${JSON.stringify(topic)} is not allowed`;
    expect(await rawHttp('POST', `/v1/topics/${topic}/jobs`, { payload: 1 })).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(said) });
    expect(await connect('Push', { topic, jobs: [{ payload: 1 }] })).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(said) });
    await expect(redis.lpush(topic, 'x')).rejects.toThrow(`ERR bucketq: a key is a topic name: ${said}`);
    expect(await refusal(() => createQueue({ store: createMemoryStore(), topic }))).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(said) });
    expect(await refusal(() => createClient({ url: server.url, topic }))).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(said) });
    expect(await refusal(() => server.broker.push(topic, [{ payload: 1 }]))).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(said) });
    // Nothing was made of any of it.
    expect(await server.broker.topics()).toEqual([]);
  });
});

describe('topics that do not exist: one directory, the same NOT_FOUND on HTTP and Connect, nothing created', () => {
  it('ack, nack, heartbeat, release, get, cancel, retry, stats of an unknown topic', async () => {
    const lease = { workerId: 'w', lease: 'l' };
    const said = { code: 'NOT_FOUND', message: 'no topic nowhere' };
    const overHttp: Array<[string, string, unknown?]> = [
      ['POST', '/v1/topics/nowhere/jobs/j/ack', lease],
      ['POST', '/v1/topics/nowhere/jobs/j/nack', lease],
      ['POST', '/v1/topics/nowhere/jobs/j/heartbeat', lease],
      ['POST', '/v1/topics/nowhere/release', { jobs: [{ id: 'j', ...lease }] }],
      ['POST', '/v1/topics/nowhere/settle', { acks: [{ id: 'j', ...lease }] }],
      ['GET', '/v1/topics/nowhere/jobs/j'],
      ['DELETE', '/v1/topics/nowhere/jobs/j'],
      ['POST', '/v1/topics/nowhere/jobs/j/retry'],
      ['GET', '/v1/topics/nowhere'],
    ];
    for (const [method, path, body] of overHttp) expect((await http(method, path, body)).body.error, `${method} ${path}`).toMatchObject(said);
    const overConnect: Array<[string, unknown]> = [
      ['Ack', { topic: 'nowhere', id: 'j', ...lease }],
      ['Nack', { topic: 'nowhere', id: 'j', ...lease }],
      ['Heartbeat', { topic: 'nowhere', id: 'j', ...lease }],
      ['Release', { topic: 'nowhere', jobs: [{ id: 'j', ...lease }] }],
      ['Settle', { topic: 'nowhere', acks: [{ id: 'j', ...lease }] }],
      ['Get', { topic: 'nowhere', id: 'j' }],
      ['Cancel', { topic: 'nowhere', id: 'j' }],
      ['Retry', { topic: 'nowhere', id: 'j' }],
      ['Stats', { topic: 'nowhere' }],
    ];
    for (const [method, body] of overConnect) expect(await connect(method, body), method).toEqual(said);
    expect(await server.broker.topics()).not.toContain('nowhere');
  });
});

describe('maxAttempts: an integer from 1 to 1,000,000, for a job and for a topic, on every entry', () => {
  it.each([0, 2_000_000, 1.5, '3'])('%s is refused the same way everywhere, and nothing changes', async (bad) => {
    const said = `must be an integer from 1 to 1000000, got ${typeof bad === 'string' ? JSON.stringify(bad) : bad}`;
    const refused = { code: 'INVALID_ARGUMENT', message: expect.stringContaining(`maxAttempts ${said}`) };
    // A topic's settings: PATCH, the embedded queue's configure() and createQueue's option, the client, the broker.
    expect((await http('PATCH', '/v1/topics/settings', { maxAttempts: bad })).body.error).toMatchObject(refused);
    const embedded = createQueue({ store: server.broker, topic: 'settings' });
    expect(await refusal(() => embedded.configure({ maxAttempts: bad as number }))).toMatchObject(refused);
    expect(await refusal(() => createQueue({ store: server.broker, topic: 'settings', maxAttempts: bad as number }))).toMatchObject(refused);
    const client = createClient({ url: server.url, topic: 'settings' });
    expect(await refusal(() => client.configure({ maxAttempts: bad as number }))).toMatchObject(refused);
    await client.close();
    expect(await refusal(() => server.broker.configure('settings', { maxAttempts: bad as number }))).toMatchObject(refused);
    // A job's own: HTTP, Connect (a job's max_attempts is an integer there: only the numbers), the embedded queue.
    expect((await http('POST', '/v1/topics/settings/jobs', { payload: 1, maxAttempts: bad })).body.error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(`.maxAttempts ${said}`) });
    if (typeof bad === 'number' && Number.isInteger(bad)) {
      expect(await connect('Push', { topic: 'settings', jobs: [{ payload: 1, maxAttempts: bad }] })).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(`.maxAttempts ${said}`) });
    }
    expect(await refusal(() => embedded.push(1, { maxAttempts: bad as number }))).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(`.maxAttempts ${said}`) });
    await embedded.close();
    expect(await server.broker.topics()).not.toContain('settings');
  });

  it('the CLI says so before it sends anything (exit 2)', async () => {
    for (const bad of ['0', '2000000']) {
      const run = await bucketq(['push', 'settings', '1', '--max-attempts', bad, '--url', 'http://127.0.0.1:9']);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`--max-attempts must be an integer from 1 to 1000000, got ${bad}`);
    }
  });

  it('paused is true or false on every entry (the embedded queue coerced it)', async () => {
    const refused = { code: 'INVALID_ARGUMENT', message: 'paused must be true or false, got "yes"' };
    expect((await http('PATCH', '/v1/topics/settings', { paused: 'yes' })).body.error).toMatchObject(refused);
    const embedded = createQueue({ store: server.broker, topic: 'settings' });
    expect(await refusal(() => embedded.configure({ paused: 'yes' as unknown as boolean }))).toMatchObject(refused);
    await embedded.close();
    expect(await server.broker.topics()).not.toContain('settings');
  });
});

describe('settle: at least one item, at most maxBatch, and NOT_LEADER answers the whole request, on HTTP and Connect', () => {
  let leader: BrokerServer;
  let standby: BrokerServer;
  beforeAll(async () => {
    const store = createMemoryStore();
    leader = await startBrokerServer({ store, listen: '127.0.0.1:0', limits: { maxBatch: 3 } });
    standby = await startBrokerServer({ store, listen: '127.0.0.1:0', limits: { maxBatch: 3 } });
  });
  afterAll(async () => {
    await standby?.close();
    await leader?.close();
  });

  async function both(base: string, acks: unknown[]): Promise<[Refusal | 'ok', Refusal | 'ok']> {
    const h = await api(base)('POST', '/v1/topics/s/settle', { acks });
    const c = await fetch(`${base}/bucketq.v1.Queue/Settle`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 's', acks }) });
    const cBody = (await c.json()) as { message?: string };
    return [h.status === 200 ? 'ok' : h.body.error, c.ok ? 'ok' : { code: c.headers.get('bucketq-code') ?? '?', message: cBody.message ?? '' }];
  }

  it('sizes', async () => {
    await api(leader.url)('POST', '/v1/topics/s/jobs', { payload: 1 });
    const item = { id: 'j', workerId: 'w', lease: 'l' };
    expect(await both(leader.url, [])).toEqual([
      { code: 'INVALID_ARGUMENT', message: 'settle needs at least one item in acks or nacks' },
      { code: 'INVALID_ARGUMENT', message: 'settle needs at least one item in acks or nacks' },
    ]);
    const tooMany = { code: 'PAYLOAD_TOO_LARGE', message: 'a settle holds at most 3 items, got 4' };
    expect(await both(leader.url, [item, item, item, item])).toEqual([tooMany, tooMany]);
    // Three items of which none holds a lease: each answered on its own, the request is fine.
    expect(await both(leader.url, [item, item, item])).toEqual(['ok', 'ok']);
  });

  it('a standby answers the whole settle NOT_LEADER, on both wires', async () => {
    const [h, c] = await both(standby.url, [{ id: 'j', workerId: 'w', lease: 'l' }]);
    expect(h).toMatchObject({ code: 'NOT_LEADER', leader: leader.url });
    expect(c).toMatchObject({ code: 'NOT_LEADER' });
  });
});

describe('a claim whose caller left before its answer: the broker hands the jobs back, whatever the wire', () => {
  // The window: the claim has landed and its large payload is being read, when the caller leaves.
  let gated: BrokerServer;
  let gate: { reached: Deferred<void>; open: Deferred<void> } | null = null;
  beforeAll(async () => {
    const base = createMemoryStore();
    const store: StorageDriver = {
      ...base,
      name: base.name,
      minWriteIntervalMs: base.minWriteIntervalMs,
      async read(key) {
        const g = gate;
        if (g && key.startsWith('payloads/')) {
          gate = null;
          g.reached.resolve();
          await g.open.promise;
        }
        return base.read(key);
      },
    };
    gated = await startBrokerServer({ store, listen: '127.0.0.1:0', brokerOptions: { payloadThreshold: 100 } });
  });
  afterAll(() => gated?.close());

  /** Pushes one job with a large payload and arms the gate for the next payload read. */
  async function setUp(topic: string): Promise<{ reached: Promise<void>; open: () => void }> {
    await gated.broker.push(topic, [{ id: 'big', payload: 'x'.repeat(500) }]);
    const g = { reached: deferred(), open: deferred() };
    gate = g;
    return { reached: g.reached.promise, open: () => g.open.resolve() };
  }

  async function pollUntil(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!(await cond())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function expectHandedBack(topic: string): Promise<void> {
    await pollUntil('the job to be pending again', async () => (await gated.broker.stats(topic)).pending === 1);
    expect(await gated.broker.stats(topic)).toMatchObject({ pending: 1, claimed: 0 });
    expect(await gated.broker.get(topic, 'big')).toMatchObject({ state: 'pending', attempts: 0 });
  }

  it('the embedded queue: an aborted claim rejects CLOSED and takes nothing', async () => {
    const g = await setUp('gone-embedded');
    const queue = createQueue({ store: gated.broker, topic: 'gone-embedded' });
    const caller = new AbortController();
    const claim = refusal(() => queue.claim({ workerId: 'w', signal: caller.signal }));
    await g.reached;
    caller.abort();
    g.open();
    expect(await claim).toMatchObject({ code: 'CLOSED' });
    await expectHandedBack('gone-embedded');
    await queue.close();
  });

  it('HTTP: a client that hangs up', async () => {
    const g = await setUp('gone-http');
    const req = request(`${gated.url}/v1/topics/gone-http/claim`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    req.on('error', () => {});
    req.end(JSON.stringify({ workerId: 'w' }));
    await g.reached;
    req.destroy();
    // The server has seen it go once the request is counted as 499 (client closed request).
    await pollUntil('the 499', async () => (await gated.metrics.getSingleMetricAsString('bucketq_http_requests_total')).includes('route="/v1/topics/:topic/claim",code="499"'));
    g.open();
    await expectHandedBack('gone-http');
  });

  it('Connect: a cancelled call', async () => {
    const g = await setUp('gone-connect');
    const caller = new AbortController();
    const call = fetch(`${gated.url}/bucketq.v1.Queue/Claim`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'gone-connect', workerId: 'w' }), signal: caller.signal }).catch(() => 'cancelled');
    await g.reached;
    caller.abort();
    expect(await call).toBe('cancelled');
    // Its answer is no longer in flight once the server has seen the call go.
    await pollUntil('the server to see the call go', () => gated.inFlight === 0);
    g.open();
    await expectHandedBack('gone-connect');
  });
});

describe('fields of the wrong type: HTTP checks them into typed requests with the broker\'s own words', () => {
  it.each([
    ['claim', '/v1/topics/typed/claim', { workerId: 'w', max: 'x' }, 'max must be an integer from 1 to 1000, got "x"', (q: ReturnType<typeof createQueue>) => q.claim({ workerId: 'w', max: 'x' as unknown as number })],
    ['heartbeat', '/v1/topics/typed/jobs/j/heartbeat', { workerId: 'w', lease: 'l', leaseMs: -1 }, 'leaseMs must be an integer from 1 to 3600000, got -1', (q: ReturnType<typeof createQueue>) => q.heartbeat({ id: 'j', workerId: 'w', lease: 'l' }, -1)],
    ['ack', '/v1/topics/typed/jobs/j/ack', { workerId: 'w', lease: 7 }, 'lease must be a string of 1 to 256 characters', (q: ReturnType<typeof createQueue>) => q.ack({ id: 'j', workerId: 'w', lease: 7 as unknown as string })],
    ['nack', '/v1/topics/typed/jobs/j/nack', { workerId: 'w', lease: 'l', delayMs: 'soon' }, 'delayMs must be an integer from 0 to 315360000000, got "soon"', (q: ReturnType<typeof createQueue>) => q.nack({ id: 'j', workerId: 'w', lease: 'l' }, undefined, { delayMs: 'soon' as unknown as number })],
  ] as const)('%s', async (_op, path, body, said, embedded) => {
    await http('POST', '/v1/topics/typed/jobs', { payload: 1 });
    expect((await http('POST', path, body)).body.error).toEqual({ code: 'INVALID_ARGUMENT', message: said });
    const queue = createQueue({ store: server.broker, topic: 'typed' });
    expect(await refusal(() => embedded(queue))).toEqual({ code: 'INVALID_ARGUMENT', message: said });
    await queue.close();
  });
});
