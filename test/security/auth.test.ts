/**
 * Every surface of one `bucketq broker` process (a token, TLS, the Redis port) refuses a missing
 * or wrong token, and accepts the right one: each route of the HTTP route table (the table itself
 * is walked, so a route added later is covered), unknown paths (401 before 404: nothing is said
 * about what exists), the event stream, the dashboard page `/`, the JSON API over HTTP/2, Connect
 * and gRPC-Web (HTTP/1.1), gRPC (@grpc/grpc-js, HTTP/2), and RESP (commands before AUTH, a wrong
 * AUTH, HELLO AUTH). No answer carries CORS headers, a preflight included. The read-only token
 * reads and changes nothing on each of them: 403 PERMISSION_DENIED, gRPC PERMISSION_DENIED, -NOPERM.
 */
import * as grpc from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import http2 from 'node:http2';
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../src/transports/http/index.js';
import type { BrokerProcess } from '../broker-process.js';
import type { TestCert } from './certs.js';
import { grpcQueueClient, tlsSetup, type TlsSetup } from './tls-broker.js';

const TOKEN = 'auth-test-token-7c1e';
const WRONG = 'auth-test-wrong-0000';
const READ = 'auth-test-read-only-5d';
let tls: TlsSetup;
let cert: TestCert;
let broker: BrokerProcess;
let respUrl: URL;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One HTTPS/1.1 request trusting the test's certificate. */
function request(method: string, pathname: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(broker.url + pathname, { method, headers, ca: cert.cert, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject).end(body);
  });
}

const bearer = (token: string | null): Record<string, string> => (token === null ? {} : { authorization: `Bearer ${token}` });

function expectNoCors(a: Answer): void {
  for (const name of Object.keys(a.headers)) expect(name).not.toMatch(/^access-control-/);
}

beforeAll(async () => {
  tls = await tlsSetup('bucketq-auth-');
  cert = tls.cert;
  ({ proc: broker, respUrl } = await tls.start('auth', { BUCKETQ_TOKEN: TOKEN, BUCKETQ_READ_TOKEN: READ }));
  const seeded = await request('POST', '/v1/topics/t/jobs', { ...bearer(TOKEN), 'content-type': 'application/json' }, JSON.stringify({ id: 'j', payload: 1 }));
  expect(seeded.status).toBe(201);
});

afterAll(async () => {
  await tls?.remove();
});

describe('HTTP API (HTTPS/1.1)', () => {
  const guarded = ROUTES.filter((r) => !r.public);
  it.each(guarded.map((r) => [`${r.method} /${r.path.join('/')}`, r] as const))('%s: 401 without a token and with a wrong one', async (_name, route) => {
    const p = '/' + route.path.map((s) => (s === ':topic' ? 't' : s === ':id' ? 'j' : s)).join('/');
    const body = route.body ? JSON.stringify({}) : undefined;
    const type: Record<string, string> = body !== undefined ? { 'content-type': 'application/json' } : {};
    for (const token of [null, WRONG, `${TOKEN}x`, TOKEN.slice(0, -1)]) {
      const a = await request(route.method, p, { ...type, ...bearer(token) }, body);
      expect(a.status, `${route.method} ${p} with ${token ?? 'no token'}`).toBe(401);
      expect(JSON.parse(a.text)).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
      expect(a.headers['www-authenticate']).toMatch(/^Bearer realm="bucketq"/);
      expect(a.text).not.toContain('"j"'); // no data, not even the job id
      expectNoCors(a);
    }
  });

  it('the right token is accepted; /healthz is public', async () => {
    expect((await request('GET', '/v1/topics/t/jobs/j', bearer(TOKEN))).status).toBe(200);
    expect((await request('GET', '/v1/topics/t', { authorization: `bearer   ${TOKEN}` })).status).toBe(200);
    expect((await request('GET', '/healthz')).status).toBe(200);
  });

  it('unknown paths, tokens in other places and other schemes get 401, not 404', async () => {
    for (const [p, headers] of [
      ['/no/such/route', {}],
      ['/v1/topics/t?token=' + TOKEN, {}],
      ['/v1/topics/t', { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` }],
      ['/v1/topics/t', { authorization: TOKEN }],
      ['/v1/topics/t', { cookie: `token=${TOKEN}` }],
    ] as const) {
      expect((await request('GET', p, headers)).status, p).toBe(401);
    }
  });

  it('paths under /bucketq.v1. that are no method: 401 before 404 too, each answer a Connect error body', async () => {
    const json = { 'content-type': 'application/json' };
    for (const p of ['/bucketq.v1.Queue/NoSuchMethod', '/bucketq.v1.Other/Push', '/bucketq.v1.']) {
      for (const token of [null, WRONG]) {
        const a = await request('POST', p, { ...json, ...bearer(token) }, '{}');
        expect(a.status, `${p} with ${token ?? 'no token'}`).toBe(401);
        expect(JSON.parse(a.text)).toMatchObject({ code: 'unauthenticated' });
      }
      const known = await request('POST', p, { ...json, ...bearer(TOKEN) }, '{}');
      expect(known.status, p).toBe(404);
      expect(JSON.parse(known.text)).toMatchObject({ code: 'unimplemented', message: expect.stringContaining('no method') });
    }
  });

  it('the event stream: 401 without the token, a stream with it', async () => {
    expect((await request('GET', '/v1/events', { accept: 'text/event-stream' })).status).toBe(401);
    expect((await request('GET', '/v1/events', { accept: 'text/event-stream', ...bearer(WRONG) })).status).toBe(401);
    const status = await new Promise<number>((resolve, reject) => {
      const req = https.request(`${broker.url}/v1/events`, { headers: bearer(TOKEN), ca: cert.cert, agent: false }, (res) => {
        resolve(res.statusCode!);
        req.destroy();
      });
      req.on('error', reject).end();
    });
    expect(status).toBe(200);
  });

  it('the dashboard page / shows no data without a session or token', async () => {
    // Without a valid token or session the page is the login form (401), and nothing else.
    for (const token of [null, WRONG]) {
      const a = await request('GET', '/', { accept: 'text/html', ...bearer(token) });
      expect(a.status).toBe(401);
      expect(a.text).toMatch(/<form method="post" action="\/dashboard\/login">/);
      expect(a.text).not.toMatch(/"pending"|"jobs"|<script/);
      expectNoCors(a);
    }
  });

  it('no CORS anywhere: a preflight and an Origin header get no Access-Control-Allow-* headers', async () => {
    const origin = { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' };
    for (const p of ['/v1/topics/t/jobs', '/healthz', '/bucketq.v1.Queue/Stats', '/']) {
      const pre = await request('OPTIONS', p, origin);
      expect(pre.status, `OPTIONS ${p}`).toBeGreaterThanOrEqual(400);
      expect(pre.status, `OPTIONS ${p}`).toBeLessThan(500);
      expectNoCors(pre);
    }
    for (const [m, p] of [['GET', '/v1/topics/t'], ['GET', '/healthz'], ['POST', '/bucketq.v1.Queue/Stats']] as const) {
      const a = await request(m, p, { origin: 'https://evil.example', ...bearer(TOKEN), ...(m === 'POST' ? { 'content-type': 'application/json' } : {}) }, m === 'POST' ? '{"topic":"t"}' : undefined);
      expect(a.status, `${m} ${p}`).toBe(200);
      expectNoCors(a);
    }
  });
});

describe('HTTP/2 over TLS (ALPN h2): JSON API and Connect', () => {
  it('refuses a missing or wrong token and accepts the right one', async () => {
    const session = http2.connect(broker.url, { ca: cert.cert });
    try {
      const get = (p: string, headers: Record<string, string>) =>
        new Promise<number>((resolve, reject) => {
          const s = session.request({ ':path': p, ...headers });
          s.on('response', (h) => resolve(Number(h[':status']))).on('error', reject);
          s.resume();
        });
      expect(await get('/v1/topics/t', {})).toBe(401);
      expect(await get('/v1/topics/t', bearer(WRONG))).toBe(401);
      expect(await get('/v1/events', {})).toBe(401);
      expect(await get('/v1/topics/t', bearer(TOKEN))).toBe(200);
    } finally {
      session.close();
    }
  });

  it('Connect and gRPC-Web on HTTP/1.1: unauthenticated without the token', async () => {
    const json = { 'content-type': 'application/json' };
    const none = await request('POST', '/bucketq.v1.Queue/Stats', json, '{"topic":"t"}');
    expect(none.status).toBe(401);
    expect(JSON.parse(none.text)).toMatchObject({ code: 'unauthenticated' });
    expect((await request('POST', '/bucketq.v1.Queue/Stats', { ...json, ...bearer(WRONG) }, '{"topic":"t"}')).status).toBe(401);
    expect((await request('POST', '/bucketq.v1.Queue/Stats', { ...json, ...bearer(TOKEN) }, '{"topic":"t"}')).status).toBe(200);
    // gRPC-Web: the status travels in headers (or trailers) as grpc-status 16 UNAUTHENTICATED.
    const frame = Buffer.alloc(5); // an empty message: flag 0, length 0
    const web = await new Promise<Answer>((resolve, reject) => {
      const req = https.request(`${broker.url}/bucketq.v1.Queue/Stats`, { method: 'POST', headers: { 'content-type': 'application/grpc-web+proto' }, ca: cert.cert, agent: false }, (res) => {
        let text = '';
        res.setEncoding('latin1').on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      });
      req.on('error', reject).end(frame);
    });
    expect(`${String(web.headers['grpc-status'])} ${web.text}`).toMatch(/^16 |grpc-status: ?16/);
  });
});

describe('gRPC (@grpc/grpc-js over TLS)', () => {
  it('UNAUTHENTICATED without metadata and with a wrong token; OK with the right one', async () => {
    const c = grpcQueueClient(broker.url, cert.cert);
    try {
      const call = (method: string, req: object, token: string | null) =>
        new Promise<{ code: number; res?: any }>((resolve) => {
          const md = new grpc.Metadata();
          if (token !== null) md.set('authorization', `Bearer ${token}`);
          c[method](req, md, (err: grpc.ServiceError | null, res: unknown) => resolve(err ? { code: err.code } : { code: 0, res }));
        });
      for (const [method, req] of [['Stats', { topic: 't' }], ['Push', { topic: 't', jobs: [{ payload: { numberValue: 1 } }] }], ['ListTopics', {}], ['Get', { topic: 't', id: 'j' }]] as const) {
        expect((await call(method, req, null)).code, method).toBe(grpc.status.UNAUTHENTICATED);
        expect((await call(method, req, WRONG)).code, method).toBe(grpc.status.UNAUTHENTICATED);
      }
      expect(await call('Stats', { topic: 't' }, TOKEN)).toMatchObject({ code: 0, res: { pending: 1 } });
      const stream = c.ClaimStream({ topic: 't', workerId: 'w', credit: 1 }, new grpc.Metadata());
      stream.on('data', () => {});
      const status = await new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve).on('error', () => {}));
      expect(status.code).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      c.close();
    }
  });
});

describe('RESP over TLS', () => {
  async function connect(options: { password?: string } = {}): Promise<Redis> {
    const r = new Redis({ host: respUrl.hostname, port: Number(respUrl.port), tls: { ca: cert.cert }, lazyConnect: true, maxRetriesPerRequest: 0, enableReadyCheck: false, retryStrategy: () => null, ...options });
    r.on('error', () => {});
    await r.connect();
    return r;
  }

  it('refuses every command before AUTH, a wrong AUTH and a wrong HELLO AUTH; accepts the token', async () => {
    const r = await connect();
    try {
      for (const cmd of [['LPUSH', 't', 'x'], ['RPOP', 't'], ['XADD', 't', '*', 'f', 'v'], ['LLEN', 't'], ['INFO'], ['XINFO', 'STREAM', 't'], ['KEYS', '*'], ['NOSUCH']]) {
        const err = (await r.call(cmd[0]!, ...cmd.slice(1)).catch((e: Error) => e)) as Error;
        expect(err.message, cmd.join(' ')).toMatch(/^NOAUTH/);
      }
      expect(((await r.call('AUTH', WRONG).catch((e: Error) => e)) as Error).message).toMatch(/^WRONGPASS/);
      expect(((await r.call('AUTH', 'default', WRONG).catch((e: Error) => e)) as Error).message).toMatch(/^WRONGPASS/);
      expect(((await r.call('HELLO', '3', 'AUTH', 'default', WRONG).catch((e: Error) => e)) as Error).message).toMatch(/^WRONGPASS/);
      expect(((await r.call('LLEN', 't').catch((e: Error) => e)) as Error).message).toMatch(/^NOAUTH/); // still not authenticated
      expect(await r.call('AUTH', TOKEN)).toBe('OK');
      expect(await r.call('LLEN', 't')).toBe(1);
    } finally {
      r.disconnect();
    }
  });
});

describe('the read-only token', () => {
  it('HTTP: reads, but every change is 403 PERMISSION_DENIED', async () => {
    expect((await request('GET', '/v1/topics/t/jobs/j', bearer(READ))).status).toBe(200);
    const push = await request('POST', '/v1/topics/t/jobs', { ...bearer(READ), 'content-type': 'application/json' }, '{"payload":1}');
    expect(push.status).toBe(403);
    expect(JSON.parse(push.text)).toMatchObject({ error: { code: 'PERMISSION_DENIED' } });
  });

  it('gRPC: Get, Stats and ListTopics; Push, Claim, Cancel and ClaimStream are PERMISSION_DENIED', async () => {
    const c = grpcQueueClient(broker.url, cert.cert);
    const md = () => {
      const m = new grpc.Metadata();
      m.set('authorization', `Bearer ${READ}`);
      return m;
    };
    try {
      const call = (method: string, req: object) =>
        new Promise<{ code: number; res?: any; details?: string }>((resolve) => c[method](req, md(), (err: grpc.ServiceError | null, res: unknown) => resolve(err ? { code: err.code, details: err.details } : { code: 0, res })));
      expect(await call('Stats', { topic: 't' })).toMatchObject({ code: 0, res: { pending: 1 } });
      expect(await call('Get', { topic: 't', id: 'j' })).toMatchObject({ code: 0, res: { id: 'j' } });
      expect((await call('ListTopics', {})).code).toBe(0);
      for (const [method, req] of [['Push', { topic: 't', jobs: [{ payload: { numberValue: 1 } }] }], ['Claim', { topic: 't', workerId: 'w' }], ['Cancel', { topic: 't', id: 'j' }], ['Retry', { topic: 't', id: 'j' }], ['Release', { topic: 't', jobs: [{ id: 'j', workerId: 'w', lease: 'l' }] }]] as const) {
        const r = await call(method, req);
        expect(r.code, method).toBe(grpc.status.PERMISSION_DENIED);
        expect(r.details).toMatch(/read-only token/);
      }
      const stream = c.ClaimStream({ topic: 't', workerId: 'w', credit: 1 }, md());
      stream.on('data', () => {});
      const status = await new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve).on('error', () => {}));
      expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
      const after = await call('Stats', { topic: 't' });
      expect([after.res.pending, after.res.claimed ?? 0]).toEqual([1, 0]); // nothing was claimed
    } finally {
      c.close();
    }
  });

  it('RESP: read commands after AUTH with it; writes get -NOPERM and change nothing; AUTH with the token lifts it', async () => {
    const r = new Redis({ host: respUrl.hostname, port: Number(respUrl.port), tls: { ca: cert.cert }, lazyConnect: true, maxRetriesPerRequest: 0, enableReadyCheck: false, retryStrategy: () => null });
    r.on('error', () => {});
    await r.connect();
    try {
      expect(await r.call('AUTH', READ)).toBe('OK');
      expect(await r.call('LLEN', 't')).toBe(1);
      expect(await r.call('XLEN', 't')).toBe(1);
      expect(await r.call('PING')).toBe('PONG');
      expect(String(await r.call('INFO', 'server'))).toMatch(/redis_version/);
      for (const cmd of [['LPUSH', 't', 'x'], ['RPOP', 't'], ['BRPOP', 't', '0.01'], ['XADD', 't', '*', 'f', 'v'], ['XGROUP', 'CREATE', 't', 'g', '0'], ['XREADGROUP', 'GROUP', 'g', 'c', 'STREAMS', 't', '>'], ['XACK', 't', 'g', '1-1'], ['XDEL', 't', '1-1'], ['BQ.RETRY', 't', 'j']]) {
        const err = (await r.call(cmd[0]!, ...cmd.slice(1)).catch((e: Error) => e)) as Error;
        expect(err.message, cmd.join(' ')).toMatch(/^NOPERM .*read-only token/);
      }
      expect(await r.call('LLEN', 't')).toBe(1);
      expect(((await r.call('AUTH', WRONG).catch((e: Error) => e)) as Error).message).toMatch(/^WRONGPASS/);
      expect(await r.call('AUTH', TOKEN)).toBe('OK');
      expect(await r.call('LPUSH', 't', 'from-admin')).toBe(2);
    } finally {
      r.disconnect();
    }
  });
});
