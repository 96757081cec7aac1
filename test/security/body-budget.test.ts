/**
 * The broker's budget of request-body bytes in flight (issue 13: 40 concurrent 9 MiB pushes took a
 * broker to 1.4 GB), shared by the HTTP API, gRPC/Connect and the Redis port. While one large push
 * holds most of it, another large request is refused before its body is read — HTTP and Connect
 * 503 with Retry-After and a typed error, declared length or chunked; the Redis port -UNAVAILABLE
 * and the connection closed — while small requests go on; once the first is answered its bytes are
 * given back and the refused request goes through on retry. Nothing accepted is lost. Strangers
 * hold nothing: the token is checked before a body is read, and a Redis connection before AUTH may
 * send only a few KiB. (bench/body-burst.ts measures the broker's memory under the issue's burst.)
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createMemoryStore } from '../../src/index.js';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { api } from '../http-helpers.js';

const TOKEN = 'budget-token';
const KiB = 1024;
let server: BrokerServer;
let port: number;
let respPort: number;
let call: ReturnType<typeof api>;
const bugs: unknown[] = [];
const open: Socket[] = [];

beforeAll(async () => {
  server = await startBrokerServer({
    store: createMemoryStore(),
    listen: '127.0.0.1:0',
    respListen: '127.0.0.1:0',
    token: TOKEN,
    maxBodyBytes: 32 * KiB,
    maxBodyBytesInFlight: 40 * KiB,
    onError: (err) => bugs.push(err),
  });
  port = Number(new URL(server.url).port);
  respPort = Number(new URL(server.respUrl!).port);
  call = api(server.url, TOKEN);
});
afterAll(async () => {
  for (const s of open) s.destroy();
  await server?.close();
});

/** A raw connection that collects what comes back. */
function rawSocket(p: number) {
  const socket = connect({ host: '127.0.0.1', port: p });
  socket.on('error', () => {});
  open.push(socket);
  let text = '';
  let closed = false;
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.on('close', () => (closed = true));
  return {
    socket,
    text: () => text,
    closed: () => closed,
    /** Waits until what came back matches. */
    async until(re: RegExp): Promise<string> {
      await vi.waitFor(() => expect(text).toMatch(re), { timeout: 10_000 });
      return text;
    },
  };
}

const pushBody = (id: string, bytes: number) => JSON.stringify({ id, payload: 'x'.repeat(bytes) });
const head = (path: string, length: number | 'chunked', type = 'application/json') =>
  `POST ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-type: ${type}\r\n${length === 'chunked' ? 'transfer-encoding: chunked' : `content-length: ${length}`}\r\n\r\n`;

/** The JSON body of a complete HTTP answer in `text`. */
const bodyOf = (text: string) => JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Record<string, any>;

describe('bytes in flight', () => {
  it('while a large push holds the budget, large requests are refused before their bodies are read; small ones go on; then they go through', async () => {
    // A: 30 KiB declared, half of it sent: held from the first byte until its commit is answered.
    const a = rawSocket(port);
    const aBody = pushBody('a', 30 * KiB);
    a.socket.write(head('/v1/topics/budget/jobs', aBody.length) + aBody.slice(0, 1000));
    await vi.waitFor(() => expect(server.inFlight).toBe(1), { timeout: 10_000 });

    // B over HTTP, declared: only its headers are sent, and the answer comes anyway.
    const bBody = pushBody('b', 30 * KiB);
    const b = rawSocket(port);
    b.socket.write(head('/v1/topics/budget/jobs', bBody.length));
    const bText = await b.until(/\r\n\r\n\{.*\}$/s);
    expect(bText).toMatch(/^HTTP\/1\.1 503 /);
    expect(bText).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(bodyOf(bText)).toMatchObject({ error: { code: 'UNAVAILABLE', reason: 'overloaded', message: expect.stringContaining('--max-body-bytes-in-flight') } });

    // B over HTTP, chunked: counted as it comes, refused once past the budget.
    const c = rawSocket(port);
    c.socket.write(head('/v1/topics/budget/jobs', 'chunked'));
    const chunk = 'y'.repeat(12 * KiB);
    c.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    expect(await c.until(/\r\n\r\n\{.*\}$/s)).toMatch(/^HTTP\/1\.1 503 /);

    // Over Connect: the same, in Connect's error form.
    const d = rawSocket(port);
    const dBody = JSON.stringify({ topic: 'budget', jobs: [{ id: 'd', payload: 'z'.repeat(30 * KiB) }] });
    d.socket.write(head('/bucketq.v1.Queue/Push', dBody.length));
    const dText = await d.until(/\r\n\r\n\{.*\}$/s);
    expect(dText).toMatch(/^HTTP\/1\.1 503 /);
    expect(dText).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(bodyOf(dText)).toMatchObject({ code: 'unavailable', message: expect.stringContaining('--max-body-bytes-in-flight') });

    // Over the Redis port: the announced bulk is refused before it is read; the connection ends.
    const r = rawSocket(respPort);
    r.socket.write(`*2\r\n$4\r\nAUTH\r\n$${TOKEN.length}\r\n${TOKEN}\r\n*3\r\n$5\r\nLPUSH\r\n$6\r\nbudget\r\n$${30 * KiB}\r\n`);
    expect(await r.until(/-UNAVAILABLE .*\r\n$/)).toBe(`+OK\r\n${r.text().slice(5)}`);
    await vi.waitFor(() => expect(r.closed()).toBe(true), { timeout: 10_000 });

    // Small requests are not held up.
    expect((await call('POST', '/v1/topics/budget/jobs', { id: 'small', payload: 1 })).status).toBe(201);
    expect((await call('GET', '/v1/topics/budget')).status).toBe(200);

    // A completes and is answered; its bytes are given back, and B's retry fits.
    a.socket.write(aBody.slice(1000));
    expect(await a.until(/\r\n\r\n\{.*\}$/s)).toMatch(/^HTTP\/1\.1 201 /);
    await vi.waitFor(() => expect(server.inFlight).toBe(0), { timeout: 10_000 });
    expect((await call('POST', '/v1/topics/budget/jobs', bBody)).status).toBe(201);
    expect((await call('POST', '/v1/topics/budget/jobs', pushBody('b2', 30 * KiB))).status).toBe(201);

    const jobs = (await call('GET', '/v1/topics/budget/jobs?state=pending')).body.jobs.map((j: { id: string }) => j.id);
    expect(jobs.sort()).toEqual(['a', 'b', 'b2', 'small']); // everything answered 201 is there; nothing refused is
    expect(bugs).toEqual([]);
  });

  it('the Redis port gives a command\'s bytes back with its reply: large commands, each after the last one\'s reply, all fit', async () => {
    const r = rawSocket(respPort);
    const value = 'v'.repeat(30 * KiB);
    const lpush = `*3\r\n$5\r\nLPUSH\r\n$7\r\nbudget2\r\n$${value.length}\r\n${value}\r\n`;
    r.socket.write(`*2\r\n$4\r\nAUTH\r\n$${TOKEN.length}\r\n${TOKEN}\r\n`);
    for (let n = 1; n <= 3; n++) {
      r.socket.write(lpush);
      await r.until(new RegExp(`:${n}\r\n$`));
    }
    expect(r.text()).toBe('+OK\r\n:1\r\n:2\r\n:3\r\n');
  });

  it('strangers hold nothing: no body is read before the token is checked, and a Redis connection before AUTH may send a few KiB', async () => {
    const h = rawSocket(port);
    h.socket.write(head('/v1/topics/budget/jobs', 30 * KiB).replace(`authorization: Bearer ${TOKEN}\r\n`, ''));
    expect(await h.until(/\r\n\r\n\{.*\}$/s)).toMatch(/^HTTP\/1\.1 401 /);
    const c = rawSocket(port);
    c.socket.write(head('/bucketq.v1.Queue/Push', 30 * KiB).replace(`authorization: Bearer ${TOKEN}\r\n`, ''));
    expect(await c.until(/\r\n\r\n\{.*\}$/s)).toMatch(/^HTTP\/1\.1 401 /);
    const r = rawSocket(respPort);
    r.socket.write(`*3\r\n$5\r\nLPUSH\r\n$6\r\nbudget\r\n$${100 * KiB}\r\n`);
    expect(await r.until(/\r\n$/)).toBe('-NOAUTH Authentication required.\r\n');
    await vi.waitFor(() => expect(r.closed()).toBe(true), { timeout: 10_000 });
  });

  it('the budget must hold one body of the largest size', async () => {
    await expect(startBrokerServer({ store: createMemoryStore(), listen: '127.0.0.1:0', maxBodyBytes: 2048, maxBodyBytesInFlight: 1024 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('maxBodyBytesInFlight'),
    });
  });
});
