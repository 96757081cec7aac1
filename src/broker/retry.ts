import { retryDelay } from '../core/backoff.js';
import { isTransientStoreError, QueueError } from '../errors.js';
import type { Clock } from '../clock.js';

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 8, baseMs: 10, maxMs: 2000 };

/**
 * Runs `fn`, retrying transient storage errors (STORE_UNAVAILABLE: the call did not take effect)
 * with exponential backoff and equal jitter (core/backoff.ts, retryDelay). Conflicts and ambiguous writes are never retried here:
 * they need a re-read, which only the caller can judge. When tries run out: UNAVAILABLE.
 */
export async function withRetry<T>(what: string, policy: RetryPolicy, clock: Clock, random: () => number, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransientStoreError(err)) throw err;
      if (attempt >= policy.attempts) {
        throw new QueueError('UNAVAILABLE', `storage kept failing (${what}, ${attempt} tries): ${(err as Error).message}`, { cause: err });
      }
      await clock.sleep(retryDelay(attempt, policy, random()));
    }
  }
}
