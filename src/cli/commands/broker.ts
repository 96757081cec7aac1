/** `bucketq broker`: runs a network broker until SIGTERM or SIGINT, then drains. */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { DEFAULT_RECENT } from '../../core/recent.js';
import { DEFAULT_LIMITS } from '../../protocol.js';
import { DEFAULT_LIMITS as BACKLOG_DEFAULTS, type BacklogLimits } from '../../core/segments/manifest.js';
import { checkBacklogLimits, parseBacklogSpec } from '../../core/segments/limits-spec.js';
import { DEFAULT_LISTEN, isUnspecifiedHost, parseListen } from '../../server/address.js';
import { tokenFrom } from '../token-source.js';
import { DEFAULT_BROKER_LEASE_MS, DEFAULT_LEADER_PROBE_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_STORE, startBrokerServer, type BrokerServer, type BrokerServerOptions } from '../../server/broker-server.js';
import { DEFAULT_MAX_BODY_BYTES } from '../../transports/http/index.js';
import { RESP_DEFAULTS } from '../../transports/resp/index.js';
import { DEFAULT_HEADERS_TIMEOUT_MS } from '../../server/h2c.js';
import { DEFAULT_MAX_BODY_BYTES_IN_FLIGHT } from '../../transports/shared/index.js';
import { LOG_LEVELS, parseLogLevel } from '../../server/logger.js';
import { DEFAULT_DASHBOARD_DIR } from '../../transports/http/index.js';
import { createBrokerOutput, logFormatOf } from '../broker-output.js';
import { durationFlag, intFlag, parseFlags, sizeFlag } from '../args.js';
import { defineCommand, UsageError } from '../command.js';
import { brokerTestHooks } from '../test-hooks.js';
import { openStore } from '../../storage/open.js';
import type { StorageDriver } from '../../storage/types.js';

const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
/** How long a drain waits for clients to close their idle keep-alive connections (they do within 5 s). */
const CONNECTION_GRACE_MS = 6000;
const MiB = 1024 * 1024;

const usage = `NAME
    bucketq broker - run a network broker

SYNOPSIS
    bucketq broker [--store URL] [--listen HOST:PORT] [--advertise URL] [--token TOKEN]
                   [--resp-listen HOST:PORT] [--tls-cert FILE --tls-key FILE] [options]

DESCRIPTION
    Serves the HTTP API (docs/http-api.md) for every topic of one store. Each request is
    group-committed into one conditional write of the topic's queue.json and answered only after
    that write has landed.

    The same port serves bucketq.v1.Queue (proto/bucketq/v1/queue.proto) over gRPC (cleartext
    HTTP/2), gRPC-Web and Connect, with the same --token as "authorization" metadata. See
    docs/grpc.md.

    And the dashboard, a web console for people: open the URL itself in a browser
    (http://127.0.0.1:8080/ by default). It shows every topic's backlog, throughput and
    failures live, lists and searches jobs, and pushes, retries, cancels and pauses. With
    --token it asks for the token once (a session cookie); with --read-token a second token may
    look and change nothing. It is served from dist/dashboard (npm start and npm run build
    build it; a published package ships it).

    Several brokers may point at one store. Each topic is led by one of them, whose lease is
    written in the topic's queue.json; the others stand by, answer requests for that topic with
    503 NOT_LEADER and the leader's advertised URL, and take the topic over when the lease is
    released or goes stale. A standby checks every topic it does not lead every third of a lease,
    so it takes over a dead leader's topics even when no client talks to it.

    Every --…-ms flag takes a duration: a bare number of milliseconds, or a number with a unit
    (500ms, 10s, 2m, 1h), as every duration flag of bucketq does (docs/cli.md).

    On startup it prints, on a terminal:
        bucketq broker ID listening on URL (advertise URL, store URL, auth token|none)
        dashboard: URL/
    (after "redis protocol on URL" and "metrics on URL" with --resp-listen, --metrics-listen).
    Into a pipe (--log-format json) the first line is the JSON record of "event": "listening",
    with the same text as "msg" and url, advertise, store, auth, resp, metrics and dashboard as
    fields.

OPTIONS
    --store URL
        The store (default ${DEFAULT_STORE}). memory:// (this process only), file:PATH, with
        optional fault-injection parameters, e.g. file:./data?latency=50.

    --listen HOST:PORT
        The address to listen on (default ${DEFAULT_LISTEN}); [IPV6]:PORT for IPv6; port 0 picks
        a free port (the startup line shows which).

    --advertise URL
        The URL other brokers send clients to when this broker leads a topic, written into its
        leases. Default: http://HOST:PORT of --listen. Required when listening on 0.0.0.0 or ::,
        which no client can reach.

    --token TOKEN
        Require "Authorization: Bearer TOKEN" on every route except /healthz and /readyz. Default: the
        BUCKETQ_TOKEN environment variable; prefer it, or --token-file, as arguments are visible to
        other users.

    --token-file PATH
        Read the token from a file holding it alone (one trailing newline is dropped): a
        Kubernetes or Docker secret mounted as a file, systemd's LoadCredential=. Default: the
        BUCKETQ_TOKEN_FILE environment variable. --read-token-file reads the read-only token.
        Read once at startup: a rotated secret takes a restart.

    --read-token TOKEN
        A second token that may only look: GET routes, the events and stats streams and the
        dashboard's views over HTTP; any change answers 403 PERMISSION_DENIED. Needs --token and
        must differ from it. Default: the BUCKETQ_READ_TOKEN environment variable. Over gRPC and
        Connect it may call Get, Stats and ListTopics (others: PERMISSION_DENIED); on the Redis
        port, after AUTH with it, the commands that change nothing (LLEN, XLEN, XINFO, XPENDING,
        INFO, PING, ...; others: -NOPERM).

    --tls-cert FILE, --tls-key FILE
        Serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN: the JSON API, events, gRPC, gRPC-Web, Connect)
        on --listen and TLS on --resp-listen, with this PEM certificate (chain) and private key.
        Both or neither. The default advertised URL becomes https://HOST:PORT. Clients that do not
        trust the issuer take --ca FILE (or NODE_EXTRA_CA_CERTS). The files are read once.

    --max-connections N
        Open connections on --listen at most (default ${DEFAULT_MAX_CONNECTIONS}); further ones are closed at once.

    --max-connections-per-address N
        Open connections on --listen from one client address at most (default: half of
        --max-connections), so one client can never take every slot, /healthz included; further
        ones are closed at once. Behind a proxy or NAT clients share an address: raise it.

    --headers-timeout-ms N
        Time from connecting to a complete request head on --listen (default ${DEFAULT_HEADERS_TIMEOUT_MS}): a connection
        that sends nothing, sends its headers slowly, does not finish its TLS handshake or opens an
        HTTP/2 session without a request is cut then (a started HTTP/1.1 head gets a 408). Each
        later request on a kept-alive connection has as long for its head. Long polls and request
        bodies are not affected.

    --resp-listen HOST:PORT
        Also speak the Redis protocol (RESP2, RESP3 after HELLO 3) there; off by default. Keys
        are topics: LPUSH/RPOP are an at-most-once queue, XADD/XREADGROUP/XACK an at-least-once
        one. The same --token is required with AUTH. See docs/redis.md.

    --resp-lease-ms N
        Lease of a job handed out by XREADGROUP (default 30000): unacked past it, the job is
        delivered again.

    --resp-max-pipeline N, --resp-max-clients N
        Replies pending on one connection (default 10000) and open connections (default 1000);
        a client past a limit gets an error and is disconnected.

    --resp-max-clients-per-address N
        Open connections on --resp-listen from one client address at most (default: half of
        --resp-max-clients); past it: "-ERR max number of clients reached for this address".

    --resp-auth-timeout-ms N
        With a token, a connection that has not sent a valid AUTH this long after connecting gets
        -NOAUTH and is closed (default ${RESP_DEFAULTS.authTimeoutMs}). With TLS the handshake has as long, token or not.

    --resp-max-unauthenticated N
        With a token, connections waiting to authenticate at most (default: a tenth of
        --resp-max-clients). A new connection past it, or past --resp-max-clients while any
        connection is unauthenticated, closes the one that has waited longest instead of being
        refused, so strangers can never crowd out clients that have the token.

    --resp-idle-timeout-ms N
        A connection that sends nothing this long, with no command running, is closed without a
        reply, as Redis's "timeout" does (default ${RESP_DEFAULTS.idleTimeoutMs}; 0: never). A waiting BLPOP or
        XREADGROUP BLOCK is not idle. Clients such as ioredis reconnect on their own.

    --id ID
        This broker's id in leases and logs (default: random). Must be unique among running
        brokers. Give it a stable one (the pod or host name): restarted under the same id after a
        crash, the broker takes its topics back at once instead of waiting out its old lease.

    --lease-ms N
        Leadership lease per topic (default ${DEFAULT_BROKER_LEASE_MS}). A leader renews it every
        third of it. A leader that is frozen or cut off is replaced after about this long; one
        whose process died sooner (see --leader-probe-ms).

    --standby-check-ms N
        How often a standby looks for topics to take over (default: a third of --lease-ms).

    --leader-probe-ms N
        How often a standby probes the URL each leader advertises, with a TCP connect (default
        ${DEFAULT_LEADER_PROBE_MS}; 0: never). When a URL that accepted this standby's connections
        then refuses two probes in a row (half an interval apart, at most 250 ms), its process is
        taken for dead and its topics are taken over at once instead of after its lease. Turn it
        off where something else may refuse connections on a live leader's address
        (docs/operations.md, "Failover").

    --max-body-bytes SIZE
        Largest request body (default ${DEFAULT_MAX_BODY_BYTES / MiB}MiB); larger gets 413 PAYLOAD_TOO_LARGE.
        Sizes take K, M, G suffixes (powers of 1024).

    --max-body-bytes-in-flight SIZE
        Request-body bytes the broker holds at once, over every wire (HTTP, gRPC/Connect, Redis
        port), from the first byte read until the answer: a push holds its body until its commit
        (default ${DEFAULT_MAX_BODY_BYTES_IN_FLIGHT / MiB}MiB; at least --max-body-bytes). A request that does not fit is refused
        before its body is read: 503 UNAVAILABLE with Retry-After (-UNAVAILABLE on the Redis port),
        which clients retry. Parsing a body costs a few times its size in memory: budget for that.

    --max-payload-bytes SIZE
        Largest job payload as JSON (default ${DEFAULT_LIMITS.maxPayloadBytes / MiB}MiB).

    --max-batch N
        Most jobs in one push and items in one settle (default ${DEFAULT_LIMITS.maxBatch}).

    --max-claim N
        Most jobs in one claim (default ${DEFAULT_LIMITS.maxClaim}).

    --backlog NAME=N,...
        Bounds of each topic's head, for tuning (defaults suit most): windowJobs (${BACKLOG_DEFAULTS.windowJobs}),
        windowBytes (${BACKLOG_DEFAULTS.windowBytes / 1024}K), lowWater (${BACKLOG_DEFAULTS.lowWater}), segmentMaxJobs (${BACKLOG_DEFAULTS.segmentMaxJobs}), segmentMaxBytes
        (${BACKLOG_DEFAULTS.segmentMaxBytes / 1024 / 1024}M) and the others of docs/format.md. Jobs beyond the window wait in
        write-once segment objects; a larger window makes each commit bigger, a smaller one
        reads segments more often. Example: --backlog windowJobs=4096,windowBytes=1M.

    --recent-window-ms N, --recent-max-ids N
        How long, and for how many jobs at most, queue.json remembers the ids of archived jobs
        (default ${DEFAULT_RECENT.windowMs} ms and ${DEFAULT_RECENT.maxIds}, whichever is shorter). A push retried
        with the same id inside that window finds its job instead of adding it again, and a
        replayed ack answers ok. queue.json names the window's archive objects; a broker that
        takes a topic over reads them back, so a longer window costs memory and takeover reads.

    --drain-timeout-ms N
        How long a drain may take before the process gives up and exits 1 (default ${DEFAULT_DRAIN_TIMEOUT_MS}).

    --log-level LEVEL
        Log lines at this level and above: ${LOG_LEVELS.join(', ')} (default info;
        BUCKETQ_LOG_LEVEL). The startup line, leadership and state changes of topics ("leading
        topic T (epoch N)", "lost topic T to broker B"), the drain and errors are printed
        whatever the level: scripts and people wait for them. Tokens are never logged; store URLs
        are logged without credentials. See docs/operations.md.

    --log-format pretty|json
        pretty: human lines only, one per thing that happens (warnings and errors on stderr).
        json: one JSON object per line on stdout and nothing else, for log collectors.
        Default: BUCKETQ_LOG_FORMAT, else pretty when stdout is a terminal and json otherwise.

    --slow-commit-ms N
        Commits that take at least this long are logged at debug level (default 1000).

    --metrics-listen HOST:PORT
        Also serve GET /metrics and GET /readyz there, without a token (for scrapers without
        credentials; bind it to a private address). Off by default; /metrics on the main port
        needs the token. Prints "metrics on URL" at startup.

    -h, --help
        This manual.

ENVIRONMENT
    BUCKETQ_TOKEN    the bearer token, when neither --token nor --token-file is given.
    BUCKETQ_TOKEN_FILE  a file holding it instead (not with BUCKETQ_TOKEN).
    BUCKETQ_READ_TOKEN  the read-only token, when neither --read-token nor --read-token-file is given.
    BUCKETQ_READ_TOKEN_FILE  a file holding it instead.
    BUCKETQ_LOG_LEVEL  the log level, when --log-level is not given.
    BUCKETQ_LOG_FORMAT  pretty or json, when --log-format is not given.

SIGNALS
    SIGTERM, SIGINT
        Drain and exit 0: stop accepting connections and refuse new requests (503 UNAVAILABLE),
        finish the commits in flight and queued, answer every waiting long poll (with no jobs),
        release every topic's lease so a standby takes over at once, give clients up to
        ${CONNECTION_GRACE_MS / 1000} s to close their idle connections (none is cut under a request), close the store.
        A second signal exits at once with status 1.

EXIT STATUS
    0 after a drain; 1 on a failure (e.g. the address is in use); 2 on bad arguments.

EXAMPLES
    bucketq broker
    BUCKETQ_TOKEN=s3cret bucketq broker --store file:/var/lib/bucketq --listen 0.0.0.0:8080 \\
        --advertise http://10.0.0.5:8080
`;

/** The Redis port's whole-number flags (durations end in -ms): flag, option of `resp`, least value. */
const RESP_INT_FLAGS = [
  ['resp-lease-ms', 'streamLeaseMs', 1],
  ['resp-max-pipeline', 'maxPipeline', 1],
  ['resp-max-clients', 'maxConnections', 1],
  ['resp-max-clients-per-address', 'maxConnectionsPerAddress', 1],
  ['resp-auth-timeout-ms', 'authTimeoutMs', 1],
  ['resp-max-unauthenticated', 'maxUnauthenticated', 1],
  ['resp-idle-timeout-ms', 'idleTimeoutMs', 0],
] as const;

/** A `--…-ms` flag: a duration (docs/cli.md), a bare number being milliseconds as the name says. */
function msFlag(value: string | undefined, flag: string, min = 1): number | undefined {
  return durationFlag(value, flag, { min });
}

/** The store URL for logs, without credentials. */
function displayStore(url: string): string {
  return url.replace(/\/\/[^/@?]*@/, '//***@');
}

/** Where the dashboard is, as the startup's "dashboard:" line says it (the listen URL, or the advertised one when listening on every address). */
function dashboardOf(server: BrokerServer, listenHost: string): { url: string | null; line: string } {
  const base = isUnspecifiedHost(listenHost) ? server.advertiseUrl : server.url;
  if (!existsSync(join(DEFAULT_DASHBOARD_DIR, 'index.html'))) {
    return { url: null, line: `dashboard: not built (run npm run build:dashboard; npm start does); ${base}/ answers 503 until then` };
  }
  return { url: `${base}/`, line: `dashboard: ${base}/` };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || (isIP(host) === 4 && host.startsWith('127.')) || host === '::1';
}

export default defineCommand({
  name: 'broker',
  summary: 'run a network broker (HTTP API and the dashboard at its URL) on a store; SIGTERM drains',
  usage,
  async run(argv, env) {
    const { values } = parseFlags(argv, {
      store: { type: 'string' },
      listen: { type: 'string' },
      advertise: { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      'read-token': { type: 'string' },
      'read-token-file': { type: 'string' },
      id: { type: 'string' },
      'lease-ms': { type: 'string' },
      'standby-check-ms': { type: 'string' },
      'leader-probe-ms': { type: 'string' },
      'max-body-bytes': { type: 'string' },
      'max-body-bytes-in-flight': { type: 'string' },
      'max-payload-bytes': { type: 'string' },
      'max-batch': { type: 'string' },
      'max-claim': { type: 'string' },
      backlog: { type: 'string' },
      'drain-timeout-ms': { type: 'string' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      'slow-commit-ms': { type: 'string' },
      'metrics-listen': { type: 'string' },
      'recent-window-ms': { type: 'string' },
      'recent-max-ids': { type: 'string' },
      'resp-listen': { type: 'string' },
      'resp-lease-ms': { type: 'string' },
      'resp-max-pipeline': { type: 'string' },
      'resp-max-clients': { type: 'string' },
      'resp-max-clients-per-address': { type: 'string' },
      'resp-auth-timeout-ms': { type: 'string' },
      'resp-max-unauthenticated': { type: 'string' },
      'resp-idle-timeout-ms': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'max-connections': { type: 'string' },
      'max-connections-per-address': { type: 'string' },
      'headers-timeout-ms': { type: 'string' },
    });
    const store = values.store ?? DEFAULT_STORE;
    const listen = values.listen ?? DEFAULT_LISTEN;
    const token = tokenFrom({ flag: 'token', value: values.token, file: values['token-file'], env });
    if (token !== undefined && token.trim() === '') throw new UsageError('--token must not be empty');
    const readToken = tokenFrom({ flag: 'read-token', value: values['read-token'], file: values['read-token-file'], env });
    if (readToken !== undefined) {
      if (readToken.trim() === '') throw new UsageError('--read-token must not be empty');
      if (token === undefined) throw new UsageError('--read-token needs --token (or --token-file, BUCKETQ_TOKEN): without one everything is open');
      if (readToken === token) throw new UsageError('--read-token must differ from --token');
    }
    if (values.id !== undefined && values.id.trim() === '') throw new UsageError('--id must not be empty');
    const limits: Record<string, number> = {};
    const maxPayload = sizeFlag(values['max-payload-bytes'], 'max-payload-bytes');
    if (maxPayload !== undefined) limits.maxPayloadBytes = maxPayload;
    const maxBatch = intFlag(values['max-batch'], 'max-batch');
    if (maxBatch !== undefined) limits.maxBatch = maxBatch;
    const maxClaim = intFlag(values['max-claim'], 'max-claim');
    if (maxClaim !== undefined) limits.maxClaim = maxClaim;
    let backlog: Partial<BacklogLimits> | undefined;
    if (values.backlog !== undefined) {
      try {
        backlog = parseBacklogSpec(values.backlog);
        checkBacklogLimits(backlog);
      } catch (e) {
        throw new UsageError(`--backlog: ${(e as Error).message}`);
      }
    }
    const recent: { windowMs?: number; maxIds?: number } = {};
    const recentWindowMs = msFlag(values['recent-window-ms'], 'recent-window-ms', 0);
    if (recentWindowMs !== undefined) recent.windowMs = recentWindowMs;
    const recentMaxIds = intFlag(values['recent-max-ids'], 'recent-max-ids', 0);
    if (recentMaxIds !== undefined) recent.maxIds = recentMaxIds;
    const resp: NonNullable<BrokerServerOptions['resp']> = {};
    for (const [flag, option, min] of RESP_INT_FLAGS) {
      const n = flag.endsWith('-ms') ? msFlag(values[flag], flag, min) : intFlag(values[flag], flag, min);
      if (n !== undefined) resp[option] = n;
    }
    if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
    const maxConnections = intFlag(values['max-connections'], 'max-connections');
    const maxConnectionsPerAddress = intFlag(values['max-connections-per-address'], 'max-connections-per-address');
    const headersTimeoutMs = msFlag(values['headers-timeout-ms'], 'headers-timeout-ms');
    const maxBodyBytes = sizeFlag(values['max-body-bytes'], 'max-body-bytes');
    const maxBodyBytesInFlight = sizeFlag(values['max-body-bytes-in-flight'], 'max-body-bytes-in-flight');
    if ((maxBodyBytesInFlight ?? DEFAULT_MAX_BODY_BYTES_IN_FLIGHT) < (maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES)) {
      throw new UsageError(`--max-body-bytes-in-flight must be at least --max-body-bytes (${maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES} bytes): a body of the largest size must fit`);
    }
    const drainTimeoutMs = msFlag(values['drain-timeout-ms'], 'drain-timeout-ms') ?? DEFAULT_DRAIN_TIMEOUT_MS;
    const levelText = values['log-level'] ?? (env.BUCKETQ_LOG_LEVEL ? env.BUCKETQ_LOG_LEVEL : 'info');
    let logLevel;
    try {
      logLevel = parseLogLevel(levelText, values['log-level'] !== undefined ? '--log-level' : 'BUCKETQ_LOG_LEVEL');
    } catch (e) {
      throw new UsageError((e as Error).message);
    }

    const output = createBrokerOutput(logFormatOf(values['log-format'], env, process.stdout.isTTY === true), logLevel);
    const hooks = brokerTestHooks(env); // process tests only (test-hooks.ts); none set: no change

    // Signals are caught from the start: one that arrives while starting drains right after.
    let signalled!: (s: NodeJS.Signals) => void;
    const signal = new Promise<NodeJS.Signals>((resolve) => (signalled = resolve));
    const onSignal = (s: NodeJS.Signals) => signalled(s);
    process.on('SIGTERM', onSignal).on('SIGINT', onSignal);


    let server: BrokerServer;
    // A hook that wraps the store opens it here, and closes it after the server (which owns only a store it opened).
    let hookedStore: StorageDriver | undefined;
    try {
      if (hooks.wrapStore) hookedStore = hooks.wrapStore(await openStore(store));
      server = await startBrokerServer({
        store: hookedStore ?? store,
        listen,
        ...(values.advertise !== undefined ? { advertise: values.advertise } : {}),
        ...(token !== undefined ? { token } : {}),
        ...(readToken !== undefined ? { readToken } : {}),
        ...(values.id !== undefined ? { id: values.id } : {}),
        ...(values['lease-ms'] !== undefined ? { leaseMs: msFlag(values['lease-ms'], 'lease-ms')! } : {}),
        ...(values['standby-check-ms'] !== undefined ? { standbyCheckMs: msFlag(values['standby-check-ms'], 'standby-check-ms')! } : {}),
        ...(values['leader-probe-ms'] !== undefined ? { leaderProbeMs: msFlag(values['leader-probe-ms'], 'leader-probe-ms', 0)! } : {}),
        ...(maxBodyBytes !== undefined ? { maxBodyBytes } : {}),
        ...(maxBodyBytesInFlight !== undefined ? { maxBodyBytesInFlight } : {}),
        ...(values['resp-listen'] !== undefined ? { respListen: values['resp-listen'], resp } : {}),
        ...(values['tls-cert'] !== undefined && values['tls-key'] !== undefined ? { tlsCert: values['tls-cert'], tlsKey: values['tls-key'] } : {}),
        ...(maxConnections !== undefined ? { maxConnections } : {}),
        ...(maxConnectionsPerAddress !== undefined ? { maxConnectionsPerAddress } : {}),
        ...(headersTimeoutMs !== undefined ? { headersTimeoutMs } : {}),
        limits,
        brokerOptions: { recent, ...(backlog ? { backlog } : {}), ...hooks.brokerOptions },
        connectionGraceMs: Math.min(CONNECTION_GRACE_MS, Math.floor(drainTimeoutMs / 2)),
        // Leadership, state changes and errors come back as log records (broker-output.ts), one line each.
        logger: output.logger,
        ...(values['metrics-listen'] !== undefined ? { metricsListen: values['metrics-listen'] } : {}),
        ...(values['slow-commit-ms'] !== undefined ? { slowCommitMs: msFlag(values['slow-commit-ms'], 'slow-commit-ms', 0)! } : {}),
      });
    } catch (e) {
      process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
      await hookedStore?.close();
      throw e;
    }

    const auth = token !== undefined ? (readToken !== undefined ? 'token + read-only token' : 'token') : 'none';
    const tls = values['tls-cert'] !== undefined;
    const dashboard = dashboardOf(server, parseListen(listen).host);
    output.say(
      'listening',
      { broker: server.broker.id, url: server.url, advertise: server.advertiseUrl, store: displayStore(store), auth, tls, resp: server.respUrl ?? null, metrics: server.metricsUrl ?? null, dashboard: dashboard.url },
      `bucketq broker ${server.broker.id} listening on ${server.url} (advertise ${server.advertiseUrl}, store ${displayStore(store)}, auth ${auth}${tls ? ', tls' : ''})`,
    );
    if (output.format === 'pretty') {
      if (server.respUrl) output.say('resp', {}, `redis protocol on ${server.respUrl}`);
      if (server.metricsUrl) output.say('metrics', {}, `metrics on ${server.metricsUrl}`);
      output.say('dashboard', {}, dashboard.line);
    }
    output.flushHeld();
    for (const [address, url] of [[listen, server.url], [values['resp-listen'], server.respUrl]] as const) {
      if (token === undefined && address !== undefined && url && !isLoopback(parseListen(address).host)) {
        output.say('no-token', { url }, `warning: no token: anyone who can reach ${url} can use this broker (set BUCKETQ_TOKEN)`, { level: 'warn', stderr: true });
      }
    }

    const received = await signal;
    process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
    const now = (s: NodeJS.Signals) => {
      output.say('exit', { signal: s }, `${s} again: exiting without finishing the drain`, { level: 'warn', stderr: true });
      process.exit(1);
    };
    process.once('SIGTERM', now).once('SIGINT', now);
    // In JSON the server's "draining" and "stopped" records say it.
    output.say('signal', { signal: received }, `${received}: draining (refusing new requests, finishing commits, releasing leadership)`, { json: false });
    const timer = setTimeout(() => {
      output.say('exit', { reason: 'drain-timeout', ms: drainTimeoutMs }, `the drain took longer than ${drainTimeoutMs} ms; exiting`, { level: 'error', stderr: true });
      process.exit(1);
    }, drainTimeoutMs);
    try {
      await server.close();
      await hookedStore?.close();
    } finally {
      clearTimeout(timer);
      process.off('SIGTERM', now).off('SIGINT', now);
    }
    output.say('drained', {}, 'drained: every request answered, leadership released, store closed', { json: false });
    return 0;
  },
});
