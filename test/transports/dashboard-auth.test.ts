/**
 * The dashboard as a browser meets it: the page and assets (headers, caching, CSP, no CORS), the
 * login page and session cookie, CSRF on cookie-authenticated changes, the read-only token, and
 * the 503 of a broker whose dashboard is not built. Against a real server with a fake build dir.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { DEFAULT_DASHBOARD_DIR } from '../../src/transports/http/dashboard-server/static-files.js';
import { api } from '../http-helpers.js';
import { makeCert } from '../security/certs.js';

type ErrorBody = { error: { code: string; message: string } };

const TOKEN = 'admin-token-123';
const READ = 'read-token-456';
let dir: string;
let server: BrokerServer | undefined;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bucketq-dash-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>bucketq</title><script type="module" src="/dashboard/assets/main-ABC123.js"></script>');
  writeFileSync(join(dir, 'assets', 'main-ABC123.js'), 'console.log("dashboard")');
  writeFileSync(join(dir, 'assets', 'main-DEF456.css'), 'body{}');
  writeFileSync(join(dir, 'secret.txt'), 'not an asset');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(tokens: { token?: string; readToken?: string } = {}, dashboardDir = dir): Promise<BrokerServer> {
  server = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0', dashboardDir, ...tokens });
  return server;
}

async function login(base: string, token: string): Promise<string> {
  const res = await fetch(`${base}/dashboard/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  expect(res.status).toBe(200);
  const cookie = res.headers.get('set-cookie')!;
  expect(cookie).toMatch(/^bucketq_session=[A-Za-z0-9_-]{40,};/);
  expect(cookie).toContain('HttpOnly');
  expect(cookie).toContain('SameSite=Strict');
  expect(cookie).toContain('Path=/');
  expect(cookie).not.toMatch(/Max-Age|Expires|Secure/i); // a session cookie; Secure only over TLS
  return cookie.split(';', 1)[0]!;
}

describe('static dashboard', () => {
  it('serves index.html (no-cache) and hashed assets (immutable) with a strict CSP, nosniff and no CORS', async () => {
    const s = await start();
    const index = await fetch(`${s.url}/`, { headers: { origin: 'https://evil.example' } });
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(index.headers.get('x-content-type-options')).toBe('nosniff');
    expect(index.headers.get('access-control-allow-origin')).toBeNull();
    expect(await index.text()).toContain('main-ABC123.js');
    const js = await fetch(`${s.url}/dashboard/assets/main-ABC123.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await fetch(`${s.url}/dashboard/assets/main-DEF456.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    for (const p of ['/dashboard/assets/nope.js', '/dashboard/assets/..%2fsecret.txt', '/dashboard/assets/%2e%2e%2fsecret.txt', '/dashboard/secret.txt']) {
      const r = await fetch(`${s.url}${p}`);
      expect(r.status, p).toBe(404);
      expect(((await r.json()) as ErrorBody).error.code).toBe('NOT_FOUND');
    }
    expect((await fetch(`${s.url}/`, { method: 'POST' })).status).toBe(405);
  });

  it('answers GET / with 503 and how to build when the dashboard is not built', async () => {
    const s = await start({}, join(dir, 'missing'));
    const r = await fetch(`${s.url}/`);
    expect(r.status).toBe(503);
    const body = (await r.json()) as ErrorBody;
    expect(body.error.message).toContain('npm run build:dashboard');
  });

  it('finds the build relative to its own module', () => {
    expect(DEFAULT_DASHBOARD_DIR.replace(/\\/g, '/')).toMatch(/\/dist\/dashboard\/$/);
  });
});

describe('login and sessions', () => {
  it('answers GET / without a session with 401 and a login page that holds no data', async () => {
    const s = await start({ token: TOKEN });
    const r = await fetch(`${s.url}/`);
    expect(r.status).toBe(401);
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(r.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await r.text();
    expect(html).toContain('action="/dashboard/login"');
    expect(html).not.toContain('main-ABC123.js');
    expect((await fetch(`${s.url}/dashboard/assets/main-ABC123.js`)).status).toBe(401);
  });

  it('a form login sets the cookie and redirects; the cookie opens the page, assets and API; logout ends it', async () => {
    const s = await start({ token: TOKEN });
    const bad = await fetch(`${s.url}/dashboard/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=wrong', redirect: 'manual' });
    expect(bad.status).toBe(401);
    expect(await bad.text()).toContain('not valid');
    const ok = await fetch(`${s.url}/dashboard/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${TOKEN}`, redirect: 'manual' });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/');
    const cookie = ok.headers.get('set-cookie')!.split(';', 1)[0]!;
    expect((await fetch(`${s.url}/`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${s.url}/dashboard/assets/main-ABC123.js`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${s.url}/v1/topics`, { headers: { cookie } })).status).toBe(200);
    expect(await (await fetch(`${s.url}/dashboard/session`, { headers: { cookie } })).json()).toEqual({ auth: true, role: 'admin' });
    const out = await fetch(`${s.url}/dashboard/logout`, { method: 'POST', headers: { cookie } });
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    expect((await fetch(`${s.url}/v1/topics`, { headers: { cookie } })).status).toBe(401);
    expect((await fetch(`${s.url}/`, { headers: { cookie } })).status).toBe(401);
  });

  it('refuses a login posted by another site (login CSRF: the browser would hold the other site\'s session)', async () => {
    const s = await start({ token: TOKEN });
    const form = (site: string) =>
      fetch(`${s.url}/dashboard/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': site }, body: `token=${TOKEN}`, redirect: 'manual' });
    for (const site of ['cross-site', 'same-site']) {
      const refused = await form(site);
      expect(refused.status).toBe(403);
      expect(refused.headers.get('set-cookie')).toBeNull();
      expect(((await refused.json()) as ErrorBody).error.code).toBe('PERMISSION_DENIED');
    }
    expect((await form('same-origin')).status).toBe(303);
  });

  it('a cookie-authenticated change needs x-bucketq-csrf: 1; a bearer one does not', async () => {
    const s = await start({ token: TOKEN });
    const cookie = await login(s.url, TOKEN);
    const push = (headers: Record<string, string>) =>
      fetch(`${s.url}/v1/topics/t/jobs`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ payload: 1 }) });
    const refused = await push({ cookie });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as ErrorBody).error).toMatchObject({ code: 'PERMISSION_DENIED', message: expect.stringContaining('x-bucketq-csrf') });
    expect((await push({ cookie, 'x-bucketq-csrf': '1' })).status).toBe(201);
    expect((await push({ authorization: `Bearer ${TOKEN}` })).status).toBe(201);
    expect((await push({ cookie: 'bucketq_session=forged' })).status).toBe(401);
  });

  it('with no token everything is open and there is no login page', async () => {
    const s = await start();
    expect((await fetch(`${s.url}/`)).status).toBe(200);
    expect(await (await fetch(`${s.url}/dashboard/session`)).json()).toEqual({ auth: false, role: 'admin' });
  });
});

describe('over TLS', () => {
  it('the session cookie is Secure', async () => {
    const cert = await makeCert();
    try {
      server = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0', dashboardDir: dir, token: TOKEN, tlsCert: cert.certFile, tlsKey: cert.keyFile });
      expect(server.url).toMatch(/^https:/);
      const body = JSON.stringify({ token: TOKEN });
      const cookie = await new Promise<string>((resolve, reject) => {
        const req = httpsRequest(`${server!.url}/dashboard/login`, { method: 'POST', ca: cert.cert, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
          res.resume();
          resolve(String(res.headers['set-cookie']?.[0] ?? ''));
        });
        req.on('error', reject);
        req.end(body);
      });
      expect(cookie).toMatch(/^bucketq_session=[^;]+; HttpOnly; SameSite=Strict; Path=\/; Secure$/);
    } finally {
      await rm(cert.dir, { recursive: true, force: true });
    }
  });
});

describe('read-only token', () => {
  it('may read, stream and log in, and any change is 403 PERMISSION_DENIED', async () => {
    const s = await start({ token: TOKEN, readToken: READ });
    const admin = api(s.url, TOKEN);
    const reader = api(s.url, READ);
    await admin('POST', '/v1/topics/t/jobs', { id: 'a', payload: 1 });
    expect((await reader('GET', '/v1/topics/t')).status).toBe(200);
    expect((await reader('GET', '/v1/topics/t/jobs?state=pending')).body.total).toBe(1);
    expect((await reader('GET', '/v1/broker')).status).toBe(200);
    for (const [method, path, body] of [
      ['POST', '/v1/topics/t/jobs', { payload: 2 }],
      ['POST', '/v1/topics/t/claim', { workerId: 'w' }],
      ['PATCH', '/v1/topics/t', { paused: true }],
      ['DELETE', '/v1/topics/t/jobs/a', undefined],
      ['POST', '/v1/topics/t/dead/retry', {}],
    ] as const) {
      const r = await reader(method, path, body);
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body.error.code).toBe('PERMISSION_DENIED');
    }
    expect((await admin('GET', '/v1/topics/t')).body).toMatchObject({ pending: 1, paused: false });
    const stream = await fetch(`${s.url}/v1/broker/stats/stream`, { headers: { authorization: `Bearer ${READ}` } });
    expect(stream.status).toBe(200);
    await stream.body!.cancel();
    const cookie = await login(s.url, READ);
    expect(await (await fetch(`${s.url}/dashboard/session`, { headers: { cookie } })).json()).toEqual({ auth: true, role: 'read' });
    const viaCookie = await fetch(`${s.url}/v1/topics/t`, { method: 'PATCH', headers: { cookie, 'x-bucketq-csrf': '1', 'content-type': 'application/json' }, body: '{"paused":true}' });
    expect(viaCookie.status).toBe(403);
  });

  it('is refused without a token, empty, or equal to the token', async () => {
    for (const o of [{ readToken: READ }, { token: TOKEN, readToken: ' ' }, { token: TOKEN, readToken: TOKEN }]) {
      await expect(startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0', ...o })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
  });
});
