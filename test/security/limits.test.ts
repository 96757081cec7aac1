/**
 * Limits of an in-process broker server, each answered as the client's mistake with a JSON body
 * (or a RESP error) and nothing lost: request body (413, declared or chunked), jobs per push and
 * payload size (413 PAYLOAD_TOO_LARGE), header size (431), connections on the HTTP port
 * (`maxConnections`: further ones are closed unanswered while the open ones keep working) and on
 * the Redis port (`-ERR max number of clients reached`).
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/index.js';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { exchange } from '../fuzz/raw.js';

let server: BrokerServer;
let port: number;
let respPort: number;

beforeAll(async () => {
  server = await startBrokerServer({
    store: createMemoryStore(),
    listen: '127.0.0.1:0',
    respListen: '127.0.0.1:0',
    maxBodyBytes: 1024,
    limits: { maxBatch: 3, maxPayloadBytes: 100 },
    resp: { maxConnections: 2, maxConnectionsPerAddress: 2 }, // all from 127.0.0.1: the per-address share lifted to the whole limit
  });
  port = Number(new URL(server.url).port);
  respPort = Number(new URL(server.respUrl!).port);
});

afterAll(async () => {
  await server?.close();
});

function post(body: string, chunked = false): Buffer {
  const head = `POST /v1/topics/lim/jobs HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nconnection: close\r\n`;
  if (!chunked) return Buffer.from(`${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  const half = Math.floor(body.length / 2);
  const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
  return Buffer.from(`${head}transfer-encoding: chunked\r\n\r\n${chunk(body.slice(0, half))}${chunk(body.slice(half))}0\r\n\r\n`);
}

function answer(out: Buffer): { status: number; body: any } {
  const text = out.toString();
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  return { status, body: JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) };
}

describe('HTTP limits', () => {
  it('a body over maxBodyBytes is 413 PAYLOAD_TOO_LARGE, declared or chunked', async () => {
    const big = JSON.stringify({ payload: 'x'.repeat(2000) });
    for (const chunked of [false, true]) {
      const a = answer(await exchange(port, post(big, chunked)));
      expect(a.status).toBe(413);
      expect(a.body).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('limit is 1024') } });
    }
  });

  it('too many jobs in one push, or too large a payload: 413 PAYLOAD_TOO_LARGE, nothing pushed', async () => {
    const batch = answer(await exchange(port, post(JSON.stringify({ jobs: [1, 2, 3, 4].map((n) => ({ payload: n })) }))));
    expect(batch).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE', message: 'a push holds at most 3 jobs, got 4' } } });
    const payload = answer(await exchange(port, post(JSON.stringify({ payload: 'y'.repeat(200) }))));
    expect(payload).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('the limit is 100') } } });
    const stats = await fetch(`${server.url}/v1/topics/lim`);
    expect(stats.status).toBe(404); // no push took effect: the topic was not even created
  });

  it('headers too large: 431 with a JSON body', async () => {
    const a = answer(await exchange(port, Buffer.from(`GET /v1/topics HTTP/1.1\r\nhost: x\r\nx-big: ${'z'.repeat(20_000)}\r\n\r\n`)));
    expect(a).toMatchObject({ status: 431, body: { error: { code: 'INVALID_ARGUMENT' } } });
  });

  it('past maxConnections, new connections are closed unanswered; the open ones keep working', async () => {
    // A server of its own: no connection of another test (a closing one, a client's keep-alive) counts.
    // Every connection comes from 127.0.0.1: the per-address share (half, by default) is lifted to the whole limit.
    const own = await startBrokerServer({ store: createMemoryStore(), listen: '127.0.0.1:0', maxConnections: 3, maxConnectionsPerAddress: 3 });
    const port = Number(new URL(own.url).port);
    const open: Socket[] = [];
    const ask = (s: Socket) =>
      new Promise<string>((resolve) => {
        s.once('data', (d: Buffer) => resolve(d.toString()));
        s.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
      });
    try {
      for (let i = 0; i < 3; i++) {
        const s = connect({ host: '127.0.0.1', port });
        s.on('error', () => {});
        open.push(s);
        expect(await ask(s)).toMatch(/^HTTP\/1\.1 200/); // answered: counted by the server
      }
      const refused = await exchange(port, Buffer.from('GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'));
      expect(refused.length).toBe(0);
      expect(await own.metrics.getSingleMetricAsString('bucketq_connections_rejected_total')).toContain('bucketq_connections_rejected_total{listener="http",reason="max-connections"} 1');
      for (const s of open) expect(await ask(s)).toMatch(/^HTTP\/1\.1 200/);
    } finally {
      for (const s of open) s.destroy();
      await own.close();
    }
  });

  it('maxConnections must be a positive integer', async () => {
    await expect(startBrokerServer({ store: createMemoryStore(), listen: '127.0.0.1:0', maxConnections: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('maxConnections') });
  });
});

describe('RESP limits', () => {
  it('past the connection limit a client gets -ERR max number of clients reached; the others go on', async () => {
    const open: Socket[] = [];
    const ask = (s: Socket) =>
      new Promise<string>((resolve) => {
        s.once('data', (d: Buffer) => resolve(d.toString()));
        s.write('PING\r\n');
      });
    try {
      for (let i = 0; i < 2; i++) {
        const s = connect({ host: '127.0.0.1', port: respPort });
        s.on('error', () => {});
        open.push(s);
        expect(await ask(s)).toBe('+PONG\r\n');
      }
      expect((await exchange(respPort, Buffer.from('PING\r\n'))).toString()).toBe('-ERR max number of clients reached\r\n');
      expect(await server.metrics.getSingleMetricAsString('bucketq_connections_rejected_total')).toContain('bucketq_connections_rejected_total{listener="resp",reason="max-connections"} 1');
      for (const s of open) expect(await ask(s)).toBe('+PONG\r\n');
    } finally {
      for (const s of open) s.destroy();
    }
  });
});
