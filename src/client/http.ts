/**
 * The fetch layer of the client: one JSON request to one broker, with a per-request timeout and
 * the bearer token, and every failure turned into a {@link QueueError} that says how far the
 * request got (see {@link failureKind}), because that decides what may be retried:
 *
 *   answer     the broker answered with an error body: its code, message and details
 *              (NOT_LEADER carries `details.leader`, the leader's URL, or null; an answer with
 *              Retry-After, as an overloaded broker's 503, carries `details.retryAfterMs`)
 *   connect    no connection was made (refused, unknown host, connect timeout): the broker
 *              certainly did nothing; UNAVAILABLE
 *   ambiguous  the request may have reached the broker (reset after sending, no answer in time,
 *              a proxy's 502): it may or may not have taken effect; UNAVAILABLE
 *   aborted    the caller's AbortSignal fired: CLOSED, never retried
 *
 * Connections are kept alive between requests (one node:http agent per scheme, shared in the
 * process), so a busy client pays one TCP handshake per broker and concurrent call, not one per call.
 */
import http from 'node:http';
import https from 'node:https';
import { QueueError, type ErrorCode } from '../errors.js';

export type FailureKind = 'answer' | 'connect' | 'ambiguous' | 'aborted';

const kinds = new WeakMap<QueueError, FailureKind>();

/** How far the failed request got; errors not made here count as answers. */
export function failureKind(err: unknown): FailureKind {
  return (err instanceof QueueError && kinds.get(err)) || 'answer';
}

function failure(kind: FailureKind, error: QueueError): QueueError {
  kinds.set(error, kind);
  return error;
}

const KNOWN_CODES = new Set<ErrorCode>([
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'FAILED_PRECONDITION',
  'LEASE_LOST',
  'NOT_LEADER',
  'UNAVAILABLE',
  'PAYLOAD_TOO_LARGE',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'CORRUPT_STATE',
  'STATE_LOST',
  'CLOSED',
  'STORE_CONFLICT',
  'STORE_AMBIGUOUS',
  'STORE_UNAVAILABLE',
  'INTERNAL',
]);

/** Socket error codes raised before a request could be sent. */
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ETIMEDOUT']);

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Broker base URL, e.g. `http://10.0.0.5:8080` (no trailing slash). */
  base: string;
  /** Path with its leading slash, segments already encoded. */
  path: string;
  body?: unknown;
  /** The body as JSON text already (sent as is, instead of `body`). */
  json?: string | undefined;
  token?: string | undefined;
  /** PEM CA certificate(s) to trust for https:// brokers instead of the system's (a self-signed broker). */
  ca?: string | undefined;
  /** The whole request, answer included, must finish within this long. */
  timeoutMs: number;
  /** A connection (and TLS handshake) must be made within this long, else a `connect` failure (default: timeoutMs). */
  connectTimeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Keep-alive agents, one per scheme, shared by every client in the process. node:http costs a
 * fraction of fetch's CPU per request (no web streams, no AbortSignal plumbing): on a 2-core
 * machine the producers' and workers' own request overhead was most of the network benchmark's time.
 */
// Idle sockets are dropped after 4 s, before the broker's 5 s keep-alive timeout closes them from
// its side: a request sent on a socket the server is closing would fail as ambiguous.
const AGENT_OPTIONS = { keepAlive: true, maxSockets: 256, scheduling: 'lifo', timeout: 4_000 } as const;
const agents = { 'http:': new http.Agent(AGENT_OPTIONS), 'https:': new https.Agent(AGENT_OPTIONS) };
/** HTTPS agents with a CA of their own, one per distinct CA (a process talks to few clusters). */
const caAgents = new Map<string, https.Agent>();

function agentFor(url: URL, ca: string | undefined): http.Agent {
  if (url.protocol !== 'https:') return agents['http:'];
  if (ca === undefined) return agents['https:']; // system CAs, plus NODE_EXTRA_CA_CERTS
  let agent = caAgents.get(ca);
  if (!agent) caAgents.set(ca, (agent = new https.Agent({ ...AGENT_OPTIONS, ca })));
  return agent;
}

interface RawAnswer {
  status: number;
  text: string;
  /** The Retry-After header, when the answer had one. */
  retryAfter?: string;
}

/** Retry-After in ms: delay-seconds, or an HTTP date (RFC 9110, 10.2.3); undefined when it is neither. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    const ms = Number(v) * 1000;
    return Number.isFinite(ms) ? ms : undefined;
  }
  // A date: IMF-fixdate, or the obsolete RFC 850 and asctime forms a recipient must still accept (all begin with a day name).
  if (!/^[A-Za-z]{3}/.test(v)) return undefined;
  const at = Date.parse(/ GMT$/.test(v) ? v : `${v} GMT`); // asctime has no zone, and means GMT
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

class RequestFailure extends Error {
  constructor(
    readonly kind: 'connect' | 'ambiguous' | 'timeout' | 'aborted' | 'invalid',
    readonly code: string | undefined,
    cause?: unknown,
  ) {
    super(code ?? kind, cause === undefined ? undefined : { cause });
  }
}

/** One HTTP exchange; rejects with a RequestFailure that says whether the socket ever connected. */
function exchange(url: URL, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number, connectTimeoutMs: number, signal: AbortSignal | undefined, ca: string | undefined): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : http;
    const agent = agentFor(url, ca);
    let connected = false;
    let settled = false;
    const finish = (err: RequestFailure | null, answer?: RawAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(connectTimer);
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(answer!);
    };
    let req: http.ClientRequest;
    try {
      req = lib.request(url, { method, headers, agent }, onResponse);
    } catch (err) {
      // Refused before anything was sent (a header value node will not send, say): not retryable.
      return reject(new RequestFailure('invalid', errCode(err), err));
    }
    function onResponse(res: http.IncomingMessage): void {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const retryAfter = res.headers['retry-after'];
      res.on('end', () => finish(null, { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), ...(retryAfter !== undefined ? { retryAfter } : {}) }));
      res.on('error', (err) => finish(new RequestFailure('ambiguous', errCode(err), err)));
      res.on('aborted', () => finish(new RequestFailure('ambiguous', 'ECONNRESET')));
    }
    const onAbort = () => finish(new RequestFailure('aborted', undefined, signal?.reason));
    const timer = setTimeout(() => finish(new RequestFailure(connected ? 'timeout' : 'connect', connected ? undefined : 'ETIMEDOUT')), timeoutMs);
    const connectTimer = connectTimeoutMs < timeoutMs ? setTimeout(() => !connected && finish(new RequestFailure('connect', 'ETIMEDOUT')), connectTimeoutMs) : undefined;
    req.on('socket', (socket) => {
      // A reused keep-alive socket is connected already; a new one reports when it is (over TLS:
      // after the handshake, before which nothing of the request was sent).
      if (!socket.connecting && !('encrypted' in socket && socket.encrypted && (socket as { pending?: boolean }).pending)) connected = true;
      else socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => (connected = true));
    });
    req.on('error', (err) => {
      const code = errCode(err);
      const refused = code !== undefined && (CONNECT_CODES.has(code) || isCertificateCode(code));
      finish(new RequestFailure(!connected && refused ? 'connect' : 'ambiguous', code, err));
    });
    if (signal) {
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
    }
    req.end(body);
  });
}

/** The TLS handshake refused the broker's certificate (untrusted issuer, wrong name, expired). */
function isCertificateCode(code: string): boolean {
  return /CERT|SIGNATURE|ISSUER/.test(code);
}

/** OpenSSL's reason ("self-signed certificate"), without the advice Node 24 appends after a ';' (to try --use-system-ca): ours follows. */
function certificateReason(cause: unknown): string | undefined {
  return (cause as Error | undefined)?.message?.split(';')[0];
}

function errCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Sends one request and resolves with the parsed JSON of a 2xx answer; see the module comment for failures. */
export async function httpRequest<R>(req: HttpRequest): Promise<R> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (req.token !== undefined) headers.authorization = `Bearer ${req.token}`;
  const body = req.json ?? (req.body !== undefined ? JSON.stringify(req.body) : undefined);
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  const where = `${req.method} ${req.base}${req.path}`;
  let url: URL;
  try {
    url = new URL(req.base + req.path);
  } catch (err) {
    throw failure('answer', new QueueError('INVALID_ARGUMENT', `${where}: not a valid URL`, { cause: err }));
  }
  let status: number;
  let text: string;
  let retryAfter: string | undefined;
  try {
    ({ status, text, retryAfter } = await exchange(url, req.method, headers, body, req.timeoutMs, req.connectTimeoutMs ?? req.timeoutMs, req.signal, req.ca));
  } catch (err) {
    const f = err as RequestFailure;
    if (f.kind === 'aborted') throw failure('aborted', new QueueError('CLOSED', 'request aborted by the caller', { cause: f.cause }));
    if (f.kind === 'invalid') throw failure('answer', new QueueError('INVALID_ARGUMENT', `${where}: the request cannot be sent (${(f.cause as Error)?.message ?? f.code})`, { cause: f.cause }));
    if (f.kind === 'timeout') {
      throw failure('ambiguous', new QueueError('UNAVAILABLE', `${where}: no answer within ${req.timeoutMs} ms`, { cause: err, details: { url: req.base } }));
    }
    const why =
      f.code !== undefined && isCertificateCode(f.code)
        ? `the broker's TLS certificate is not trusted (${f.code}: ${certificateReason(f.cause)}); give its CA with the ca option or --ca FILE`
        : f.kind === 'connect'
          ? `cannot connect (${f.code})`
          : `connection failed (${f.code ?? (f.cause as Error)?.message ?? 'closed'})`;
    throw failure(f.kind, new QueueError('UNAVAILABLE', `${where}: ${why}`, { cause: f.cause ?? err, details: { url: req.base, ...(f.code !== undefined ? { errno: f.code } : {}) } }));
  }
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (status >= 200 && status < 300) {
    if (parsed === undefined) throw failure('answer', new QueueError('INTERNAL', `${where} answered ${status} with a body that is not JSON`));
    return parsed as R;
  }
  const wire = (parsed as { error?: Record<string, unknown> } | undefined)?.error;
  if (!wire || typeof wire.code !== 'string') {
    // Not a broker's answer (a proxy, a load balancer): a 5xx may not have reached the broker, or may have.
    const snippet = text.slice(0, 120).replace(/\s+/g, ' ').trim();
    const message = `${where} answered ${status}${snippet ? `: ${snippet}` : ''}`;
    if (status >= 500) throw failure('ambiguous', new QueueError('UNAVAILABLE', message, { details: { url: req.base, status } }));
    throw failure('answer', new QueueError(status === 401 ? 'UNAUTHENTICATED' : 'INTERNAL', message, { details: { status } }));
  }
  const { code, message, ...details } = wire;
  const wait = retryAfterMs(retryAfter);
  if (wait !== undefined) details.retryAfterMs = wait;
  const known = KNOWN_CODES.has(code as ErrorCode);
  throw failure(
    'answer',
    new QueueError(known ? (code as ErrorCode) : 'INTERNAL', typeof message === 'string' ? message : `${where} failed with ${code}`, {
      details: known ? details : { ...details, code },
    }),
  );
}
