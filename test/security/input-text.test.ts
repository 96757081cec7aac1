/**
 * What a request's text must be, on every wire (issue 13): valid UTF-8 (decoding would turn each
 * bad sequence into U+FFFD, silently changing ids and payloads) — HTTP bodies, Connect JSON,
 * binary protobuf strings, every RESP argument but ECHO's; and a pushed job must carry its
 * `payload` field on HTTP and gRPC/Connect (`null` when it needs none): a missing one is refused,
 * where it used to become a job with a null payload. The typed APIs (createQueue, createClient)
 * send `push(undefined)` as null.
 */
import { Code, ConnectError, createClient as createRpcClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from '../../src/gen/bucketq/v1/queue_pb.js';
import { createClient, createMemoryStore, createQueue } from '../../src/index.js';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { fromValue, toValue } from '../../src/transports/connect/convert.js';
import { api } from '../http-helpers.js';

const TOKEN = 'text-token';
const auth = { authorization: `Bearer ${TOKEN}` };
let server: BrokerServer;
let call: ReturnType<typeof api>;
let redis: Redis;

beforeAll(async () => {
  server = await startBrokerServer({ store: createMemoryStore(), listen: '127.0.0.1:0', respListen: '127.0.0.1:0', token: TOKEN });
  call = api(server.url, TOKEN);
  redis = new Redis(server.respUrl!, { password: TOKEN, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
});
afterAll(async () => {
  redis?.disconnect();
  await server?.close();
});

const BAD = Buffer.from([0xc3, 0x28]); // a 2-byte lead followed by a non-continuation byte
const withBad = (before: string, after: string) => Buffer.concat([Buffer.from(before), BAD, Buffer.from(after)]);

function post(path: string, body: Buffer, type = 'application/json'): Promise<{ status: number; body: any }> {
  return fetch(server.url + path, { method: 'POST', headers: { ...auth, 'content-type': type }, body }).then(async (r) => ({ status: r.status, body: await r.json() }));
}

/** A length-delimited protobuf field. */
function field(tag: number, bytes: Uint8Array): Buffer {
  const len: number[] = [];
  for (let n = bytes.length; ; n >>>= 7) {
    if (n < 128) {
      len.push(n);
      break;
    }
    len.push((n & 127) | 128);
  }
  return Buffer.concat([Buffer.from([tag, ...len]), bytes]);
}

describe('invalid UTF-8 is refused, never rewritten', () => {
  it('HTTP: in an id or a payload, 400 INVALID_ARGUMENT and nothing pushed; valid multi-byte text is kept exactly', async () => {
    for (const body of [withBad('{"id":"a', '","payload":1}'), withBad('{"payload":"x', '"}')]) {
      expect(await post('/v1/topics/utf/jobs', body)).toMatchObject({ status: 400, body: { error: { code: 'INVALID_ARGUMENT', message: 'the request body is not valid UTF-8' } } });
    }
    expect((await call('GET', '/v1/topics/utf')).status).toBe(404);
    expect((await call('POST', '/v1/topics/utf/jobs', { id: 'é-😀', payload: 'ü' })).status).toBe(201);
    expect((await call('GET', `/v1/topics/utf/jobs/${encodeURIComponent('é-😀')}`)).body).toMatchObject({ id: 'é-😀', payload: 'ü' });
  });

  it('Connect JSON and binary protobuf (Connect, gRPC-Web): invalid_argument', async () => {
    const json = await post('/bucketq.v1.Queue/Push', withBad('{"topic":"utf-rpc","jobs":[{"id":"a', '","payload":1}]}'));
    expect(json).toMatchObject({ status: 400, body: { code: 'invalid_argument', message: 'the request is not valid UTF-8' } });
    // PushRequest{topic: "utf-rpc", jobs: [PushJob{id: "a\xc3("}]}
    const message = Buffer.concat([field(0x0a, Buffer.from('utf-rpc')), field(0x12, field(0x0a, withBad('a', '')))]);
    const binary = await post('/bucketq.v1.Queue/Push', message, 'application/proto');
    expect(binary).toMatchObject({ status: 400, body: { code: 'invalid_argument', message: expect.stringContaining('not a valid protobuf message') } });
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), message]);
    frame.writeUInt32BE(message.length, 1);
    const web = await fetch(`${server.url}/bucketq.v1.Queue/Push`, { method: 'POST', headers: { ...auth, 'content-type': 'application/grpc-web+proto' }, body: frame });
    const text = Buffer.from(await web.arrayBuffer()).toString('latin1');
    expect(`${web.headers.get('grpc-status')} ${text}`).toMatch(/grpc-status: ?3\b|^3 /);
    expect(text + (web.headers.get('grpc-message') ?? '')).toContain('not%20a%20valid%20protobuf%20message'.replace(/%20/g, ' '));
    expect((await call('GET', '/v1/topics/utf-rpc')).status).toBe(404);
  });

  it('RESP: a key, an id or a value that is not UTF-8 is -ERR naming the argument; ECHO still answers bytes', async () => {
    await expect(redis.lpush('utf-resp', Buffer.concat([Buffer.from('v'), BAD]))).rejects.toThrow(/^ERR bucketq: argument 2 of 'lpush' is not valid UTF-8/);
    await expect(redis.lpush(Buffer.concat([Buffer.from('k'), BAD]), 'v')).rejects.toThrow(/argument 1 of 'lpush' is not valid UTF-8/);
    await expect(redis.xadd('utf-resp', '*', 'f', Buffer.concat([Buffer.from('v'), BAD]))).rejects.toThrow(/argument 4 of 'xadd' is not valid UTF-8/);
    expect(await redis.llen('utf-resp')).toBe(0);
    expect(await redis.echoBuffer(BAD)).toEqual(BAD);
    expect(await redis.lpush('utf-resp', 'ü')).toBe(1);
    expect(await redis.rpop('utf-resp')).toBe('ü');
  });
});

describe('a pushed job needs its payload field', () => {
  it('HTTP: {} and a batch job without one are 400 naming it; an explicit null is a job with a null payload', async () => {
    expect(await call('POST', '/v1/topics/pl/jobs', {})).toMatchObject({ status: 400, body: { error: { code: 'INVALID_ARGUMENT', message: 'jobs[0].payload is required (send null for a job that needs none)' } } });
    expect(await call('POST', '/v1/topics/pl/jobs', { jobs: [{ payload: 1 }, { id: 'b' }] })).toMatchObject({ status: 400, body: { error: { message: expect.stringMatching(/^jobs\[1\]\.payload is required/) } } });
    expect((await call('GET', '/v1/topics/pl')).status).toBe(404);
    expect((await call('POST', '/v1/topics/pl/jobs', { id: 'n', payload: null })).status).toBe(201);
    expect((await call('GET', '/v1/topics/pl/jobs/n')).body).toMatchObject({ id: 'n', payload: null });
  });

  it('gRPC/Connect: a PushJob without payload is InvalidArgument; a null Value is a null payload', async () => {
    const rpc = createRpcClient(Queue, createConnectTransport({ baseUrl: server.url, httpVersion: '1.1', useBinaryFormat: true }));
    const err = await rpc.push({ topic: 'pl-rpc', jobs: [{ id: 'x' }] }, { headers: auth }).then(
      () => null,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err).toMatchObject({ code: Code.InvalidArgument, rawMessage: expect.stringContaining('payload is required') });
    await rpc.push({ topic: 'pl-rpc', jobs: [{ id: 'n', payload: toValue(null) }] }, { headers: auth });
    expect(fromValue((await rpc.get({ topic: 'pl-rpc', id: 'n' }, { headers: auth })).payload)).toBeNull();
  });

  it('createQueue and createClient: push(undefined) is a job with a null payload', async () => {
    const q = createQueue<void>({ store: createMemoryStore(), topic: 'pl-embedded' });
    const c = createClient<void>({ url: server.url, topic: 'pl-client', token: TOKEN });
    try {
      for (const queue of [q, c]) {
        const { id } = await queue.push(undefined);
        expect(await queue.get(id)).toMatchObject({ id, payload: null });
      }
    } finally {
      await q.close();
      await c.close();
    }
  });
});
