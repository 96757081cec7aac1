/**
 * Where a client's requests go, and what happens when they fail. A connection knows a seed URL
 * and/or a store; it keeps the URL of the broker that answered last and changes it when told to:
 *
 *   NOT_LEADER naming a URL   switch to that broker at once, no back-off (up to 3 hops in a row;
 *                             after that, as below: two brokers each naming the other means a
 *                             takeover is in progress)
 *   connection refused, reset, timeout, 503 UNAVAILABLE, NOT_LEADER without a URL
 *                             forget the broker, wait (exponential back-off with jitter, and at
 *                             least what an answer's Retry-After asked), ask again: from the
 *                             store (the topic's queue.json names its leader), else the seed URL
 *   anything else             the caller gets the error as it came
 *
 * until `deadlineMs` (default 30 s) has passed since the call began; then the last error is
 * thrown. Which failures a call may be retried after is its {@link RetryPolicy}: a call that is
 * idempotent by construction is retried after any transient failure, one that is not only when
 * the broker certainly did nothing.
 *
 * An error answered to a retry whose earlier try may have landed (no answer in time, a
 * connection cut after sending) says so in its message and carries `details.retried: true`: a
 * replayed ack that finds its job already completed and archived answers LEASE_LOST.
 */
import { retryDelay } from '../core/backoff.js';
import { QueueError, isQueueError } from '../errors.js';
import { lazyStore } from '../lazy-store.js';
import type { StorageDriver } from '../storage/types.js';
import { discoverBroker } from './discovery.js';
import { failureKind, httpRequest, type HttpRequest } from './http.js';

export interface RetryOptions {
  /** Give up retrying a call this long after it began (default 30 000 ms; 0: never retry). */
  deadlineMs?: number;
  /** First back-off (default 100 ms); doubles per failure, half of it drawn at random. */
  baseMs?: number;
  /** Longest back-off (default 2 000 ms). */
  maxMs?: number;
}

export interface ConnectionOptions {
  /** A broker URL: the one to use, or with `store`, the one to fall back on when the store names no broker. */
  url?: string | undefined;
  /** The store the brokers use: each topic's queue.json names its leader. A URL (opened here) or a driver you own. */
  store?: string | StorageDriver | undefined;
  /** Bearer token sent with every request. */
  token?: string | undefined;
  /** PEM CA certificate(s) trusted for https:// brokers (default: the system's, plus NODE_EXTRA_CA_CERTS). */
  ca?: string | undefined;
  /** Per-request timeout (default 10 000 ms); a long-poll claim gets its wait on top. */
  timeoutMs?: number | undefined;
  /**
   * Time to connect to a broker (TCP, and the TLS handshake for https) before the request counts
   * as "no connection" (default: the request timeout).
   */
  connectTimeoutMs?: number | undefined;
  /**
   * Until some broker has answered this connection once, fail a call at once when no connection
   * can be made at all (refused, unknown host, no connection within connectTimeoutMs, an untrusted
   * certificate), instead of retrying until the deadline: the error (UNAVAILABLE, `details.unreachable`)
   * says `no broker at URL (connection refused)`. For command lines and scripts, where nothing
   * running there is the likely cause and waiting only hides it. Once a broker has answered, such
   * failures are retried as usual (a broker restarting, a failover). Default false.
   */
  failFastUnreachable?: boolean | undefined;
  retry?: RetryOptions | undefined;
  /** Called before each back-off with the failure that caused it (logging; tests). */
  onRetry?: ((info: { error: QueueError; failures: number; delayMs: number; url: string | null }) => void) | undefined;
}

/**
 * - `always`: idempotent by construction (pushes carry their ids, acks, nacks and heartbeats
 *   present a lease, reads): retried after any transient failure, even one that may have landed.
 * - `unsent`: retried only when the broker certainly did nothing: no connection, or an answer of
 *   NOT_LEADER, UNAVAILABLE or CLOSED (a standby or a draining broker refuses before doing anything).
 */
export type RetryPolicy = 'always' | 'unsent';

export interface CallOptions {
  method: HttpRequest['method'];
  path: string;
  body?: unknown;
  /** The body as JSON text already (sent instead of `body`). */
  json?: string;
  retry: RetryPolicy;
  /** Added to the per-request timeout (a long poll's wait). */
  extraTimeoutMs?: number;
  signal?: AbortSignal | undefined;
}

const MAX_HOPS = 3;
const DEFAULT_TIMEOUT_MS = 10_000;
/** Codes of an answer after which the broker certainly did nothing (see RetryPolicy). */
const REFUSED = new Set(['NOT_LEADER', 'UNAVAILABLE', 'CLOSED']);
/** Codes of an answer that are worth another try, but may have taken effect. */
const TRANSIENT = new Set(['STORE_UNAVAILABLE', 'STORE_AMBIGUOUS', 'STORE_CONFLICT']);

export class Connection {
  private current: string | null;
  private readonly seed: string | null;
  private readonly store: StorageDriver | null;
  private readonly ownsStore: boolean;
  private readonly token: string | undefined;
  /** The CA for https:// brokers (ConnectionOptions.ca). */
  readonly ca: string | undefined;
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number | undefined;
  private readonly failFastUnreachable: boolean;
  /** Some broker answered a request of this connection (see ConnectionOptions.failFastUnreachable). */
  private answered = false;
  private readonly deadlineMs: number;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly onRetry: ConnectionOptions['onRetry'];

  /** `topic`: whose leader to look for in the store (undefined: any broker of the store). */
  constructor(
    o: ConnectionOptions,
    private readonly topic?: string,
  ) {
    if (o.url === undefined && o.store === undefined) throw invalid('a client needs url (a broker) or store (to find the leader), or both');
    this.seed = o.url === undefined ? null : checkUrl(o.url);
    if (typeof o.store === 'string') {
      if (o.store.trim() === '') throw invalid('store URL is empty');
      this.store = lazyStore(o.store);
      this.ownsStore = true;
    } else {
      this.store = o.store ?? null;
      this.ownsStore = false;
    }
    if (o.token !== undefined && (typeof o.token !== 'string' || !/^[\x21-\x7e]+$/.test(o.token))) throw invalid('token must be a non-empty string of visible ASCII characters (no spaces)');
    this.token = o.token;
    if (o.ca !== undefined && (typeof o.ca !== 'string' || !o.ca.includes('-----BEGIN CERTIFICATE'))) throw invalid('ca must be PEM text with at least one "-----BEGIN CERTIFICATE" block');
    this.ca = o.ca;
    this.timeoutMs = positive(o.timeoutMs, 'timeoutMs') ?? DEFAULT_TIMEOUT_MS;
    this.connectTimeoutMs = positive(o.connectTimeoutMs, 'connectTimeoutMs');
    this.failFastUnreachable = o.failFastUnreachable === true;
    const r = o.retry ?? {};
    this.deadlineMs = nonNegative(r.deadlineMs, 'retry.deadlineMs') ?? 30_000;
    this.baseMs = positive(r.baseMs, 'retry.baseMs') ?? 100;
    this.maxMs = positive(r.maxMs, 'retry.maxMs') ?? 2_000;
    this.onRetry = o.onRetry;
    this.current = this.store ? null : this.seed;
  }

  /** The broker URL requests go to now (null until one is known). */
  get url(): string | null {
    return this.current;
  }

  /** One call, retried per its policy (see the module comment). */
  async call<R>(o: CallOptions): Promise<R> {
    const deadline = Date.now() + this.deadlineMs;
    let failures = 0;
    let hops = 0;
    let mayHaveLanded = false;
    for (;;) {
      let base: string | null = null;
      try {
        base = await this.endpoint();
        const out = await httpRequest<R>({
          method: o.method,
          base,
          path: o.path,
          body: o.body,
          json: o.json,
          token: this.token,
          ca: this.ca,
          timeoutMs: this.timeoutMs + (o.extraTimeoutMs ?? 0),
          ...(this.connectTimeoutMs !== undefined ? { connectTimeoutMs: this.connectTimeoutMs } : {}),
          signal: o.signal,
        });
        this.answered = true;
        return out;
      } catch (err) {
        const error = isQueueError(err) ? err : new QueueError('UNAVAILABLE', `finding the broker failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
        const kind = failureKind(error);
        if (kind === 'aborted') throw error;
        if (kind !== 'connect' && base !== null) this.answered = true;
        if (kind === 'connect' && base !== null && this.failFastUnreachable && !this.answered) throw unreachable(error, base, this.connectTimeoutMs ?? this.timeoutMs);
        // An answer to a replay whose first try may have landed (a LEASE_LOST to a replayed ack) says so.
        if (kind === 'answer' && mayHaveLanded && !TRANSIENT.has(error.code) && !REFUSED.has(error.code)) throw replayed(error);
        if (kind === 'ambiguous') mayHaveLanded = true;
        if (error.code === 'NOT_LEADER') {
          const leader = error.details?.leader;
          if (typeof leader === 'string' && leader !== '' && leader !== base && hops < MAX_HOPS) {
            hops++;
            this.current = checkUrl(leader);
            continue;
          }
        }
        if (this.deadlineMs === 0 || !this.retryable(error, kind, o.retry, base === null)) throw error;
        // The broker may be gone, or not the leader any more: ask the store (or the seed) again.
        this.current = this.store ? null : this.seed;
        hops = 0;
        // A broker that said when to come back (Retry-After: overloaded) is not asked sooner; when
        // that is past the call's deadline, the call says so now instead of waiting in vain.
        const asked = error.details?.retryAfterMs;
        const delay = Math.max(this.backoff(++failures), typeof asked === 'number' ? asked : 0);
        if (Date.now() + delay > deadline) throw gaveUp(error, failures, this.deadlineMs, typeof asked === 'number' && asked === delay ? asked : undefined);
        this.onRetry?.({ error, failures, delayMs: delay, url: base });
        await sleep(delay, o.signal);
      }
    }
  }

  async close(): Promise<void> {
    if (this.ownsStore) await this.store?.close();
  }

  // ---------------------------------------------------------------------------------------------

  private async endpoint(): Promise<string> {
    if (this.current) return this.current;
    if (this.store) {
      const found = await discoverBroker(this.store, this.topic);
      if (found) return (this.current = checkUrl(found.url));
    }
    if (this.seed) return (this.current = this.seed);
    throw new QueueError('UNAVAILABLE', `the store names no broker${this.topic !== undefined ? ` for topic ${this.topic}` : ''} yet (no topic has a leader with a URL); give the client a broker url too`);
  }

  /** `discovering`: the failure happened while looking for a broker, before any request was sent. */
  private retryable(error: QueueError, kind: ReturnType<typeof failureKind>, policy: RetryPolicy, discovering: boolean): boolean {
    if (discovering) return error.code === 'UNAVAILABLE' || error.code === 'STORE_UNAVAILABLE' || error.code === 'STORE_AMBIGUOUS';
    if (kind === 'connect') return true;
    if (kind === 'ambiguous') return policy === 'always';
    if (REFUSED.has(error.code)) return true;
    return policy === 'always' && TRANSIENT.has(error.code);
  }

  private backoff(failures: number): number {
    return retryDelay(failures, { baseMs: this.baseMs, maxMs: this.maxMs }, Math.random());
  }
}

function invalid(message: string): QueueError {
  return new QueueError('INVALID_ARGUMENT', message);
}

function positive(v: number | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 1) throw invalid(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function nonNegative(v: number | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 0) throw invalid(`${name} must be an integer >= 0, got ${JSON.stringify(v)}`);
  return v;
}

/** A broker base URL: http or https, no query, no trailing slash. */
export function checkUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(`the broker URL must look like http://127.0.0.1:8080, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(`the broker URL must be http:// or https://, got ${JSON.stringify(text)}`);
  if (url.search || url.hash) throw invalid(`the broker URL must not carry a query or fragment, got ${JSON.stringify(text)}`);
  return url.href.replace(/\/+$/, '');
}

function gaveUp(error: QueueError, failures: number, deadlineMs: number, retryAfterMs?: number): QueueError {
  const s = (ms: number) => `${Math.round(ms / 100) / 10} s`;
  const message =
    retryAfterMs === undefined
      ? `${error.message}; gave up after ${failures} ${failures === 1 ? 'try' : 'tries'} in ${s(deadlineMs)}`
      : `${error.message}; the broker asked to be retried in ${s(retryAfterMs)}, past this call's deadline (retry.deadlineMs ${deadlineMs} ms)`;
  return new QueueError(error.code, message, { cause: error, ...(error.details ? { details: error.details } : {}) });
}

/** Why no connection was made, in words, from the socket error code http.ts keeps in details.errno. */
const UNREACHABLE_WHY: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ETIMEDOUT: 'no connection within {ms} ms',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
};

/** The first call found no broker at `base` (failFastUnreachable). A certificate error keeps its own message. */
function unreachable(error: QueueError, base: string, connectTimeoutMs: number): QueueError {
  const errno = typeof error.details?.errno === 'string' ? error.details.errno : undefined;
  const why = errno !== undefined ? UNREACHABLE_WHY[errno]?.replace('{ms}', String(connectTimeoutMs)) : undefined;
  if (why === undefined) return error;
  return new QueueError('UNAVAILABLE', `no broker at ${base} (${why})`, { cause: error, details: { ...error.details, url: base, unreachable: true } });
}

function replayed(error: QueueError): QueueError {
  const message = `${error.message} (this was a retry: an earlier try may have landed, its answer was lost)`;
  return new QueueError(error.code, message, { cause: error, details: { ...error.details, retried: true } });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new QueueError('CLOSED', 'request aborted by the caller'));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new QueueError('CLOSED', 'request aborted by the caller'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
