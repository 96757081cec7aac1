/** Small HTTP helpers for tests of the broker server: JSON calls with fetch, raw requests with node:http. */
import { request, type Agent, type IncomingHttpHeaders } from 'node:http';
import { afterEach } from 'vitest';
import { startBrokerServer, type BrokerServer, type BrokerServerOptions } from '../src/server/broker-server.js';
import { createMemoryStore } from '../src/storage/memory.js';

export interface JsonReply<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** A JSON client bound to a base URL (and a token, when given). */
export function api(base: string, token?: string) {
  return async function call<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonReply<T>> {
    const h: Record<string, string> = { ...headers };
    if (token !== undefined) h.authorization = `Bearer ${token}`;
    if (body !== undefined) h['content-type'] ??= 'application/json';
    const res = await fetch(base + path, { method, headers: h, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`${method} ${path} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  };
}

export interface RawReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: any;
  reusedSocket: boolean;
}

/** One request through node:http, for what fetch does not let a test do (chunked bodies, keep-alive checks). */
export function raw(
  url: string,
  opts: { method?: string; headers?: Record<string, string | number>; chunks?: Array<string | Buffer>; agent?: Agent; /** sent as is, not normalised */ path?: string },
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {}, ...(opts.agent ? { agent: opts.agent } : {}), ...(opts.path ? { path: opts.path } : {}) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text), reusedSocket: req.reusedSocket });
        } catch (err) {
          reject(new Error(`answer ${res.statusCode} is not JSON: ${text.slice(0, 200)} (${String(err)})`));
        }
      });
    });
    req.on('error', reject);
    for (const c of opts.chunks ?? []) req.write(c);
    req.end();
  });
}

/**
 * For a file whose tests start in-process broker servers: the returned `start` runs one (a fresh
 * memory store at any port unless `options` say otherwise), and each is closed after its test.
 */
export function serversPerTest(): (options?: BrokerServerOptions) => Promise<BrokerServer> {
  const servers: BrokerServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  return async (options = {}) => {
    const s = await startBrokerServer({ store: createMemoryStore(), listen: '127.0.0.1:0', ...options });
    servers.push(s);
    return s;
  };
}
