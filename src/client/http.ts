/**
 * The fetch layer of the client: one JSON request to one broker, with a per-request timeout and
 * the bearer token, and every failure turned into a {@link QueueError} that says how far the
 * request got (see {@link failureKind}), because that decides what may be retried:
 *
 *   answer     the broker answered with an error body: its code, message and details
 *              (NOT_LEADER carries `details.leader`, the leader's URL, or null)
 *   connect    no connection was made (refused, unknown host, connect timeout): the broker
 *              certainly did nothing; UNAVAILABLE
 *   ambiguous  the request may have reached the broker (reset after sending, no answer in time,
 *              a proxy's 502): it may or may not have taken effect; UNAVAILABLE
 *   aborted    the caller's AbortSignal fired: CLOSED, never retried
 *
 * Connections are kept alive between requests by Node's fetch (undici's global pool), so a busy
 * client pays one TCP handshake per broker, not one per call.
 */
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
  'CORRUPT_STATE',
  'CLOSED',
  'STORE_CONFLICT',
  'STORE_AMBIGUOUS',
  'STORE_UNAVAILABLE',
  'INTERNAL',
]);

/** Socket error codes raised before a request could be sent. */
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Broker base URL, e.g. `http://10.0.0.5:8080` (no trailing slash). */
  base: string;
  /** Path with its leading slash, segments already encoded. */
  path: string;
  body?: unknown;
  token?: string | undefined;
  /** The whole request, answer included, must finish within this long. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/** Sends one request and resolves with the parsed JSON of a 2xx answer; see the module comment for failures. */
export async function httpRequest<R>(req: HttpRequest): Promise<R> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (req.token !== undefined) headers.authorization = `Bearer ${req.token}`;
  let body: string | undefined;
  if (req.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(req.body);
  }
  const url = req.base + req.path;
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  const where = `${req.method} ${url}`;
  let status: number;
  let text: string;
  try {
    const res = await fetch(url, { method: req.method, headers, signal, ...(body !== undefined ? { body } : {}) });
    status = res.status;
    text = await res.text();
  } catch (err) {
    if (req.signal?.aborted) throw failure('aborted', new QueueError('CLOSED', 'request aborted by the caller', { cause: err }));
    if (timeout.aborted) {
      throw failure('ambiguous', new QueueError('UNAVAILABLE', `${where}: no answer within ${req.timeoutMs} ms`, { cause: err, details: { url: req.base } }));
    }
    const code = socketCode(err);
    if (code === undefined && /bad port/i.test(String((err as { cause?: { message?: unknown } })?.cause?.message))) {
      throw failure('answer', new QueueError('INVALID_ARGUMENT', `${where}: fetch refuses to connect to this port (one of the ports browsers block)`, { cause: err }));
    }
    const kind = code !== undefined && CONNECT_CODES.has(code) ? 'connect' : 'ambiguous';
    const why = kind === 'connect' ? `cannot connect (${code})` : `connection failed (${code ?? (err as Error)?.message ?? String(err)})`;
    throw failure(kind, new QueueError('UNAVAILABLE', `${where}: ${why}`, { cause: err, details: { url: req.base } }));
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
  const known = KNOWN_CODES.has(code as ErrorCode);
  throw failure(
    'answer',
    new QueueError(known ? (code as ErrorCode) : 'INTERNAL', typeof message === 'string' ? message : `${where} failed with ${code}`, {
      details: known ? details : { ...details, code },
    }),
  );
}

/** The socket error code behind a fetch failure (`fetch failed` wraps it in `cause`). */
function socketCode(err: unknown): string | undefined {
  let e = err as { code?: unknown; cause?: unknown; errors?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === 'string') return e.code;
    if (Array.isArray(e.errors)) {
      const inner = (e.errors as Array<{ code?: unknown }>).find((x) => typeof x?.code === 'string');
      if (inner) return inner.code as string;
    }
    e = e.cause as typeof e;
  }
  return undefined;
}
