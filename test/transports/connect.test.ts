/**
 * The three protocols of bucketq.v1.Queue on the broker's one port, in process (memory store):
 * gRPC-Web over HTTP/1.1, Connect with binary protobuf over HTTP/2 and gRPC over HTTP/2, through
 * connect-node's client transports and the generated code; plus what the adapter adds: the
 * ItemError detail, a ClaimStream ended by drain, and HTTP/2 refusing the JSON routes.
 */
import { Code, ConnectError, createClient, type Client, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { connect as h2connect } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ItemErrorSchema, Queue } from '../../src/gen/bucketq/v1/queue_pb.js';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { toValue, fromValue } from '../../src/transports/connect/convert.js';

const TOKEN = 'tok';
let server: BrokerServer;

const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  server = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0', token: TOKEN });
});
afterAll(async () => {
  await server?.close();
});

const transports: Array<[string, () => Transport]> = [
  ['gRPC-Web over HTTP/1.1', () => createGrpcWebTransport({ baseUrl: server.url, httpVersion: '1.1' })],
  ['Connect binary over HTTP/2', () => createConnectTransport({ baseUrl: server.url, httpVersion: '2', useBinaryFormat: true })],
  ['gRPC over HTTP/2', () => createGrpcTransport({ baseUrl: server.url })],
];

describe.each(transports)('%s', (name, make) => {
  let client: Client<typeof Queue>;
  const topic = `t-${name.replace(/[^a-z0-9]/gi, '')}`;
  beforeAll(() => {
    client = createClient(Queue, make());
  });

  it('push, claim, ack', async () => {
    const pushed = await client.push({ topic, jobs: [{ id: 'x', payload: toValue({ a: [1, 'b', null, true] }) }] }, { headers: auth });
    expect(pushed.jobs[0]).toMatchObject({ id: 'x', created: true, state: 'pending' });
    const { jobs } = await client.claim({ topic, workerId: 'w', max: 5 }, { headers: auth });
    expect(jobs.map((j) => j.id)).toEqual(['x']);
    expect(fromValue(jobs[0]!.payload)).toEqual({ a: [1, 'b', null, true] });
    expect(await client.ack({ topic, id: 'x', workerId: 'w', lease: jobs[0]!.lease }, { headers: auth })).toMatchObject({ id: 'x' });
    expect((await client.get({ topic, id: 'x' }, { headers: auth })).state).toBe('completed');
  });

  it('release hands claimed jobs back untouched; an empty list is InvalidArgument', async () => {
    await client.push({ topic, jobs: [{ id: 'r1', payload: toValue(1), maxAttempts: 1 }] }, { headers: auth });
    const { jobs } = await client.claim({ topic, workerId: 'w', max: 1 }, { headers: auth });
    expect(jobs.map((j) => j.id)).toEqual(['r1']);
    const lease = { id: 'r1', workerId: 'w', lease: jobs[0]!.lease };
    expect((await client.release({ topic, jobs: [lease] }, { headers: auth })).released).toBe(1);
    expect((await client.release({ topic, jobs: [lease] }, { headers: auth })).released).toBe(0); // not yours any more
    expect(await client.get({ topic, id: 'r1' }, { headers: auth })).toMatchObject({ state: 'pending', attempts: 0 });
    const empty = await client.release({ topic, jobs: [] }, { headers: auth }).then(
      () => null,
      (e: unknown) => ConnectError.from(e),
    );
    expect(empty?.code).toBe(Code.InvalidArgument);
  });

  it('errors carry the code table, bucketq-code and an ItemError detail', async () => {
    const err = await client.ack({ topic, id: 'x', workerId: 'w', lease: 'nope' }, { headers: auth }).then(
      () => null,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.FailedPrecondition);
    expect(err?.metadata.get('bucketq-code')).toBe('LEASE_LOST');
    expect(err?.findDetails(ItemErrorSchema)[0]).toMatchObject({ code: 'LEASE_LOST' });
    const none = await client.stats({ topic }).then(
      () => null,
      (e: unknown) => ConnectError.from(e),
    );
    expect(none?.code).toBe(Code.Unauthenticated);
  });
});

describe('the HTTP/2 side', () => {
  it('answers the JSON routes with 404, pointing at HTTP/1.1', async () => {
    const session = h2connect(server.url);
    try {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = session.request({ ':path': '/v1/topics', authorization: auth.authorization });
        let status = 0;
        let body = '';
        req.on('response', (h) => (status = Number(h[':status'])));
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => resolve({ status, body }));
        req.on('error', reject);
      });
      expect(status).toBe(404);
      expect(JSON.parse(body)).toMatchObject({ error: { code: 'NOT_FOUND' } });
    } finally {
      session.close();
    }
  });

  it('ClaimStream over the Connect protocol ends when the broker drains', async () => {
    const s = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0' });
    const client = createClient(Queue, createConnectTransport({ baseUrl: s.url, httpVersion: '2' }));
    const stream = client.claimStream({ topic: 'd', workerId: 'w', maxInFlight: 3 })[Symbol.asyncIterator]();
    const first = stream.next();
    await client.push({ topic: 'd', jobs: [{ id: 'd1', payload: toValue(1) }] });
    expect((await first).value?.job?.id).toBe('d1');
    const end = stream.next();
    await s.close();
    expect((await end).done).toBe(true);
    // Refused once drained: the port is closed (or the session got its GOAWAY).
    const after = await client.stats({ topic: 'd' }).then(
      () => null,
      (e: unknown) => ConnectError.from(e),
    );
    expect(after?.code).toBe(Code.Unavailable);
  });

  it('refuses a max_in_flight outside 1..maxClaim', async () => {
    const client = createClient(Queue, createGrpcTransport({ baseUrl: server.url }));
    const it = client.claimStream({ topic: 'z', workerId: 'w', maxInFlight: 0 }, { headers: auth })[Symbol.asyncIterator]();
    const err = await it.next().then(
      () => null,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.InvalidArgument);
  });
});

