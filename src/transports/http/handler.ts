/**
 * The HTTP transport: `createHttpHandler(broker, options)` is a `(req, res)` listener for node:http
 * serving the API of docs/http-api.md. No framework: a route table (routes.ts), JSON bodies
 * with a size limit (body.ts) and one error mapping (shared/error-codes.ts).
 *
 * Every answer is JSON, errors included (`{"error": {code, message, ...}}`): unknown routes, wrong
 * methods, malformed JSON, oversized bodies, missing tokens and malformed HTTP (see
 * {@link answerClientErrors}). No CORS headers are ever sent, so browsers on other origins cannot
 * read answers, and bodies must be declared JSON, which such browsers cannot send without a
 * preflight. Responses always carry a Content-Length, so connections stay alive between requests.
 *
 * Long polls: a claim with `waitMs` gets an AbortSignal that fires when the client goes away
 * before its answer; the broker then claims nothing for it (or hands back what a racing commit
 * claimed).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Broker } from '../../broker/broker.js';
import { isQueueError, QueueError } from '../../errors.js';
import { checkTopic } from '../../protocol.js';
import { asQueueError, errorBody, httpStatusOf } from '../shared/error-codes.js';
import { cut } from '../shared/connections.js';
import { ClientGone, discardUnreadBody, HttpError, readJson, type BodyAccount } from './body.js';
import { BodyBudget, DEFAULT_MAX_BODY_BYTES_IN_FLIGHT, type BodyHold } from '../shared/body-budget.js';
import { EventStreams, type EventStreamOptions } from './events/event-streams.js';
import { ROUTES } from './routes.js';
import type { BrokerInfo, Route } from './route.js';
import { TopicDirectory } from '../shared/topic-directory.js';
import { createHttpAuth } from './auth.js';
import { createDashboardHttp } from './dashboard-server/pages.js';
import { DEFAULT_DASHBOARD_DIR } from './dashboard-server/static-files.js';
import { StatsStreams, type StatsStreamOptions } from './dashboard-server/stats-stream.js';
import { JobHistory } from './dashboard-server/job-history.js';
import { RecentCompletions } from './dashboard-server/recent-completions.js';
import { packageVersion } from '../../package-version.js';

const NO_QUERY: Readonly<URLSearchParams> = new URLSearchParams();

/** Largest request body by default: a 10 MiB payload as JSON with room for its envelope. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface HttpHandlerOptions {
  /** When set, every route except `/healthz` needs `Authorization: Bearer <token>` (or a dashboard session). */
  token?: string | undefined;
  /** A second token that may only read: GET routes and the streams; any change is 403 PERMISSION_DENIED. */
  readToken?: string | undefined;
  /** Where the built dashboard is (default dist/dashboard/ of this package; see dashboard-server/static-files.ts). */
  dashboardDir?: string | undefined;
  /** Largest request body in bytes (default 16 MiB); larger ones get 413 PAYLOAD_TOO_LARGE. */
  maxBodyBytes?: number | undefined;
  /**
   * Request-body bytes held at once (shared with the other wires of a broker server); a body that
   * does not fit gets 503 UNAVAILABLE with Retry-After. Default: a budget of its own of 64 MiB.
   */
  bodyBudget?: BodyBudget | undefined;
  /** Unexpected failures (bugs), answered as 500 INTERNAL without their details. */
  onError?: ((err: unknown, req: IncomingMessage) => void) | undefined;
  /** GET /v1/events: heartbeat interval, resume window (events/event-streams.ts). */
  events?: EventStreamOptions | undefined;
  /** GET /v1/broker/stats/stream and .../history: interval, window, history, clock (dashboard-server/stats-stream.ts). */
  stats?: StatsStreamOptions | undefined;
  /** What GET /v1/broker reports besides the broker's own view (default: this package's version, the store driver's name). */
  info?: Partial<BrokerInfo> | undefined;
  /**
   * Called once per request when its answer is out (or the client left): the route's pattern
   * (`/v1/topics/:topic/jobs`, `unmatched` when no route matched) and the status sent (499 when
   * the client left before any answer). For metrics.
   */
  onAnswered?: ((method: string, route: string, status: number) => void) | undefined;
}


export interface HttpHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** Requests being handled right now (long polls included). */
  readonly inFlight: number;
  /** From now on new requests get 503 UNAVAILABLE and every answer closes its connection. */
  drain(): void;
  /** Resolves when no request is being handled. */
  idle(): Promise<void>;
}

/** A route with what matching it needs, worked out once. */
interface CompiledRoute {
  route: Route;
  /** The path as a pattern (`/v1/topics/:topic/jobs`), for metrics labels: never the raw path, topics and ids vary. */
  pattern: string;
  /** Its segments; null where one is captured. */
  literal: ReadonlyArray<string | null>;
  /** Where `:topic` and `:id` are (-1: not in this route). */
  topicAt: number;
  idAt: number;
}

/** The routes by their number of segments, in table order (the first whose method matches wins). */
const ROUTES_BY_LENGTH = new Map<number, CompiledRoute[]>();
for (const route of ROUTES) {
  const compiled: CompiledRoute = {
    route,
    pattern: `/${route.path.join('/')}`,
    literal: route.path.map((p) => (p === ':topic' || p === ':id' ? null : p)),
    topicAt: route.path.indexOf(':topic'),
    idAt: route.path.indexOf(':id'),
  };
  const same = ROUTES_BY_LENGTH.get(route.path.length) ?? [];
  same.push(compiled);
  ROUTES_BY_LENGTH.set(route.path.length, same);
}

interface Match {
  compiled: CompiledRoute;
  params: { topic: string; id: string };
}

function matches(c: CompiledRoute, segments: readonly string[]): boolean {
  for (let i = 0; i < segments.length; i++) {
    const literal = c.literal[i];
    if (literal === null ? segments[i] === '' : literal !== segments[i]) return false;
  }
  return true;
}

/** The route for a method and path (no query): 404 when no route has the path, 405 (with Allow) when none has the method. */
function matchRoute(method: string, path: string): Match {
  let segments: string[];
  try {
    segments = path.startsWith('/') ? path.slice(1).split('/') : [];
    for (let i = 0; i < segments.length; i++) if (segments[i]!.includes('%')) segments[i] = decodeURIComponent(segments[i]!);
  } catch {
    throw new QueueError('INVALID_ARGUMENT', `the path ${JSON.stringify(path)} is not validly percent-encoded`);
  }
  const same = ROUTES_BY_LENGTH.get(segments.length) ?? [];
  for (const compiled of same) {
    if (compiled.route.method !== method || !matches(compiled, segments)) continue;
    const params = { topic: compiled.topicAt === -1 ? '' : segments[compiled.topicAt]!, id: compiled.idAt === -1 ? '' : segments[compiled.idAt]! };
    return { compiled, params };
  }
  const candidates = same.filter((c) => matches(c, segments));
  if (candidates.length === 0) throw new QueueError('NOT_FOUND', `no route ${method} ${path}`);
  const allow = candidates.map((c) => c.route.method).join(', ');
  throw new HttpError(405, new QueueError('INVALID_ARGUMENT', `method ${method} is not allowed on ${path} (allowed: ${allow})`), { allow });
}

const CLIENT_WENT_AWAY = 'the client went away';

/**
 * One request's bookkeeping, one object instead of a closure, promise and listener each: the
 * route it matched (for metrics), its share of the body budget, whether its client left before
 * the answer, the AbortSignal a long poll gets (made only when a route asks for it), and the two
 * things that must both happen before it stops counting as in flight: the handler is done, and
 * the response is closed (the answer handed to the OS, or the client gone).
 */
class Exchange {
  route = 'unmatched';
  /** The client left before the answer was complete: nobody to answer. */
  gone = false;
  readonly hold: BodyHold;
  private aborter: AbortController | null = null;
  private pending = 2;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    budget: BodyBudget,
    private readonly onDone: (e: Exchange) => void,
  ) {
    this.hold = budget.hold();
  }

  /** Fires when the client goes away before its answer was sent. */
  get signal(): AbortSignal {
    if (!this.aborter) {
      this.aborter = new AbortController();
      if (this.gone) this.aborter.abort(new QueueError('CLOSED', CLIENT_WENT_AWAY));
    }
    return this.aborter.signal;
  }

  /** The response closed: if not after its answer, the client left first. */
  closed(): void {
    if (this.res.writableFinished) return;
    this.gone = true;
    this.aborter?.abort(new QueueError('CLOSED', CLIENT_WENT_AWAY));
  }

  /** One of handler-done and response-closed. */
  step(): void {
    if (--this.pending === 0) this.onDone(this);
  }
}

export function createHttpHandler(broker: Broker, options: HttpHandlerOptions = {}): HttpHandler {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const budget = options.bodyBudget ?? new BodyBudget(DEFAULT_MAX_BODY_BYTES_IN_FLIGHT);
  const auth = createHttpAuth({ token: options.token, readToken: options.readToken });
  const dashboard = createDashboardHttp(auth, options.dashboardDir ?? DEFAULT_DASHBOARD_DIR);
  const topics = new TopicDirectory(broker);
  const history = new JobHistory();
  const completions = new RecentCompletions();
  const streams = new EventStreams(broker, {
    ...options.events,
    onEvent: (e, detail) => {
      history.record(e);
      completions.record(e, detail);
    },
  });
  const stats = new StatsStreams(broker, options.stats);
  const info: BrokerInfo = { version: packageVersion(), startedAt: Date.now(), store: broker.store.name, ...options.info };
  let inFlight = 0;
  let draining = false;
  const idleWaiters: Array<() => void> = [];

  /** Answers with `body` as JSON, or with `text` when the route made the JSON itself (Reply.json). */
  function send(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>, text?: string | Buffer): void {
    if (res.headersSent || res.destroyed) return;
    const json = text ?? JSON.stringify(body);
    const head: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-length': String(typeof json === 'string' ? Buffer.byteLength(json) : json.length),
    };
    if (discardUnreadBody(req) || draining) head.connection = 'close';
    if (headers) Object.assign(head, headers);
    res.writeHead(status, head);
    res.end(json);
  }

  async function handle(x: Exchange): Promise<void> {
    const { req, res } = x;
    if (draining) throw new QueueError('UNAVAILABLE', 'this broker is shutting down; retry on another broker');
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (dashboard.handles(path)) {
      x.route = path === '/' ? '/' : '/dashboard/*'; // one label for every asset (hashed names)
      return dashboard.serve(req, res, path);
    }
    let match: Match | undefined;
    let notFound: unknown;
    try {
      match = matchRoute(req.method ?? 'GET', path);
      x.route = match.compiled.pattern;
    } catch (err) {
      notFound = err;
    }
    if (!match?.compiled.route.public) {
      const who = auth.authenticate(req); // before saying anything about routes
      if (match) auth.authorize(req, who);
    }
    if (!match) throw notFound;
    const { compiled, params } = match;
    const route = compiled.route;
    if (compiled.topicAt !== -1) checkTopic(params.topic);
    if (route.stream) return route.stream === 'stats' ? stats.serve(req, res) : streams.serve(req, res);
    // The body's bytes stay counted until the answer is out and the handler done (a push: after its commit).
    const body = route.body ? await readJson(req, maxBodyBytes, { budget, hold: x.hold } satisfies BodyAccount) : undefined;
    // Most requests (every push, claim, ack) have no query string: they share one empty, read-only one.
    const query = q === -1 ? NO_QUERY : new URLSearchParams(url.slice(q + 1));
    const reply = await route.run({
      broker,
      topics,
      params,
      body,
      get signal() {
        return x.signal;
      },
      query,
      info,
      history,
      completions,
      stats,
    });
    if (!x.gone) send(req, res, reply.status, reply.body, undefined, reply.json);
  }

  function fail(x: Exchange, err: unknown): void {
    if (err instanceof ClientGone || x.gone) return; // nobody to answer
    if (err instanceof HttpError) return send(x.req, x.res, err.status, errorBody(err.error), err.headers);
    const q = asQueueError(err);
    if (!isQueueError(err) || q.code === 'INTERNAL') options.onError?.(err, x.req);
    send(x.req, x.res, httpStatusOf(q.code), errorBody(q));
  }

  /** Both the handler and the response are done: the body's bytes go back, the request is no longer in flight. */
  function done(x: Exchange): void {
    x.hold.release();
    inFlight--;
    if (inFlight === 0) for (const wake of idleWaiters.splice(0)) wake();
  }

  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    const x = new Exchange(req, res, budget, done);
    // Queued behind another response of a pipelined connection: closed with the connection (see closeWithConnection).
    if (!res.socket) closeWithConnection(req, res);
    // In flight until the answer has been handed to the OS (or the client left), not merely written.
    res.on('close', () => {
      x.closed();
      // 499 (nginx's "client closed request"): the client left before any answer was sent.
      options.onAnswered?.(req.method ?? 'GET', x.route, res.headersSent ? res.statusCode : 499);
      x.step();
    });
    handle(x).then(
      () => x.step(),
      (err: unknown) => {
        try {
          fail(x, err);
        } catch (e) {
          options.onError?.(e, req);
        }
        x.step();
      },
    );
  }) as HttpHandler;

  Object.defineProperty(handler, 'inFlight', { get: () => inFlight });
  handler.drain = () => {
    draining = true;
    streams.close(); // an event stream has no answer to finish: end it now
    stats.close();
  };
  handler.idle = () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve)));
  return handler;
}

/** Responses of HTTP/1 connections not closed yet, per connection (pipelined requests queue theirs). */
const openOn = new WeakMap<Duplex, Set<ServerResponse>>();

/**
 * A response queued behind another on a pipelined connection (not attached to the socket yet)
 * gets no 'close' of its own when the connection ends, as answerClientErrors ends it on a
 * malformed request that follows: it will never be sent, so it is closed here, and everything
 * waiting for its 'close' (in flight count, drain, long-poll aborts, event streams) goes on.
 * One socket listener serves every request of the connection. (A response attached to its
 * socket, as every one of a connection that is not pipelining, gets node's own 'close'.)
 */
function closeWithConnection(req: IncomingMessage, res: ServerResponse): void {
  if (req.httpVersionMajor >= 2) return;
  const socket = req.socket as Duplex | null;
  if (!socket) return;
  let open = openOn.get(socket);
  if (!open) {
    const set = new Set<ServerResponse>();
    openOn.set(socket, (open = set));
    socket.once('close', () => {
      for (const r of [...set]) if (set.has(r) && !r.socket) r.emit('close'); // attached ones get node's own 'close'
    });
  }
  const responses = open;
  responses.add(res);
  res.once('close', () => responses.delete(res));
}

/**
 * Answers malformed HTTP (bad request line, oversized headers, a request that took too long) with
 * a JSON error instead of node's bare status line, then closes the connection (for good after a
 * second, whether or not the client closes its side). `onTimeout` hears of requests cut by
 * node:http's header or request timeout.
 */
export function answerClientErrors(server: { on(event: 'clientError', listener: (err: NodeJS.ErrnoException, socket: Duplex) => void): unknown }, onTimeout?: (reason: 'headers-timeout', address: string | undefined) => void): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') onTimeout?.('headers-timeout', (socket as Socket).remoteAddress);
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, reason, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'the request headers are too large']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', 'the request did not arrive in time']
          : [400, 'Bad Request', `malformed HTTP request (${err.code ?? err.message})`];
    const json = JSON.stringify(errorBody(new QueueError('INVALID_ARGUMENT', message)));
    cut(socket, `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(json)}\r\nconnection: close\r\n\r\n${json}`);
  });
}
