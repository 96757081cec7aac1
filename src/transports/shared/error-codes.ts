/**
 * The one mapping from {@link ErrorCode} to each wire. Every transport answers errors through this
 * file, so a code means the same thing on every surface; the message is for humans.
 */
import { isQueueError, QueueError, type ErrorCode } from '../../errors.js';

/** ErrorCode → HTTP status (docs/http-api.md). */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  FAILED_PRECONDITION: 409,
  LEASE_LOST: 409,
  PAYLOAD_TOO_LARGE: 413,
  NOT_LEADER: 503,
  UNAVAILABLE: 503,
  CLOSED: 503,
  STORE_CONFLICT: 503,
  STORE_AMBIGUOUS: 503,
  STORE_UNAVAILABLE: 503,
  CORRUPT_STATE: 500,
  // Like CORRUPT_STATE: the stored state cannot be served as it is, an operator must act, and a
  // retry cannot help. Not 503 (which says "try again later"), not 404/410 (the client did
  // nothing wrong, and a 4xx hides a lost queue from 5xx alerting).
  STATE_LOST: 500,
  INTERNAL: 500,
};

export function httpStatusOf(code: ErrorCode): number {
  return HTTP_STATUS[code] ?? 500;
}

/** Any thrown value as a QueueError: a non-QueueError is a bug, reported as INTERNAL without its internals. */
export function asQueueError(err: unknown): QueueError {
  if (isQueueError(err)) return err;
  return new QueueError('INTERNAL', 'internal error', { cause: err });
}

/** The `error` member of an error body: `{code, message, ...details}`. */
export interface WireError {
  code: ErrorCode;
  message: string;
  [detail: string]: unknown;
}

/**
 * `{code, message, ...details}`. For NOT_LEADER, `leader` is the leader's URL (null when it has
 * none, e.g. an embedded broker holds the topic), next to `leaderId`, `epoch` and `leaseUntil`.
 */
export function wireError(err: QueueError): WireError {
  const out: WireError = { code: err.code, message: err.message };
  for (const [k, v] of Object.entries(err.details ?? {})) {
    if (k !== 'code' && k !== 'message') out[k] = v;
  }
  if (err.code === 'NOT_LEADER') out.leader = typeof out.leader === 'string' && out.leader !== '' ? out.leader : null;
  return out;
}

/** The JSON error body of every HTTP error: `{"error": {code, message, ...details}}`. */
export function errorBody(err: QueueError): { error: WireError } {
  return { error: wireError(err) };
}

/**
 * ErrorCode → the prefix of a RESP error reply (`-PREFIX message`), which Redis clients surface as
 * the error's first word. INVALID_ARGUMENT is Redis' own generic `ERR`; the others keep bucketq's
 * code so a caller can branch on it. NOT_LEADER is `-NOT_LEADER <leader URL|?> message`, the URL
 * first like Redis Cluster's `-MOVED slot host:port`, so a client can follow it.
 */
export const RESP_PREFIX: Readonly<Record<ErrorCode, string>> = {
  INVALID_ARGUMENT: 'ERR',
  UNAUTHENTICATED: 'NOAUTH',
  // Redis' own word for an ACL refusal, so clients that know Redis ACLs read it as such.
  PERMISSION_DENIED: 'NOPERM',
  NOT_FOUND: 'NOT_FOUND',
  FAILED_PRECONDITION: 'FAILED_PRECONDITION',
  LEASE_LOST: 'LEASE_LOST',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  NOT_LEADER: 'NOT_LEADER',
  UNAVAILABLE: 'UNAVAILABLE',
  CLOSED: 'UNAVAILABLE',
  STORE_CONFLICT: 'UNAVAILABLE',
  STORE_AMBIGUOUS: 'STORE_AMBIGUOUS',
  STORE_UNAVAILABLE: 'UNAVAILABLE',
  CORRUPT_STATE: 'CORRUPT_STATE',
  STATE_LOST: 'STATE_LOST',
  INTERNAL: 'ERR internal error:',
};

/** The text of a RESP error reply (without `-` and CRLF) for a QueueError; `details.resp` wins. */
export function respErrorText(err: QueueError): string {
  // A command may carry the exact text Redis clients match on (BUSYGROUP, WRONGPASS, NOPROTO).
  if (typeof err.details?.resp === 'string') return err.details.resp;
  const prefix = RESP_PREFIX[err.code] ?? 'ERR';
  if (err.code === 'NOT_LEADER') {
    const leader = wireError(err).leader;
    return `${prefix} ${typeof leader === 'string' ? leader : '?'} ${err.message}`;
  }
  if (err.code === 'INTERNAL') return `${prefix} the broker failed; see its log`;
  return `${prefix} ${err.message}`;
}

/**
 * ErrorCode → gRPC status code (the numbers of grpc/status.proto, which Connect's `Code` enum
 * shares), for gRPC, gRPC-Web and Connect (transports/connect/). LEASE_LOST is FAILED_PRECONDITION:
 * the worker must stop, retrying cannot help. NOT_LEADER is UNAVAILABLE with the leader's URL in
 * the `bucketq-leader` metadata. STORE_AMBIGUOUS is DEADLINE_EXCEEDED, which gRPC defines as "may
 * have completed". CORRUPT_STATE and STATE_LOST are DATA_LOSS. Every answer also carries bucketq's own code in
 * the `bucketq-code` metadata.
 */
export const GRPC_STATUS: Readonly<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 3,
  UNAUTHENTICATED: 16,
  PERMISSION_DENIED: 7,
  NOT_FOUND: 5,
  FAILED_PRECONDITION: 9,
  LEASE_LOST: 9,
  PAYLOAD_TOO_LARGE: 8, // RESOURCE_EXHAUSTED
  NOT_LEADER: 14, // UNAVAILABLE
  UNAVAILABLE: 14,
  CLOSED: 14,
  STORE_CONFLICT: 14,
  STORE_AMBIGUOUS: 4, // DEADLINE_EXCEEDED
  STORE_UNAVAILABLE: 14,
  CORRUPT_STATE: 15, // DATA_LOSS
  STATE_LOST: 15, // DATA_LOSS: "unrecoverable data loss", until an operator resets the topic
  INTERNAL: 13,
};
