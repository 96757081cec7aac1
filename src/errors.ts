/**
 * The one error class of bucketq. Every failure a caller can see carries a string `code`
 * from {@link ErrorCode}; transports map codes to their wire (HTTP status, gRPC code, RESP text)
 * through one table each, so the code is the contract, the message is for humans.
 */
export type ErrorCode =
  /** The request itself is malformed: bad topic name, bad option, wrong type. */
  | 'INVALID_ARGUMENT'
  /** The job (or topic) does not exist. */
  | 'NOT_FOUND'
  /** The op is valid but not in the job's current state (e.g. cancel a claimed job, retry a live one). */
  | 'FAILED_PRECONDITION'
  /** Heartbeat/ack/nack presented a worker id or lease token that no longer owns the job. */
  | 'LEASE_LOST'
  /** This broker does not lead the topic; `leader` in details names the one that does, when known. */
  | 'NOT_LEADER'
  /** Temporarily unable to serve: storage kept failing, broker stopping. Safe to retry. */
  | 'UNAVAILABLE'
  /** A payload or batch exceeds a configured limit. */
  | 'PAYLOAD_TOO_LARGE'
  /** Missing or wrong credentials (network surfaces). */
  | 'UNAUTHENTICATED'
  /** Valid credentials that may not do this: a read-only token asking for a change, a cookie request without its CSRF header. */
  | 'PERMISSION_DENIED'
  /** The object in storage is unreadable or written by a newer format; it is never overwritten. */
  | 'CORRUPT_STATE'
  /**
   * The topic's state object (queue.json) vanished, or went back to an older commit, after this
   * broker had seen it. The broker stops serving the topic rather than re-creating it empty;
   * only an explicit reset (`bucketq reset`, POST /v1/topics/{topic}/reset) serves it again.
   * Retrying does not help.
   */
  | 'STATE_LOST'
  /** The queue, worker or broker was closed. */
  | 'CLOSED'
  /** Storage: a conditional write lost (the etag no longer matches, or the key exists). */
  | 'STORE_CONFLICT'
  /** Storage: a write whose outcome is unknown; it may or may not have landed. */
  | 'STORE_AMBIGUOUS'
  /** Storage: a transient failure (network, throttling, injected fault); the call did not take effect. */
  | 'STORE_UNAVAILABLE'
  /** A bug: an invariant was broken. */
  | 'INTERNAL';

export interface QueueErrorOptions {
  cause?: unknown;
  /** Extra machine-readable context, e.g. `{ leader: 'http://10.0.0.2:8080' }` for NOT_LEADER. */
  details?: Record<string, unknown>;
}

export class QueueError extends Error {
  override readonly name = 'QueueError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: QueueErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }

  /** A plain, JSON-safe form for results and wires. */
  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
}

export function isQueueError(err: unknown, code?: ErrorCode): err is QueueError {
  return err instanceof QueueError && (code === undefined || err.code === code);
}

/** Storage errors that say nothing landed and a retry (with backoff) is safe. */
export function isTransientStoreError(err: unknown): boolean {
  return isQueueError(err, 'STORE_UNAVAILABLE');
}

/** Any failure as a QueueError: ours pass through, anything else is INTERNAL with its cause. */
export function toQueueError(err: unknown): QueueError {
  if (isQueueError(err)) return err;
  return new QueueError('INTERNAL', (err as Error)?.message ?? String(err), { cause: err });
}
