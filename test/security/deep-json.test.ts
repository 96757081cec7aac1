/**
 * Deeply nested JSON (issue 13): one limit, MAX_JSON_DEPTH levels of arrays and objects, refused
 * with INVALID_ARGUMENT naming it at every entry, on every wire: HTTP bodies of every route that
 * takes one (100,000 levels: refused from the raw bytes, before parsing), payloads and ack results
 * one level past it, Connect JSON, binary protobuf on Connect, gRPC-Web and gRPC (past protobuf's
 * own decoder limit too: InvalidArgument, not Internal), the embedded queue and the remote client.
 * A value at the limit is accepted and then goes through every path that walks it: listing, get,
 * claim (HTTP and binary gRPC), ack result, the Redis port. The server reports no bug throughout
 * and still serves.
 */
import { create } from '@bufbuild/protobuf';
import { ValueSchema, type Value } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient as createRpcClient, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from '../../src/gen/bucketq/v1/queue_pb.js';
import { createClient, createMemoryStore, createQueue } from '../../src/index.js';
import { MAX_JSON_DEPTH } from '../../src/protocol.js';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { fromValue } from '../../src/transports/connect/convert.js';
import { ROUTES } from '../../src/transports/http/index.js';
import { api } from '../http-helpers.js';

const TOKEN = 'deep-token';
const auth = { authorization: `Bearer ${TOKEN}` };
let server: BrokerServer;
let call: ReturnType<typeof api>;
const bugs: unknown[] = [];

beforeAll(async () => {
  server = await startBrokerServer({ store: createMemoryStore(), listen: '127.0.0.1:0', respListen: '127.0.0.1:0', token: TOKEN, onError: (err) => bugs.push(err) });
  call = api(server.url, TOKEN);
});
afterAll(async () => {
  await server?.close();
});

/** JSON text of `[[[…]]]`, `levels` deep. */
const deepText = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
/** The same as a value (built iteratively: no recursion here either). */
function deepValue(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = i % 2 === 0 ? [v] : { k: v };
  return v;
}
/** A protobuf Value `levels` lists deep, built directly (toValue would refuse it past protobuf's JSON limit). */
function deepProto(levels: number): Value {
  let v: Value = create(ValueSchema, { kind: { case: 'numberValue', value: 1 } });
  for (let i = 0; i < levels; i++) v = create(ValueSchema, { kind: { case: 'listValue', value: { values: [v] } } });
  return v;
}

const namesTheLimit = expect.stringContaining(`${MAX_JSON_DEPTH}`);

async function stillServes(topic: string): Promise<void> {
  expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  expect((await call('POST', `/v1/topics/${topic}/jobs`, { payload: { ok: true } })).status).toBe(201);
  expect(bugs).toEqual([]);
}

describe('HTTP API', () => {
  const withBody = ROUTES.filter((r) => r.body);

  it.each(withBody.map((r) => [`${r.method} /${r.path.join('/')}`, r] as const))('%s: a body 100,000 levels deep is 400 INVALID_ARGUMENT naming the limit', async (_name, route) => {
    const p = '/' + route.path.map((s) => (s === ':topic' ? 'deep-routes' : s === ':id' ? 'j' : s)).join('/');
    for (const body of [deepText(100_000), `{"payload":${deepText(100_000)},"result":${deepText(100_000)}}`]) {
      const a = await call(route.method, p, body);
      expect(a.status, p).toBe(400);
      expect(a.body.error).toMatchObject({ code: 'INVALID_ARGUMENT', message: namesTheLimit, maxDepth: MAX_JSON_DEPTH });
    }
    await stillServes('deep-routes');
  });

  it('an ack whose result is 100,000 levels deep (it was a 500): 400, and the job stays claimed', async () => {
    await call('POST', '/v1/topics/deep-ack/jobs', { id: 'a', payload: 1 });
    const { body } = await call('POST', '/v1/topics/deep-ack/claim', { workerId: 'w' });
    const lease = body.jobs[0].lease;
    const a = await call('POST', '/v1/topics/deep-ack/jobs/a/ack', `{"workerId":"w","lease":"${lease}","result":${deepText(100_000)}}`);
    expect(a).toMatchObject({ status: 400, body: { error: { code: 'INVALID_ARGUMENT', message: namesTheLimit } } });
    const settle = await call('POST', '/v1/topics/deep-ack/settle', `{"acks":[{"id":"a","workerId":"w","lease":"${lease}","result":${deepText(100_000)}}]}`);
    expect(settle.status).toBe(400);
    expect((await call('GET', '/v1/topics/deep-ack/jobs/a')).body.state).toBe('claimed');
    await stillServes('deep-ack');
  });

  it('a payload 4,100 levels deep (it was accepted, then broke the listing): refused at push', async () => {
    const a = await call('POST', '/v1/topics/deep-4100/jobs', `{"payload":${deepText(4100)}}`);
    expect(a).toMatchObject({ status: 400, body: { error: { code: 'INVALID_ARGUMENT', message: namesTheLimit } } });
    expect((await call('GET', '/v1/topics/deep-4100')).status).toBe(404); // nothing was pushed
  });

  it('one level past the limit, inside a body the raw scan lets through: refused by the field check, naming the field', async () => {
    const past = deepValue(MAX_JSON_DEPTH + 1);
    const push = await call('POST', '/v1/topics/deep-one/jobs', { payload: past });
    expect(push).toMatchObject({ status: 400, body: { error: { code: 'INVALID_ARGUMENT', message: expect.stringMatching(new RegExp(`^jobs\\[0\\]\\.payload nests deeper than ${MAX_JSON_DEPTH} levels`)) } } });
    await call('POST', '/v1/topics/deep-one/jobs', { id: 'r', payload: 1 });
    const lease = (await call('POST', '/v1/topics/deep-one/claim', { workerId: 'w' })).body.jobs[0].lease;
    const ack = await call('POST', '/v1/topics/deep-one/jobs/r/ack', { workerId: 'w', lease, result: past });
    expect(ack).toMatchObject({ status: 400, body: { error: { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^result nests deeper/) } } });
  });

  it('a payload and a result at the limit go through every path that reads them back', async () => {
    const at = deepValue(MAX_JSON_DEPTH);
    expect((await call('POST', '/v1/topics/deep-at/jobs', { id: 'x', payload: at })).status).toBe(201);
    expect((await call('GET', '/v1/topics/deep-at/jobs?state=pending')).body.jobs[0].payload).toEqual(at);
    expect((await call('GET', '/v1/topics/deep-at/jobs/x')).body.payload).toEqual(at);
    const claimed = (await call('POST', '/v1/topics/deep-at/claim', { workerId: 'w' })).body.jobs[0];
    expect(claimed.payload).toEqual(at);
    expect((await call('POST', '/v1/topics/deep-at/jobs/x/ack', { workerId: 'w', lease: claimed.lease, result: at })).status).toBe(200);
    expect((await call('GET', '/v1/topics/deep-at/jobs/x')).body).toMatchObject({ state: 'completed', result: at });
    // The same job over gRPC (binary protobuf): its Value decodes in any protobuf runtime's default limit.
    const rpc = createRpcClient(Queue, createGrpcTransport({ baseUrl: server.url }));
    expect(fromValue((await rpc.get({ topic: 'deep-at', id: 'x' }, { headers: auth })).result)).toEqual(at);
    // And over the Redis port, where a payload that is not a string is read as its JSON text.
    await call('POST', '/v1/topics/deep-at/jobs', { id: 'y', payload: at });
    const redis = new Redis(server.respUrl!, { password: TOKEN, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      expect(JSON.parse((await redis.rpop('deep-at'))!)).toEqual(at);
    } finally {
      redis.disconnect();
    }
    expect(bugs).toEqual([]);
  });
});

describe('gRPC and Connect', () => {
  it('Connect JSON: 100,000 levels is invalid_argument naming the limit', async () => {
    const res = await fetch(`${server.url}/bucketq.v1.Queue/Push`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: `{"topic":"deep-rpc","jobs":[{"payload":${deepText(100_000)}}]}`,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'invalid_argument', message: namesTheLimit });
  });

  const transports: Array<[string, () => Transport]> = [
    ['Connect binary over HTTP/1.1', () => createConnectTransport({ baseUrl: server.url, httpVersion: '1.1', useBinaryFormat: true })],
    ['gRPC-Web over HTTP/1.1', () => createGrpcWebTransport({ baseUrl: server.url, httpVersion: '1.1' })],
    ['gRPC over HTTP/2', () => createGrpcTransport({ baseUrl: server.url })],
  ];
  it.each(transports)('%s: past the limit, and past protobuf\'s own decoder limit, InvalidArgument naming ours', async (_name, make) => {
    const rpc = createRpcClient(Queue, make());
    for (const levels of [MAX_JSON_DEPTH + 1, 60, 200]) {
      const err = await rpc.push({ topic: 'deep-rpc', jobs: [{ payload: deepProto(levels) }] }, { headers: auth }).then(
        () => null,
        (e: unknown) => ConnectError.from(e),
      );
      expect(err?.code, `${levels} levels: ${err?.rawMessage}`).toBe(Code.InvalidArgument);
      expect(err?.rawMessage, `${levels} levels`).toEqual(namesTheLimit);
    }
    const ok = await rpc.push({ topic: 'deep-rpc', jobs: [{ payload: deepProto(MAX_JSON_DEPTH) }] }, { headers: auth });
    expect(ok.jobs[0]!.created).toBe(true);
    await stillServes('deep-rpc');
  });
});

describe('embedded queue and remote client', () => {
  it('createQueue: push and ack of values past the limit are INVALID_ARGUMENT naming it; at the limit they are kept', async () => {
    const q = createQueue({ store: createMemoryStore(), topic: 'deep' });
    try {
      await expect(q.push(deepValue(100_000))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: namesTheLimit, details: { maxDepth: MAX_JSON_DEPTH } });
      await expect(q.pushMany([{ payload: 1 }, { payload: deepValue(MAX_JSON_DEPTH + 1) }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^jobs\[1\]\.payload nests deeper/) });
      expect((await q.stats()).pending).toBe(0); // the batch is refused whole
      const { id } = await q.push(deepValue(MAX_JSON_DEPTH));
      const [job] = await q.claim({ workerId: 'w' });
      expect(job!.payload).toEqual(deepValue(MAX_JSON_DEPTH));
      await expect(q.ack(job!, deepValue(100_000))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: namesTheLimit });
      await q.ack(job!, deepValue(MAX_JSON_DEPTH));
      expect(await q.get(id)).toMatchObject({ state: 'completed', result: deepValue(MAX_JSON_DEPTH) });
    } finally {
      await q.close();
    }
  });

  it('createClient: refused before anything is sent', async () => {
    const c = createClient({ url: server.url, topic: 'deep-client', token: TOKEN });
    try {
      await expect(c.push(deepValue(100_000))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: namesTheLimit });
      expect((await call('GET', '/v1/topics/deep-client')).status).toBe(404);
    } finally {
      await c.close();
    }
  });
});
