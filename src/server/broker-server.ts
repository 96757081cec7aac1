/**
 * A network broker: a store, a {@link Broker} in `standby: 'reject'` mode, the HTTP API on
 * node:http and the standby watcher. Several of them may share one store: each topic is led by
 * one, the others answer NOT_LEADER with the leader's advertised URL and take the topic over when
 * its lease is released or goes stale, or when its URL refuses connections (server/leader-probe.ts).
 *
 * close() drains, in this order: refuse new requests (503 UNAVAILABLE with Connection: close); stop
 * the watcher; stop the broker, which commits everything queued and in flight, answers parked long
 * polls with no jobs and releases every lease so a standby takes over at once; stop accepting
 * connections (not sooner: a standby would take a refused connection for a dead leader and fence
 * the drain's last commits); wait until every request in flight has its answer; give clients
 * up to `connectionGraceMs` to close their idle keep-alive connections; close the remaining
 * connections; close the store (when it was opened here).
 *
 * The Redis protocol (`respListen`, transports/resp/) drains alongside: it stops accepting when
 * the drain begins (its port is not the one standbys probe) and answers later commands with
 * -UNAVAILABLE; its commands in flight get their replies (parked BRPOP / XREADGROUP BLOCK get nothing when the broker stops), then its
 * connections are ended.
 *
 * bucketq.v1.Queue (gRPC, gRPC-Web, Connect; transports/connect/) is served on the same port, over
 * HTTP/1.1 and cleartext HTTP/2 (server/h2c.ts tells them apart). It drains alongside: later calls
 * get UNAVAILABLE, ClaimStreams end cleanly, and every HTTP/2 connection gets a GOAWAY at once, which
 * lets its client retry the streams the broker did not take elsewhere, without doubt.
 *
 * With `tlsCert`/`tlsKey` the port is HTTPS instead (server/tls.ts): ALPN picks HTTP/1.1 or HTTP/2
 * and every route, the JSON API included, is served on both; the Redis port speaks TLS too.
 *
 * Idle connections are never closed from this side before that: a client may be sending a request
 * on one at that very moment, and then sees the connection cut after sending, cannot tell whether
 * the request was handled, and must not retry a claim (a worker would report an error in what
 * should be a seamless handover). A request that arrives on an open connection is answered 503 with
 * Connection: close instead, which every client retries elsewhere.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { Broker, type BrokerOptions } from '../broker/broker.js';
import { isQueueError, QueueError } from '../errors.js';
import type { Limits } from '../protocol.js';
import { openStore } from '../storage/open.js';
import type { StorageDriver } from '../storage/types.js';
import { CONNECT_PATH_PREFIX, createConnectHandler, type ConnectHandler } from '../transports/connect/index.js';
import { BodyBudget, defaultPerAddress, DEFAULT_MAX_BODY_BYTES_IN_FLIGHT, type ConnectionRejectReason } from '../transports/shared/index.js';
import { answerClientErrors, createHttpHandler, DEFAULT_MAX_BODY_BYTES, type HttpHandler } from '../transports/http/index.js';
import { createRespServer, type RespServer, type RespServerOptions } from '../transports/resp/index.js';
import { advertiseUrl, DEFAULT_LISTEN, listenUrl, parseListen } from './address.js';
import { createDualServer, DEFAULT_HEADERS_TIMEOUT_MS, httpTimeouts } from './h2c.js';
import { createTlsServer, loadTls } from './tls.js';
import { startStandbyWatcher, type StandbyWatcher } from './standby-watcher.js';
import { redactStoreUrl as storeForDisplay } from '../storage/redact-url.js';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.js';
import { createObservability } from './observability.js';
import { DEFAULT_STORE } from './default-store.js';

export { DEFAULT_STORE };
export const DEFAULT_BROKER_LEASE_MS = 10_000;
export const DEFAULT_MAX_CONNECTIONS = 1000;
export const DEFAULT_LEADER_PROBE_MS = 500;

export interface BrokerServerOptions {
  /** A store URL (opened here and closed by close()) or a driver you own. Default `file:./bucketq-data`. */
  store?: string | StorageDriver;
  /** `HOST:PORT` to listen on (default 127.0.0.1:8080; port 0 picks a free one). */
  listen?: string;
  /** The URL written into leases for clients and other brokers; default `http://HOST:PORT` of the listen address. */
  advertise?: string;
  /** Broker instance id (default random). */
  id?: string;
  /** Bearer token required on every route but /healthz. */
  token?: string;
  /**
   * A read-only token: GET routes, the events and stats streams, the dashboard's views; any change
   * is 403 PERMISSION_DENIED. Needs `token` (someone must be able to change things). gRPC/Connect: Get,
   * Stats and ListTopics only (others PERMISSION_DENIED); RESP: commands not flagged write (-NOPERM).
   */
  readToken?: string;
  /** The built dashboard served at / (default dist/dashboard/ of this package, made by `npm run build:dashboard`). */
  dashboardDir?: string;
  /** Leadership lease per topic (default 10 s): renewed at a third; a dead leader is replaced after about this long. */
  leaseMs?: number;
  /** How often the standby watcher looks for topics to take over (default leaseMs / 3). */
  standbyCheckMs?: number;
  /**
   * How often a standby probes each leader's URL (default 500 ms; 0: never). A leader whose URL
   * refuses connections after accepting them is dead, and its topics are taken over at once
   * instead of after its lease (server/leader-probe.ts).
   */
  leaderProbeMs?: number;
  /** Largest request body (default 16 MiB). */
  maxBodyBytes?: number;
  /**
   * Request-body bytes held at once across the HTTP API, gRPC/Connect and the Redis port, from the
   * first byte read until the answer (a push: after its commit). Default 64 MiB; at least
   * `maxBodyBytes`. A request that does not fit is refused before its body is read (503
   * UNAVAILABLE with Retry-After; -UNAVAILABLE on the Redis port). See docs/operations.md.
   */
  maxBodyBytesInFlight?: number;
  /**
   * TLS certificate (chain) and private key, each PEM text or a path to a PEM file (server/tls.ts).
   * Both or neither; with them the port speaks HTTPS (HTTP/1.1 and HTTP/2 by ALPN), the Redis port
   * TLS, and URLs are https:// and rediss://.
   */
  tlsCert?: string;
  tlsKey?: string;
  /** Open connections on the HTTP port at most (default 1,000); more are closed at once. The Redis port has its own (`resp.maxConnections`). */
  maxConnections?: number;
  /**
   * Open connections on the HTTP port from one client address at most (default: half of
   * `maxConnections`, so one client can never take the slots of everyone else, /healthz
   * included); more are closed at once. Behind a proxy every client has the proxy's address: raise it.
   */
  maxConnectionsPerAddress?: number;
  /**
   * Time from connecting to a complete request head on the HTTP port (default 10 s): a connection
   * that sends nothing, sends its headers too slowly, does not finish its TLS handshake or opens
   * an HTTP/2 session without a request is cut then. Also the time to send the head of each later
   * request on a kept-alive connection.
   */
  headersTimeoutMs?: number;
  /**
   * How long close() waits, once every request has its answer, for clients to close their idle
   * keep-alive connections before closing them itself (default 0: at once). Clients that honour
   * the Keep-Alive header close them within its timeout (5 s; Node's fetch after 3 s), with no
   * race against a request of their own. `bucketq broker` waits up to 6 s.
   */
  connectionGraceMs?: number;
  /** `HOST:PORT` for the Redis protocol (RESP2/RESP3, same token); off when absent. */
  respListen?: string;
  /** Stream lease length, pipeline depth, connection limits and timeouts, frame limits of the Redis protocol. */
  resp?: Omit<RespServerOptions, 'token' | 'readToken' | 'clock' | 'onError' | 'onRejected' | 'bodyBudget'>;
  /** Batch, payload, claim, lease and wait limits (defaults: DEFAULT_LIMITS). */
  limits?: Partial<Limits>;
  /** Further broker options (clock, retry, payloadThreshold, retentionMs, ...). */
  brokerOptions?: Partial<Omit<BrokerOptions, 'store' | 'id' | 'url' | 'leaseMs' | 'standby' | 'limits'>>;
  /** Informational lines: leadership gained and lost. */
  log?: (line: string) => void;
  /** Failures worth an operator's attention (storage trouble, bugs). */
  onError?: (err: unknown, context: string) => void;
  /**
   * Structured logs (server/logger.ts): a pino logger or any object with pino's
   * `info(fields, message)` convention (error, warn, info, debug). Default: silent.
   */
  logger?: Logger;
  /** Commits slower than this are logged at debug level (default 1000 ms). */
  slowCommitMs?: number;
  /** `HOST:PORT` for a metrics-only port without authentication (GET /metrics, /readyz); off when absent. */
  metricsListen?: string;
}

export interface BrokerServer {
  /** Where this server listens, with the actual port. */
  url: string;
  /** The URL written into the leases this broker takes. */
  advertiseUrl: string;
  /** `redis://HOST:PORT` (`rediss://` with TLS) of the Redis protocol, when `respListen` was given. */
  respUrl: string | null;
  /** `http://HOST:PORT` of the metrics-only port, when `metricsListen` was given. */
  metricsUrl: string | null;
  broker: Broker;
  /** This server's Prometheus registry (served at GET /metrics; see docs/operations.md). */
  metrics: Registry;
  /** HTTP requests being handled right now (long polls included). */
  readonly inFlight: number;
  /** The standby watcher: check() looks for topics to take over now, probe?.check() probes the leaders' URLs now. */
  readonly watcher: Pick<StandbyWatcher, 'check' | 'probe'>;
  /** Drains and stops (see the module comment). Idempotent. */
  close(): Promise<void>;
}

function listen(server: NetServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const why = err.code === 'EADDRINUSE' ? 'the address is in use' : err.code === 'EADDRNOTAVAIL' ? 'no such local address' : err.message;
      reject(new QueueError('UNAVAILABLE', `cannot listen on ${host}:${port}: ${why}`, { cause: err }));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError).once('listening', onListening);
    server.listen({ host, port });
  });
}

/** An option that must be an integer of at least `min` (1 unless said), when given. */
function positive(value: number | undefined, name: string, min = 1): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= min)) {
    throw new QueueError('INVALID_ARGUMENT', `${name} must be ${min === 1 ? 'a positive integer' : `an integer >= ${min}`}, got ${String(value)}`);
  }
}

export async function startBrokerServer(options: BrokerServerOptions = {}): Promise<BrokerServer> {
  const address = parseListen(options.listen ?? DEFAULT_LISTEN);
  const respAddress = options.respListen !== undefined ? parseListen(options.respListen) : null;
  const metricsAddress = options.metricsListen !== undefined ? parseListen(options.metricsListen) : null;
  advertiseUrl(address, address.port, options.advertise); // refuse a bad advertise URL before opening anything
  positive(options.leaseMs, 'leaseMs');
  positive(options.standbyCheckMs, 'standbyCheckMs');
  positive(options.leaderProbeMs, 'leaderProbeMs', 0);
  positive(options.maxBodyBytes, 'maxBodyBytes');
  positive(options.maxConnections, 'maxConnections');
  positive(options.maxConnectionsPerAddress, 'maxConnectionsPerAddress');
  positive(options.headersTimeoutMs, 'headersTimeoutMs');
  for (const name of ['maxConnections', 'maxConnectionsPerAddress', 'maxUnauthenticated', 'authTimeoutMs'] as const) positive(options.resp?.[name], `resp.${name}`);
  if (options.resp?.idleTimeoutMs !== undefined && !(Number.isInteger(options.resp.idleTimeoutMs) && options.resp.idleTimeoutMs >= 0)) {
    throw new QueueError('INVALID_ARGUMENT', `resp.idleTimeoutMs must be an integer >= 0 (0: never), got ${String(options.resp.idleTimeoutMs)}`);
  }
  positive(options.maxBodyBytesInFlight, 'maxBodyBytesInFlight');
  const bodyBudget = new BodyBudget(options.maxBodyBytesInFlight ?? DEFAULT_MAX_BODY_BYTES_IN_FLIGHT);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (bodyBudget.limit < maxBodyBytes) {
    throw new QueueError('INVALID_ARGUMENT', `maxBodyBytesInFlight (${bodyBudget.limit}) must be at least maxBodyBytes (${maxBodyBytes}): a body of the largest size must fit`);
  }
  const tls = loadTls(options.tlsCert, options.tlsKey);
  if (options.connectionGraceMs !== undefined && !(Number.isInteger(options.connectionGraceMs) && options.connectionGraceMs >= 0)) {
    throw new QueueError('INVALID_ARGUMENT', `connectionGraceMs must be an integer >= 0, got ${String(options.connectionGraceMs)}`);
  }
  if (options.token !== undefined && options.token.trim() === '') throw new QueueError('INVALID_ARGUMENT', 'the token must not be empty');
  if (options.readToken !== undefined) {
    if (options.readToken.trim() === '') throw new QueueError('INVALID_ARGUMENT', 'the read-only token must not be empty');
    if (options.token === undefined) throw new QueueError('INVALID_ARGUMENT', 'a read-only token needs a token too (without one everything is open to everyone)');
    if (options.readToken === options.token) throw new QueueError('INVALID_ARGUMENT', 'the read-only token must differ from the token');
  }
  const leaseMs = options.leaseMs ?? DEFAULT_BROKER_LEASE_MS;
  const leaderProbeMs = options.leaderProbeMs ?? DEFAULT_LEADER_PROBE_MS;
  const log = options.log ?? (() => {});
  const onError = options.onError ?? (() => {});

  const storeOption = options.store ?? DEFAULT_STORE;
  const store = typeof storeOption === 'string' ? await openStore(storeOption) : storeOption;
  const ownsStore = typeof storeOption === 'string';
  const ops = createObservability({ store, logger: options.logger, token: options.token, readToken: options.readToken, slowCommitMs: options.slowCommitMs });

  let handler: HttpHandler | null = null;
  let connect: ConnectHandler | null = null;
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const headersTimeoutMs = options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const connectionLimits = {
    headersTimeoutMs,
    maxPerAddress: options.maxConnectionsPerAddress ?? defaultPerAddress(maxConnections),
    onRejected: (reason: ConnectionRejectReason, address: string | undefined) => ops.connectionRejected('http', reason, address),
  };
  const server = createServer(httpTimeouts(headersTimeoutMs), (req, res) => {
    // gRPC-Web and Connect calls (bucketq.v1.Queue/*): one prefix test, the JSON routes pay nothing more.
    if (connect && req.url!.startsWith(CONNECT_PATH_PREFIX)) return connect(req, res);
    if (ops.serves(req.url!)) return ops.handle(req, res); // GET /metrics, /readyz (ops-http.ts)
    if (handler) return handler(req, res);
    res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
    res.end(JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'the broker is starting' } }));
  });
  answerClientErrors(server, connectionLimits.onRejected);
  // gRPC needs HTTP/2: cleartext HTTP/2 (prior knowledge) on the same port, told apart by its
  // preface (h2c.ts). It serves the RPC methods only; the JSON routes stay HTTP/1.1.
  const server2 = createHttp2Server((req, res) => {
    if (connect && req.url.startsWith(CONNECT_PATH_PREFIX)) return connect(req, res);
    const json = JSON.stringify({ error: { code: connect ? 'NOT_FOUND' : 'UNAVAILABLE', message: connect ? 'HTTP/2 serves the bucketq.v1.Queue methods only; use HTTP/1.1 for the JSON API' : 'the broker is starting' } });
    res.writeHead(connect ? 404 : 503, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  });
  // With TLS, ALPN chooses the protocol and one secure server serves every route on both (tls.ts).
  const dual = tls
    ? createTlsServer(tls, (req, res) => {
        if (connect && req.url!.startsWith(CONNECT_PATH_PREFIX)) return connect(req, res);
        if (ops.serves(req.url!)) return ops.handle(req as IncomingMessage, res as ServerResponse);
        if (handler) return handler(req as IncomingMessage, res as ServerResponse);
        res.writeHead(503, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'the broker is starting' } }));
      }, connectionLimits)
    : createDualServer(server, server2, connectionLimits);
  if (tls) answerClientErrors(dual.front, connectionLimits.onRejected); // its HTTP/1.1 connections, as on the cleartext port
  // Past the limit node closes new connections at once (server 'drop' event): no request is read from them.
  dual.front.maxConnections = maxConnections;

  let port: number;
  try {
    port = await listen(dual.front, address.host, address.port);
  } catch (err) {
    if (ownsStore) await store.close();
    throw err;
  }
  const scheme = (u: string) => (tls ? u.replace(/^http:/, 'https:') : u);
  const url = scheme(listenUrl(address, port));
  const advertised = options.advertise !== undefined ? advertiseUrl(address, port, options.advertise) : scheme(advertiseUrl(address, port));

  const broker = new Broker({
    ...options.brokerOptions,
    store: ops.store,
    ...(options.id !== undefined ? { id: options.id } : {}),
    url: advertised,
    leaseMs,
    standby: 'reject',
    ...(options.limits ? { limits: options.limits } : {}),
  });
  ops.attach(broker);
  broker.events.on('leader', (e) => log(`leading topic ${e.topic} (epoch ${e.epoch})`));
  broker.events.on('fenced', (e) =>
    log(`lost topic ${e.topic} to broker ${e.leader?.id ?? '?'}${e.leader?.url ? ` at ${e.leader.url}` : ''}`),
  );
  broker.events.on('state-lost', (e) => {
    log(`state of topic ${e.topic} lost: ${e.error.message}`);
    onError(e.error, `topic ${e.topic}: state lost`);
  });
  broker.events.on('segment-lost', (e) => {
    log(`segment ${e.key} of topic ${e.topic} lost: ${e.error.message}`);
    onError(e.error, `topic ${e.topic}: segment lost`);
  });
  broker.events.on('state-reset', (e) => log(`topic ${e.topic} serving again (${e.action}, commit ${e.seq})`));
  broker.events.on('internal-error', (e) => {
    if (!isQueueError(e.error, 'CLOSED')) onError(e.error, `topic ${e.topic}: ${e.op}`);
  });
  const reportError = (err: unknown, context: string) => {
    ops.logError(err, context);
    onError(err, context);
  };

  handler = createHttpHandler(broker, {
    token: options.token,
    readToken: options.readToken,
    dashboardDir: options.dashboardDir,
    maxBodyBytes,
    bodyBudget,
    onError: (err, req) => reportError(err, `${req.method} ${req.url}`),
    onAnswered: ops.httpAnswered,
    info: { startedAt: Date.now(), store: typeof storeOption === 'string' ? storeForDisplay(storeOption) : `${store.name} (a driver passed in)` },
    ...(options.brokerOptions?.clock ? { stats: { clock: options.brokerOptions.clock } } : {}),
  });
  const http = handler;
  connect = createConnectHandler(broker, {
    token: options.token,
    readToken: options.readToken,
    maxBodyBytes,
    bodyBudget,
    onError: (err, procedure) => reportError(err, `rpc ${procedure}`),
  });
  const rpc = connect;
  let resp: RespServer | null = null;
  let respUrl: string | null = null;
  if (respAddress) {
    resp = createRespServer(broker, {
      ...options.resp,
      bodyBudget,
      token: options.token,
      readToken: options.readToken,
      ...(tls ? { tls } : {}),
      ...(options.brokerOptions?.clock ? { clock: options.brokerOptions.clock } : {}),
      onError: (err, command) => reportError(err, `RESP ${command}`),
      onRejected: (reason, address) => ops.connectionRejected('resp', reason, address),
    });
    try {
      const respPort = await resp.listen(respAddress.host, respAddress.port);
      respUrl = listenUrl(respAddress, respPort).replace(/^http:/, tls ? 'rediss:' : 'redis:');
    } catch (err) {
      dual.front.close();
      await broker.stop();
      if (ownsStore) await store.close();
      throw err;
    }
  }
  let metricsUrl: string | null = null;
  if (metricsAddress) {
    try {
      metricsUrl = await ops.listenMetrics(metricsAddress);
    } catch (err) {
      dual.front.close();
      await resp?.close();
      await broker.stop();
      if (ownsStore) await store.close();
      throw err;
    }
  }
  const watcher: StandbyWatcher = startStandbyWatcher(broker, {
    intervalMs: options.standbyCheckMs ?? Math.max(1, Math.round(leaseMs / 3)),
    onError: (err, topic) => reportError(err, topic === null ? 'standby watcher: listing topics' : `standby watcher: topic ${topic}`),
    ...(leaderProbeMs > 0 ? { probe: { intervalMs: leaderProbeMs, ownUrl: advertised } } : {}),
    onLeaderGone: (leader, topics) =>
      ops.logger.warn({ event: 'leader-gone', leader, topics }, `broker ${leader.id} at ${leader.url} refuses connections: taking over its ${topics.length === 1 ? 'topic' : `${topics.length} topics`} before its lease runs out`),
  });
  ops.logger.info(
    { event: 'started', broker: broker.id, url, advertise: advertised, store: typeof storeOption === 'string' ? storeForDisplay(storeOption) : store.name, leaseMs, resp: respUrl, metrics: metricsUrl, tls: tls !== null },
    'broker started',
  );

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      ops.draining();
      ops.logger.info({ event: 'draining', broker: broker.id, inFlight: http.inFlight + rpc.inFlight }, 'broker draining');
      http.drain();
      rpc.drain();
      dual.drain();
      resp?.drain();
      // Stop listening but leave open connections alone (http.Server#close would also close the
      // idle ones, see the module comment); resolves once every connection has closed. Not before
      // the leases are released: a standby probing this URL takes a refusal for a dead broker
      // (server/leader-probe.ts). Until then new connections get 503, like requests on open ones.
      let connectionsClosed: Promise<void> | null = null;
      const stopListening = (): Promise<void> => (connectionsClosed ??= new Promise<void>((resolve) => dual.front.close(() => resolve())));
      await watcher.stop();
      try {
        await broker.stop();
        void stopListening();
        ops.stopped();
        await http.idle();
        await rpc.idle();
        await resp?.idle();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([stopListening(), new Promise<void>((resolve) => (timer = setTimeout(resolve, options.connectionGraceMs ?? 0)))]);
        clearTimeout(timer);
      } finally {
        server.close(); // clears http's own timers; nothing listens any more
        server.closeAllConnections(); // every answer is out; what is left is idle or half-sent requests
        dual.destroy();
        await stopListening();
        await resp?.close(); // every reply is out (idle() above): end the RESP connections
        if (ownsStore) await store.close();
        await ops.close(); // the metrics-only port last: it shows the drain to the end
        ops.logger.info({ event: 'stopped', broker: broker.id }, 'broker stopped');
      }
    })();
    return closing;
  };

  return {
    url,
    advertiseUrl: advertised,
    respUrl,
    metricsUrl,
    broker,
    metrics: ops.registry,
    get inFlight() {
      return http.inFlight + rpc.inFlight;
    },
    watcher,
    close,
  };
}
