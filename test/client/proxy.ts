/**
 * A tiny HTTP proxy for client tests: forwards each request to a target and lets the test decide,
 * per request, to forward it, drop the answer after the target handled it (the request landed,
 * the client sees the connection close), answer 503 UNAVAILABLE itself, or answer a given body.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * forward · drop-answer: forwarded, then the connection is cut instead of answering · late-answer:
 * forwarded, then held until the client gives up (times out) · hang: never forwarded nor answered
 * · unavailable: 503 UNAVAILABLE from the proxy · {status, body, headers?}: that answer from the proxy.
 */
export type Plan = 'forward' | 'drop-answer' | 'late-answer' | 'hang' | 'unavailable' | { status: number; body: unknown; headers?: Record<string, string> };

export interface SeenRequest {
  method: string;
  path: string;
  body: unknown;
  headers: IncomingMessage['headers'];
  plan: Plan;
}

export interface Proxy {
  url: string;
  seen: SeenRequest[];
  /** Requests whose target answer was dropped (they reached the target). */
  dropped: number;
  close(): Promise<void>;
}

async function readAll(req: IncomingMessage): Promise<string> {
  let text = '';
  req.setEncoding('utf8');
  for await (const chunk of req) text += chunk as string;
  return text;
}

/** `plan(request, n)`: n counts requests with the same method and path, from 1. */
export async function startProxy(target: string | null, plan: (req: { method: string; path: string; body: unknown }, n: number) => Plan): Promise<Proxy> {
  const counts = new Map<string, number>();
  const proxy: Proxy = { url: '', seen: [], dropped: 0, close: async () => {} };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.destroy(err as Error);
    });
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await readAll(req);
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const body = text ? (JSON.parse(text) as unknown) : undefined;
    const key = `${method} ${path}`;
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    const p = plan({ method, path, body }, n);
    proxy.seen.push({ method, path, body, headers: req.headers, plan: p });
    if (p === 'hang') return;
    if (p === 'unavailable' || typeof p === 'object') {
      const [status, answer] = p === 'unavailable' ? [503, { error: { code: 'UNAVAILABLE', message: 'proxy says no' } }] : [p.status, p.body];
      const json = typeof answer === 'string' ? answer : JSON.stringify(answer);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), ...(typeof p === 'object' ? p.headers : {}) });
      res.end(json);
      return;
    }
    if (!target) throw new Error('no target to forward to');
    const headers: Record<string, string> = {};
    if (req.headers['content-type']) headers['content-type'] = req.headers['content-type'];
    if (req.headers.authorization) headers.authorization = req.headers.authorization;
    const answer = await fetch(target + path, { method, headers, ...(text ? { body: text } : {}) });
    const out = await answer.text();
    if (p === 'drop-answer') {
      proxy.dropped++;
      req.socket.destroy();
      return;
    }
    if (p === 'late-answer') {
      if (!res.destroyed) await new Promise((resolve) => res.once('close', resolve));
      return;
    }
    res.writeHead(answer.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
    res.end(out);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}

/** A port nothing listens on (taken from the OS, then released). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
