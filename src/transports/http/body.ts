/**
 * Request bodies of the HTTP transport: JSON only, size-limited while reading (a body larger than
 * the limit is refused from its Content-Length before a byte is read, or the moment the running
 * count passes the limit), counted against the broker's budget of body bytes in flight
 * (shared/body-budget.ts: 503 when it is full, again before a byte is read when the length is declared),
 * valid UTF-8 and nested no deeper than the protocol allows (both checked on the bytes, before
 * parsing), and what to do with a body left unread when an error is answered early.
 */
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { QueueError } from '../../errors.js';
import { checkBodyDepth } from '../../protocol.js';
import { OVERLOADED_RETRY_AFTER_S, type BodyBudget, type BodyHold } from '../shared/body-budget.js';

/** The client hung up before its request was complete: there is nobody to answer. */
export class ClientGone extends Error {
  constructor() {
    super('the client closed the connection');
  }
}

/** An error answered with a status other than its code's (405, 415). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: QueueError,
    readonly headers: Record<string, string> = {},
  ) {
    super(error.message);
  }
}

/** A body left unread after an early answer is read and thrown away up to this many bytes; past that the connection is closed. */
export const DISCARD_LIMIT = 1024 * 1024;

const JSON_TYPE = /^application\/(?:[\w.+-]*\+)?json\s*(?:;|$)/i;

function tooLarge(size: number | string, max: number): QueueError {
  return new QueueError('PAYLOAD_TOO_LARGE', `the request body is ${size} bytes; the limit is ${max}`);
}

function declaredLength(req: IncomingMessage): number | undefined {
  const raw = req.headers['content-length'];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
}

/** True when the request carries a body (a Content-Length above 0 or a chunked transfer). */
export function hasBody(req: IncomingMessage): boolean {
  const len = declaredLength(req);
  // HTTP/2 (TLS, ALPN) needs neither header: a stream that did not end with its headers has a body.
  if (len === undefined && req.httpVersionMajor === 2) return (req as unknown as { stream?: { endAfterHeaders?: boolean } }).stream?.endAfterHeaders === false;
  return len !== undefined ? len > 0 : req.headers['transfer-encoding'] !== undefined;
}

/** Bytes of bodies in flight: the broker's budget and this request's share of it (released by the caller once answered). */
export interface BodyAccount {
  budget: BodyBudget;
  hold: BodyHold;
}

function overloaded(budget: BodyBudget): HttpError {
  return new HttpError(503, budget.overloaded(), { 'retry-after': String(OVERLOADED_RETRY_AFTER_S) });
}

/**
 * Reads the whole body, refusing more than `maxBytes` and, with `account`, more than the budget
 * has room for. Rejects with ClientGone when the client hangs up.
 */
export function readBody(req: IncomingMessage, maxBytes: number, account?: BodyAccount): Promise<Buffer> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > maxBytes) return Promise.reject(tooLarge(declared, maxBytes));
  // Declared: all of it is asked for before a byte is read. Otherwise chunk by chunk, as it comes.
  const perChunk = account !== undefined && declared === undefined;
  if (account && declared !== undefined && !account.hold.take(declared)) return Promise.reject(overloaded(account.budget));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: Error | null, body?: Buffer) => {
      if (done) return;
      done = true;
      req.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onClose);
      if (err) reject(err);
      else resolve(body!);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return finish(tooLarge(`more than ${maxBytes}`, maxBytes));
      if (perChunk && !account.hold.take(chunk.length)) return finish(overloaded(account.budget));
      chunks.push(chunk);
    };
    // A small body comes in one chunk: no copy.
    const whole = () => (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    const onEnd = () => finish(null, whole());
    const onGone = () => finish(new ClientGone());
    const onClose = () => finish(req.complete ? null : new ClientGone(), whole());
    req.on('data', onData).on('end', onEnd).on('error', onGone).on('close', onClose);
  });
}

/**
 * The JSON body of a request: undefined when there is none. A body must be declared as JSON
 * (`Content-Type: application/json`): besides catching mistakes, that keeps browsers from sending
 * one cross-origin without a CORS preflight, which this server never grants.
 */
export async function readJson(req: IncomingMessage, maxBytes: number, account?: BodyAccount): Promise<unknown> {
  if (!hasBody(req)) return undefined;
  const type = req.headers['content-type'] ?? '';
  if (!JSON_TYPE.test(type)) {
    throw new HttpError(415, new QueueError('INVALID_ARGUMENT', `the request body must be JSON with Content-Type: application/json, got ${JSON.stringify(type || 'none')}`));
  }
  const body = await readBody(req, maxBytes, account);
  if (body.length === 0) return undefined;
  // Decoding would turn each invalid sequence into U+FFFD, silently changing ids and payloads.
  if (!isUtf8(body)) throw new QueueError('INVALID_ARGUMENT', 'the request body is not valid UTF-8');
  checkBodyDepth(body);
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (err) {
    throw new QueueError('INVALID_ARGUMENT', `the request body is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Called before an error is answered: a body the handler did not read (or stopped reading) is
 * drained so the connection stays usable for keep-alive, but a client that keeps sending past
 * {@link DISCARD_LIMIT} gets its connection closed. Returns true when the response should carry
 * `Connection: close`.
 */
export function discardUnreadBody(req: IncomingMessage): boolean {
  if (req.complete || req.readableEnded || !hasBody(req)) return false;
  const declared = declaredLength(req);
  if (declared !== undefined && declared > DISCARD_LIMIT) {
    req.resume();
    return true;
  }
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_LIMIT) req.socket.destroy();
  });
  req.resume(); // a slow sender is cut off by the server's requestTimeout
  return false;
}
