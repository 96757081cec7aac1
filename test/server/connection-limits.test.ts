/**
 * The HTTP port's connection limits on every path into it (docs/security.md, "Connections"):
 * a complete request head within `headersTimeoutMs` for a socket that sends nothing, a slowloris
 * sending a header line now and then, an HTTP/2 preface sent a byte at a time, an HTTP/2 session
 * that never sends a request, a TLS handshake that never starts, the same over TLS (HTTP/1.1 and
 * HTTP/2 by ALPN); a long poll outlives the bound; and connections per client address, cleartext
 * and TLS. Each cut is counted in bucketq_connections_rejected_total.
 *
 * Before the bound, each of these held its connection for 60 s to 120 s (node's defaults, checked
 * every 30 s), or for as long as it kept sending.
 */
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/index.js';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { makeCert, type TestCert } from '../security/certs.js';
import { ATTACKER, Attack, attackerAvailable, closedBy, timedRequest } from '../security/flood.js';

const HEADERS_TIMEOUT_MS = 300;
/** Well past the bound (with node's check interval), far below node's defaults (60 s and more). */
const CUT_WITHIN_MS = 5000;

let cert: TestCert;
let plain: BrokerServer;
let secure: BrokerServer;
const sockets: Socket[] = [];
const sessions: ClientHttp2Session[] = [];
const attackerAddress = await attackerAvailable();

beforeAll(async () => {
  cert = await makeCert();
  const options = { store: createMemoryStore(), listen: '127.0.0.1:0', headersTimeoutMs: HEADERS_TIMEOUT_MS, maxConnectionsPerAddress: 3 };
  plain = await startBrokerServer(options);
  secure = await startBrokerServer({ ...options, store: createMemoryStore(), tlsCert: cert.cert, tlsKey: cert.key });
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const s of sessions) s.destroy();
  await plain?.close();
  await secure?.close();
});

const portOf = (s: BrokerServer) => Number(new URL(s.url).port);

/** Resolves with what the server sent once it closed `s`; fails past CUT_WITHIN_MS. */
function cutWithin(s: Socket, what: string): Promise<string> {
  let got = '';
  s.on('data', (d: Buffer) => (got += d.toString('latin1')));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: still open after ${CUT_WITHIN_MS} ms`)), CUT_WITHIN_MS);
    void closedBy(s).then(() => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

function tcp(port: number): Socket {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  sockets.push(s);
  return s;
}

function tls(port: number, alpn: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: cert.cert, ALPNProtocols: [alpn] }, () => resolve(s));
    s.on('error', reject);
    sockets.push(s);
  });
}

/** Resolves when the server closed the session; fails past CUT_WITHIN_MS. */
function sessionCutWithin(session: ClientHttp2Session): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`an HTTP/2 session without a request: still open after ${CUT_WITHIN_MS} ms`)), CUT_WITHIN_MS);
    session.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Writes `text` a piece at a time, every 50 ms, until the socket closes. */
function drip(s: Socket, pieces: string[]): void {
  let i = 0;
  const t = setInterval(() => (s.destroyed || i >= pieces.length ? clearInterval(t) : s.write(pieces[i++]!)), 50);
}

const slowHeaders = ['GET /healthz HTTP/1.1\r\n', ...Array.from({ length: 200 }, (_, i) => `x-${i}: y\r\n`)];

async function rejected(server: BrokerServer, reason: string): Promise<number> {
  const text = await server.metrics.getSingleMetricAsString('bucketq_connections_rejected_total');
  return Number(new RegExp(`listener="http",reason="${reason}"} (\\d+)`).exec(text)?.[1] ?? 0);
}

describe('the time to send a request head (headersTimeoutMs), cleartext port', () => {
  it('cuts a socket that sends nothing', async () => {
    await cutWithin(tcp(portOf(plain)), 'a silent socket');
  });

  it('cuts a slowloris (a header line every 50 ms) with 408 and a JSON body', async () => {
    const s = tcp(portOf(plain));
    drip(s, slowHeaders);
    const got = await cutWithin(s, 'a slowloris');
    expect(got).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(got).toContain('"code":"INVALID_ARGUMENT"');
  });

  it('cuts an HTTP/2 preface sent a byte at a time', async () => {
    const s = tcp(portOf(plain));
    drip(s, [...'PRI * HTTP/2.0\r\n\r\nSM\r\n\r']); // all but its last byte, one every 50 ms
    await cutWithin(s, 'a dripped preface');
  });

  it('cuts an HTTP/2 session that sends no request', async () => {
    const session = h2connect(plain.url);
    session.on('error', () => {});
    sessions.push(session);
    await sessionCutWithin(session);
    expect(await rejected(plain, 'headers-timeout')).toBeGreaterThanOrEqual(4);
  });

  it('does not cut a long poll that outlives it', async () => {
    const answer = await timedRequest(portOf(plain), 'POST', '/v1/topics/lp/claim', { body: { workerId: 'w', waitMs: 3 * HEADERS_TIMEOUT_MS }, deadlineMs: 10_000 });
    expect(answer).toMatchObject({ status: 200, body: '{"jobs":[]}' });
  });
});

describe('the time to send a request head (headersTimeoutMs), TLS port', () => {
  it('cuts a socket that never starts its handshake', async () => {
    await cutWithin(tcp(portOf(secure)), 'a silent socket');
  });

  it('cuts a slowloris over TLS (HTTP/1.1)', async () => {
    const s = await tls(portOf(secure), 'http/1.1');
    drip(s, slowHeaders);
    expect(await cutWithin(s, 'a slowloris over TLS')).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
  });

  it('cuts an HTTP/2 session that sends no request', async () => {
    const session = h2connect(secure.url, { ca: cert.cert });
    session.on('error', () => {});
    sessions.push(session);
    await sessionCutWithin(session);
    expect(await rejected(secure, 'headers-timeout')).toBeGreaterThanOrEqual(3);
  });

  it('does not cut a long poll that outlives it (HTTP/1.1)', async () => {
    const body = JSON.stringify({ workerId: 'w', waitMs: 3 * HEADERS_TIMEOUT_MS });
    const answer = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: portOf(secure), method: 'POST', path: '/v1/topics/lp/claim', ca: cert.cert, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve(`${res.statusCode} ${text}`));
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(answer).toBe('200 {"jobs":[]}');
  });
});

describe.runIf(attackerAddress)('connections per client address (maxConnectionsPerAddress)', () => {
  for (const kind of ['cleartext', 'TLS'] as const) {
    it(`${kind}: past the limit an address's new connections are closed at once; other addresses are served`, async () => {
      const server = kind === 'TLS' ? secure : plain;
      const port = portOf(server);
      const attack = new Attack();
      try {
        await attack.connect(port, 5, ATTACKER);
        // Three are held (until their head is due), two were closed unanswered.
        await expect.poll(() => attack.sockets.filter((s) => s.destroyed).length, { timeout: CUT_WITHIN_MS }).toBeGreaterThanOrEqual(2);
        expect(await rejected(server, 'address-limit')).toBeGreaterThanOrEqual(2);
        if (kind === 'cleartext') expect((await timedRequest(port, 'GET', '/healthz', { deadlineMs: 5000 })).status).toBe(200);
        else {
          const status = await new Promise<number>((resolve, reject) => {
            const req = httpsRequest({ host: '127.0.0.1', port, path: '/healthz', ca: cert.cert, agent: false }, (res) => resolve(res.statusCode!));
            req.on('error', reject);
            req.end();
          });
          expect(status).toBe(200);
        }
      } finally {
        attack.stop();
      }
    });
  }
});
