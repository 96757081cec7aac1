/**
 * The operations endpoints on the broker's port, answered before the JSON API's route table:
 * GET /metrics (Prometheus text format; needs the broker's token like the API, which Prometheus
 * sends with `authorization: {credentials: TOKEN}`) and GET /readyz (public, like /healthz).
 *
 * They are served here rather than in the HTTP API's routes (transports/http/routes.ts) because /metrics is not JSON and both need
 * the server's registry and store, which the API's routes do not see.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BearerCheck } from '../transports/shared/index.js';
import type { BrokerMetrics } from './metrics.js';
import type { Readiness } from './readiness.js';

export interface OpsHttpOptions {
  metrics: BrokerMetrics;
  readiness: Readiness;
  /** Checks an Authorization header; null when the broker has no token (everything open). */
  checkBearer: ((header: string | undefined) => BearerCheck) | null;
  /** Once draining, answers close their connection (the drain waits for connections to close). */
  draining(): boolean;
  onError(err: unknown, req: IncomingMessage): void;
}

export type OpsHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** The route pattern of an operations path, or null when the API's handler should answer. */
export function opsRoute(url: string): '/metrics' | '/readyz' | null {
  // Every API request passes here: two prefix tests, no allocation, before anything else.
  if (!url.startsWith('/metrics') && !url.startsWith('/readyz')) return null;
  const path = url.split('?', 1)[0];
  return path === '/metrics' ? '/metrics' : path === '/readyz' ? '/readyz' : null;
}

function reply(req: IncomingMessage, res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...(closing.has(res) ? { connection: 'close' } : {}), 'content-type': contentType, 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function json(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  reply(req, res, status, 'application/json; charset=utf-8', JSON.stringify(body), headers);
}

/** Answers that must close their connection (set per request while the server drains). */
const closing = new WeakSet<ServerResponse>();

export function createOpsHandler(o: OpsHttpOptions): OpsHandler {
  return (req, res) => {
    if (o.draining()) closing.add(res);
    const route = opsRoute(req.url ?? '/')!;
    // 499 as in transports/http/handler.ts: the client left before any answer (statusCode would still say 200).
    res.once('close', () => o.metrics.httpAnswered(req.method ?? 'GET', route, res.headersSent ? res.statusCode : 499));
    req.resume(); // a body on a GET is read and ignored, so the connection stays usable
    void (async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return json(req, res, 405, { error: { code: 'INVALID_ARGUMENT', message: `method ${req.method} is not allowed on ${route} (allowed: GET)` } }, { allow: 'GET' });
      }
      if (route === '/readyz') {
        // Public; a caller with a token (or any caller, without one) also gets the topics' names.
        const answer = await o.readiness(!o.checkBearer || o.checkBearer(req.headers.authorization) === 'ok');
        return json(req, res, answer.status, answer.body);
      }
      const check = o.checkBearer?.(req.headers.authorization) ?? 'ok';
      if (check !== 'ok') {
        const message = check === 'missing' ? 'this broker needs Authorization: Bearer <token>' : 'the bearer token is not valid';
        const challenge = check === 'missing' ? 'Bearer realm="bucketq"' : 'Bearer realm="bucketq", error="invalid_token"';
        return json(req, res, 401, { error: { code: 'UNAUTHENTICATED', message } }, { 'www-authenticate': challenge });
      }
      const { contentType, body } = await o.metrics.scrape();
      reply(req, res, 200, contentType, body);
    })().catch((err: unknown) => {
      o.onError(err, req);
      json(req, res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
    });
  };
}
