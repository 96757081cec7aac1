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

/**
 * The wait before retrying a transient failure (the broker's storage calls, the cloud drivers'
 * requests, the client's calls to a broker): exponential, `baseMs` doubling per failure up to
 * `maxMs`, with "equal jitter": half the step is kept and the other half drawn at random, so
 * retries spread out but never come back sooner than half the step ("full jitter" would draw the
 * whole step, from zero). `failures` counts from 1; `rand` in [0, 1). Here, in the core, because it
 * is pure and every layer that retries may import it.
 */
export function retryDelay(failures: number, step: { baseMs: number; maxMs: number }, rand: number): number {
  return backoffDelay({ type: 'exponential', baseMs: step.baseMs, maxMs: step.maxMs, jitter: 0.5 }, failures, rand);
}
