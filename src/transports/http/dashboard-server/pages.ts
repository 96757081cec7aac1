/**
 * The browser side of the broker's port: the dashboard's page and files, login and logout.
 *
 *   GET  /                       index.html; with a token and no valid session, 401 and the login page
 *   GET  /dashboard/assets/NAME  the bundled files (auth as every /v1 route: bearer or cookie)
 *   GET  /dashboard/session      {auth: boolean, role} of the caller (so the page can hide what it may not do)
 *   POST /dashboard/login        form or JSON {token}: sets the session cookie (303 to / for forms)
 *   POST /dashboard/logout       forgets the session and clears the cookie
 *
 * Errors are JSON like every other answer of http/handler.ts (thrown from here, answered there), except
 * the login page itself. When dist/dashboard/ is missing, GET / is 503 saying how to build it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { QueueError } from '../../../errors.js';
import { clearedSessionCookie, cookieValue, SESSION_COOKIE, sessionCookie } from './sessions.js';
import { loginPage } from './login-page.js';
import { readAsset, readIndex, SECURITY_HEADERS, type StaticFile } from './static-files.js';
import { readBody, readJson, HttpError } from '../body.js';
import type { HttpAuth } from '../auth.js';

const LOGIN_BODY_MAX = 8 * 1024;
const ASSETS = '/dashboard/assets/';

export interface DashboardHttp {
  /** Whether this path is the dashboard's (else it is the JSON API's). */
  handles(path: string): boolean;
  serve(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>;
}

function write(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string>): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  write(res, status, JSON.stringify(body), { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS, ...headers });
}

function notAllowed(method: string, path: string, allow: string): HttpError {
  return new HttpError(405, new QueueError('INVALID_ARGUMENT', `method ${method} is not allowed on ${path} (allowed: ${allow})`), { allow });
}

function isForm(req: IncomingMessage): boolean {
  return /^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '');
}

/** The token of a login: a form field or a JSON member. */
async function presentedToken(req: IncomingMessage): Promise<string> {
  let token: unknown;
  if (isForm(req)) {
    token = new URLSearchParams((await readBody(req, LOGIN_BODY_MAX)).toString('utf8')).get('token');
  } else {
    const body = await readJson(req, LOGIN_BODY_MAX);
    token = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).token : undefined;
  }
  if (typeof token !== 'string' || token === '') throw new QueueError('INVALID_ARGUMENT', 'a login needs {"token": "..."} (or a form field token)');
  return token;
}

export function createDashboardHttp(auth: HttpAuth, dir: string): DashboardHttp {
  const secure = (req: IncomingMessage) => (req.socket as TLSSocket).encrypted === true;

  async function page(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (auth.required) {
      try {
        auth.authenticate(req);
      } catch (err) {
        if (!(err instanceof HttpError && err.status === 401)) throw err;
        const login = loginPage();
        return write(res, 401, login.body, login.headers);
      }
    }
    const index = await readIndex(dir);
    if (!index) throw new QueueError('UNAVAILABLE', 'the dashboard is not built: run `npm run build:dashboard` (npm start does it first)', { details: { dir } });
    send(res, index);
  }

  function send(res: ServerResponse, file: StaticFile): void {
    write(res, 200, file.body, file.headers);
  }

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Login CSRF: another site's form could log this browser into a session of the attacker's
    // token. Browsers say where a request comes from (Sec-Fetch-Site); clients without it pass.
    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') {
      throw new HttpError(403, new QueueError('PERMISSION_DENIED', `a login must come from the dashboard's own page (Sec-Fetch-Site: ${site})`));
    }
    const form = isForm(req);
    const token = await presentedToken(req);
    const role = auth.roleOf(token);
    if (!role) {
      if (form) {
        const again = loginPage('That token is not valid for this broker.');
        return write(res, 401, again.body, again.headers);
      }
      throw new HttpError(401, new QueueError('UNAUTHENTICATED', 'the token is not valid'));
    }
    const headers: Record<string, string> = auth.required ? { 'set-cookie': sessionCookie(auth.sessions.create(role), secure(req)) } : {};
    if (form) return write(res, 303, '', { ...headers, location: '/', 'cache-control': 'no-store', ...SECURITY_HEADERS });
    json(res, 200, { ok: true, role }, headers);
  }

  function logout(req: IncomingMessage, res: ServerResponse): void {
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (id) auth.sessions.delete(id);
    const headers = { 'set-cookie': clearedSessionCookie(secure(req)) };
    if (isForm(req)) return write(res, 303, '', { ...headers, location: '/', 'cache-control': 'no-store', ...SECURITY_HEADERS });
    json(res, 200, { ok: true }, headers);
  }

  return {
    handles: (path) => path === '/' || path === '/dashboard' || path.startsWith('/dashboard/'),
    async serve(req, res, path) {
      const method = req.method ?? 'GET';
      if (path === '/') {
        if (method !== 'GET') throw notAllowed(method, path, 'GET');
        return page(req, res);
      }
      if (path === '/dashboard/login' || path === '/dashboard/logout') {
        if (method !== 'POST') throw notAllowed(method, path, 'POST');
        return path === '/dashboard/login' ? login(req, res) : logout(req, res);
      }
      if (path === '/dashboard/session') {
        if (method !== 'GET') throw notAllowed(method, path, 'GET');
        const who = auth.authenticate(req);
        return json(res, 200, { auth: auth.required, role: who.role });
      }
      if (path.startsWith(ASSETS)) {
        if (method !== 'GET') throw notAllowed(method, path, 'GET');
        auth.authenticate(req);
        const file = await readAsset(dir, path.slice(ASSETS.length));
        if (!file) throw new QueueError('NOT_FOUND', `no dashboard asset ${path.slice(ASSETS.length)}`);
        return send(res, file);
      }
      if (auth.required) auth.authenticate(req); // say nothing about paths to strangers
      throw new QueueError('NOT_FOUND', `no route ${method} ${path}`);
    },
  };
}
