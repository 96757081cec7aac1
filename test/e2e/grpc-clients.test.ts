/**
 * gRPC over cleartext HTTP/2 against a real `bucketq broker` process, driven by a client bucketq
 * did not write: @grpc/grpc-js with the .proto loaded at run time by @grpc/proto-loader (no
 * generated code). The transports' common scenario (push, claim, heartbeat, ack, nack to dead,
 * retry), ClaimStream within its credit window refilled by acks (Ack, Settle and the HTTP API),
 * the error table (UNAUTHENTICATED, INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, UNAVAILABLE
 * with the leader from a standby), and drain: SIGTERM ends an open ClaimStream with OK.
 *
 * Synchronisation is by answers and stream messages: a window's bound is observed in Stats after
 * the stream delivered what its window allows, never by waiting for time to pass.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerProcess, type BrokerProcess } from '../broker-process.js';
import { api } from '../http-helpers.js';

const TOKEN = 'grpc-s3cret';
const PROTO = path.join(import.meta.dirname, '..', '..', 'proto', 'bucketq', 'v1', 'queue.proto');

type Unary = (req: object, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: any) => void) => void;
interface QueueClient extends grpc.Client {
  [method: string]: any;
}

let broker: BrokerProcess;
let standby: BrokerProcess | undefined;
let dir: string;
let Queue: grpc.ServiceClientConstructor;
const clients: grpc.Client[] = [];

function client(url: string): QueueClient {
  const c = new Queue(new URL(url).host, grpc.credentials.createInsecure()) as unknown as QueueClient;
  clients.push(c);
  return c;
}

function md(token: string | null = TOKEN): grpc.Metadata {
  const m = new grpc.Metadata();
  if (token !== null) m.set('authorization', `Bearer ${token}`);
  return m;
}

function call(c: QueueClient, method: string, req: object, token: string | null = TOKEN): Promise<any> {
  return new Promise((resolve, reject) => (c[method] as Unary).call(c, req, md(token), (err, res) => (err ? reject(err) : resolve(res))));
}

/** The gRPC error of a call that must fail. */
async function failure(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('the call succeeded');
}

/** JSON ↔ google.protobuf.Value as proto-loader represents it. */
function toValue(v: unknown): object {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: { fields: Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, toValue(x)])) } };
}
function fromValue(v: any): unknown {
  if (!v || v.nullValue !== undefined) return null;
  if (v.numberValue !== undefined) return v.numberValue;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.listValue) return (v.listValue.values ?? []).map(fromValue);
  return Object.fromEntries(Object.entries(v.structValue?.fields ?? {}).map(([k, x]) => [k, fromValue(x)]));
}

/** Messages of a server stream, read one at a time. */
function reader(stream: grpc.ClientReadableStream<any>) {
  const queue: any[] = [];
  const waiters: Array<(m: any) => void> = [];
  const status = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
  stream.on('error', () => {}); // the status says it
  stream.on('data', (m: any) => {
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  return {
    next: () => (queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise<any>((resolve) => waiters.push(resolve))),
    status,
    buffered: () => queue.length,
  };
}

beforeAll(async () => {
  const def = protoLoader.loadSync(PROTO, { longs: Number, defaults: false, oneofs: true });
  const loaded = grpc.loadPackageDefinition(def) as any;
  Queue = loaded.bucketq.v1.Queue;
  dir = await mkdtemp(path.join(tmpdir(), 'bucketq-grpc-'));
  broker = await startBrokerProcess(['--store', `file:${dir}`, '--listen', '127.0.0.1:0', '--id', 'grpc-leader'], { BUCKETQ_TOKEN: TOKEN });
});

afterAll(async () => {
  for (const c of clients) c.close();
  for (const b of [broker, standby]) if (b && b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGKILL');
  await Promise.all([broker?.exited, standby?.exited]);
  await rm(dir, { recursive: true, force: true });
});

describe('gRPC with @grpc/grpc-js', () => {
  it('push, claim, heartbeat, ack, nack until dead, retry', async () => {
    const c = client(broker.url);
    const pushed = await call(c, 'Push', { topic: 'g', jobs: [{ id: 'g1', payload: toValue({ to: 'ada', n: 1 }), maxAttempts: 2 }] });
    expect(pushed.jobs.map((j: any) => [j.id, j.created])).toEqual([['g1', true]]);

    const first = await call(c, 'Claim', { topic: 'g', workerId: 'w1', max: 1, leaseMs: 30000 });
    expect(first.jobs).toHaveLength(1);
    const j = first.jobs[0];
    expect(j).toMatchObject({ id: 'g1', attempt: 1, maxAttempts: 2 });
    expect(fromValue(j.payload)).toEqual({ to: 'ada', n: 1 });
    const hb = await call(c, 'Heartbeat', { topic: 'g', id: 'g1', workerId: 'w1', lease: j.lease, leaseMs: 60000 });
    expect(hb.leaseUntil).toBeGreaterThan(j.leaseUntil);
    const n1 = await call(c, 'Nack', { topic: 'g', id: 'g1', workerId: 'w1', lease: j.lease, error: 'first', delayMs: 0 });
    expect(n1).toMatchObject({ id: 'g1', state: 'pending' });

    // g1 is due again at once (delay 0): its second and last attempt.
    const second = (await call(c, 'Claim', { topic: 'g', workerId: 'w1', max: 1 })).jobs[0];
    expect(second).toMatchObject({ id: 'g1', attempt: 2, lastError: 'first' });
    const n2 = await call(c, 'Nack', { topic: 'g', id: 'g1', workerId: 'w1', lease: second.lease, error: 'second' });
    expect(n2).toMatchObject({ id: 'g1', state: 'dead' });
    expect(await call(c, 'Get', { topic: 'g', id: 'g1' })).toMatchObject({ state: 'dead', lastError: 'second' });
    expect((await call(c, 'Stats', { topic: 'g' })).dead).toBe(1);

    expect(await call(c, 'Retry', { topic: 'g', id: 'g1' })).toEqual({ id: 'g1', state: 'pending' });
    await call(c, 'Push', { topic: 'g', jobs: [{ id: 'g2', payload: toValue('two') }] });
    const jobs = (await call(c, 'Claim', { topic: 'g', workerId: 'w2', max: 10 })).jobs;
    expect(jobs.map((x: any) => x.id).sort()).toEqual(['g1', 'g2']);
    const settled = await call(c, 'Settle', { topic: 'g', acks: jobs.map((x: any) => ({ id: x.id, workerId: 'w2', lease: x.lease, result: toValue({ done: true }) })) });
    expect(settled.acks.map((a: any) => a.ok)).toEqual([true, true]);
    const done = await call(c, 'Get', { topic: 'g', id: 'g1' });
    expect(done.state).toBe('completed');
    expect(fromValue(done.result)).toEqual({ done: true });
    const lost = await failure(call(c, 'Ack', { topic: 'g', id: 'g2', workerId: 'w2', lease: jobs[0].lease }));
    expect(lost.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(lost.metadata.get('bucketq-code')).toEqual(['LEASE_LOST']);
    expect((await call(c, 'ListTopics', {})).topics.map((t: any) => t.topic)).toContain('g');
  });

  it('errors: UNAUTHENTICATED, INVALID_ARGUMENT, NOT_FOUND', async () => {
    const c = client(broker.url);
    expect((await failure(call(c, 'Stats', { topic: 'g' }, null))).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await failure(call(c, 'Stats', { topic: 'g' }, 'wrong'))).code).toBe(grpc.status.UNAUTHENTICATED);
    const bad = await failure(call(c, 'Claim', { topic: 'g', workerId: '', max: 1 }));
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.details).toContain('workerId');
    expect((await failure(call(c, 'Push', { topic: 'bad topic!', jobs: [{ payload: toValue(1) }] }))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await failure(call(c, 'Get', { topic: 'g', id: 'missing' }))).code).toBe(grpc.status.NOT_FOUND);
  });

  it('ClaimStream delivers within its credit window, refilled by acks', async () => {
    const c = client(broker.url);
    const stream = reader(c.ClaimStream({ topic: 's', workerId: 'ws', maxInFlight: 2, leaseMs: 60000 }, md()));
    await call(c, 'Push', { topic: 's', jobs: [1, 2, 3, 4, 5].map((n) => ({ id: `s${n}`, payload: toValue(n) })) });
    const a = (await stream.next()).job;
    const b = (await stream.next()).job;
    expect([a.id, b.id]).toEqual(['s1', 's2']);
    expect(fromValue(a.payload)).toBe(1);
    // The window is full: the broker leased two, three wait.
    expect(await call(c, 'Stats', { topic: 's' })).toMatchObject({ claimed: 2, pending: 3 });

    await call(c, 'Ack', { topic: 's', id: a.id, workerId: 'ws', lease: a.lease });
    const third = (await stream.next()).job;
    expect(third.id).toBe('s3');
    expect(await call(c, 'Stats', { topic: 's' })).toMatchObject({ claimed: 2, pending: 2 });

    // A Settle of two returns two credits; an ack over the HTTP API returns one too.
    await call(c, 'Settle', { topic: 's', acks: [{ id: b.id, workerId: 'ws', lease: b.lease }], nacks: [{ id: third.id, workerId: 'ws', lease: third.lease, error: 'again', delayMs: 3600000 }] });
    const four = (await stream.next()).job;
    const five = (await stream.next()).job;
    expect([four.id, five.id]).toEqual(['s4', 's5']);
    const ack = await api(broker.url, TOKEN)('POST', `/v1/topics/s/jobs/${four.id}/ack`, { workerId: 'ws', lease: four.lease });
    expect(ack.status).toBe(200);
    await call(c, 'Push', { topic: 's', jobs: [{ id: 's6', payload: toValue(6) }] });
    expect((await stream.next()).job.id).toBe('s6');
  });

  it('a standby answers UNAVAILABLE naming the leader', async () => {
    standby = await startBrokerProcess(['--store', `file:${dir}`, '--listen', '127.0.0.1:0', '--id', 'grpc-standby'], { BUCKETQ_TOKEN: TOKEN });
    const err = await failure(call(client(standby.url), 'Push', { topic: 'g', jobs: [{ payload: toValue(1) }] }));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.metadata.get('bucketq-leader')).toEqual([broker.url]);
    expect(err.metadata.get('bucketq-code')).toEqual(['NOT_LEADER']);
    // connect-es percent-encodes grpc-message fully; grpc-js undoes it with decodeURI, which keeps %3A and %2F.
    expect(decodeURIComponent(err.details)).toContain(broker.url);
  });

  it('SIGTERM ends an open ClaimStream with OK and refuses later calls', async () => {
    const c = client(broker.url);
    const stream = reader(c.ClaimStream({ topic: 'drain', workerId: 'wd', maxInFlight: 1 }, md()));
    await call(c, 'Push', { topic: 'drain', jobs: [{ id: 'd1', payload: toValue(1) }] });
    expect((await stream.next()).job.id).toBe('d1'); // the stream is open and serving
    broker.child.kill('SIGTERM');
    const status = await stream.status;
    expect(status.code).toBe(grpc.status.OK);
    expect((await broker.exited).code).toBe(0);
    expect((await failure(call(c, 'Stats', { topic: 'drain' }))).code).toBe(grpc.status.UNAVAILABLE);
  });
});
