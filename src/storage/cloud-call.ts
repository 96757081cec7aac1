/**
 * One request policy for the cloud drivers (Azure, GCS), so that both answer the storage contract
 * (types.ts) the same way. The SDKs' own retries are switched off: an SDK that re-sends a
 * conditional write after a timeout, and then sees 412 because its first attempt landed, would
 * report a conflict for a write that succeeded, and the broker would apply the batch twice.
 *
 * Each driver sorts a failed attempt into one of four kinds; this module decides what happens:
 *
 *   conflict  the precondition failed                          → STORE_CONFLICT, never retried
 *   unsent    certainly not processed (connection refused,
 *             DNS failure, 429 throttling)                     → retried; finally STORE_UNAVAILABLE
 *   unknown   may have been processed (timeout after sending,
 *             reset connection, 5xx)                           → reads/list/delete and unconditional
 *                                                                writes retry (they are idempotent);
 *                                                                a conditional write stops at once
 *                                                                with STORE_AMBIGUOUS
 *   fatal     will not get better by retrying (403, 400, a
 *             missing container or bucket)                     → FAILED_PRECONDITION at once (as the
 *                                                                S3 driver does; the broker does not retry it)
 *
 * A conditional write is retried only after `unsent` attempts, so a conflict it meets later is
 * real: no earlier attempt of it can have landed.
 */
import { retryDelay } from '../core/backoff.js';
import { QueueError } from '../errors.js';

export type FailureKind = 'conflict' | 'unsent' | 'unknown' | 'fatal';

export interface CloudRetryOptions {
  /** Tries per call, the first included (default 4). */
  attempts?: number;
  /** First backoff in ms; it doubles per try, half of it drawn at random (equal jitter: core/backoff.ts) (default 50). */
  baseMs?: number;
  /** Longest backoff in ms (default 2000). */
  maxMs?: number;
}

export interface CallPolicy {
  /** A driver name for messages, e.g. `azure`. */
  driver: string;
  /** Milliseconds before one attempt is abandoned (its AbortSignal fires). */
  timeoutMs: number;
  retry: Required<CloudRetryOptions>;
  /** Sorts an attempt's error; `timedOut` says the per-attempt timeout fired. */
  classify(err: unknown, timedOut: boolean): FailureKind;
  /** Injected for tests; defaults to setTimeout. */
  sleep?: (ms: number) => Promise<void>;
}

export type CallMode =
  /** read, list, delete: repeating them is harmless, and a final failure left nothing behind worth knowing. */
  | 'read'
  /** An unconditional write: repeating it is harmless, but a final failure may still have landed. */
  | 'write'
  /** A conditional write: never repeated once it may have reached the server. */
  | 'conditional';

export const DEFAULT_CLOUD_RETRY: Required<CloudRetryOptions> = { attempts: 4, baseMs: 50, maxMs: 2000 };

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function describe(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.name;
  return String(err);
}

/**
 * Runs `attempt` under the policy. `attempt` receives an AbortSignal that fires after timeoutMs;
 * it must pass it to the SDK call and consume any response body before resolving.
 */
export async function cloudCall<T>(policy: CallPolicy, mode: CallMode, what: string, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const sleep = policy.sleep ?? realSleep;
  let mayHaveLanded = false;
  for (let n = 1; ; n++) {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`${policy.driver}: ${what} timed out after ${policy.timeoutMs} ms`));
    }, policy.timeoutMs);
    try {
      return await attempt(controller.signal);
    } catch (err) {
      if (err instanceof QueueError) throw err; // already decided (e.g. a body check in the driver)
      const kind = policy.classify(err, timedOut);
      const why = timedOut ? `timed out after ${policy.timeoutMs} ms` : describe(err);
      if (kind === 'conflict') {
        throw new QueueError('STORE_CONFLICT', `Conditional write failed (${policy.driver}: ${what}): ${why}`, { cause: err });
      }
      if (kind === 'fatal') {
        // Not a storage hiccup: retrying (here or in the broker) would only hide it from the user.
        throw new QueueError('FAILED_PRECONDITION', `${policy.driver}: ${what} failed: ${why}`, { cause: err });
      }
      if (kind === 'unknown') {
        if (mode === 'conditional') {
          throw new QueueError('STORE_AMBIGUOUS', `${policy.driver}: ${what} may or may not have landed: ${why}`, { cause: err });
        }
        mayHaveLanded = true;
      }
      if (n >= policy.retry.attempts) {
        // An idempotent write that may have landed is honestly ambiguous; anything else had no effect.
        const code = mayHaveLanded && mode === 'write' ? 'STORE_AMBIGUOUS' : 'STORE_UNAVAILABLE';
        throw new QueueError(code, `${policy.driver}: ${what} failed after ${n} tries: ${why}`, { cause: err });
      }
      await sleep(retryDelay(n, policy.retry, Math.random()));
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Error codes of Node's networking that say the request never reached a server. */
const UNSENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_INVALID_URL']);

/** The network error code of `err` or of its causes (SDKs wrap Node's errors differently). */
export function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** True when the error says the request never reached the server. */
export function isUnsentNetworkError(err: unknown): boolean {
  const code = networkCode(err);
  return code !== undefined && UNSENT_CODES.has(code);
}
