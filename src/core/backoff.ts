import type { Backoff } from './types.js';

/**
 * Delay before the next attempt after `attempt` failed attempts. `rand` in [0,1) is supplied by
 * the caller (made before apply), so the core stays deterministic.
 */
export function backoffDelay(b: Backoff, attempt: number, rand: number): number {
  if (b.type === 'fixed') return Math.max(0, b.delayMs);
  const exp = Math.min(b.maxMs ?? Number.MAX_SAFE_INTEGER, b.baseMs * 2 ** Math.max(0, attempt - 1));
  const jitter = Math.min(1, Math.max(0, b.jitter ?? 0));
  // "Equal jitter": keep (1 - jitter) of the delay, randomise the rest.
  return Math.round(exp * (1 - jitter) + exp * jitter * rand);
}
