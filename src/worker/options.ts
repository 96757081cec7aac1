/** Defaults and validation of {@link WorkerOptions}: a bad option is INVALID_ARGUMENT at creation. */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Clock } from '../clock.js';
import { QueueError } from '../errors.js';
import { checkId, DEFAULT_LEASE_MS } from '../protocol.js';
import type { WorkerOptions } from './types.js';

export interface ResolvedWorkerOptions {
  concurrency: number;
  /** A fixed claim-ahead, or 'auto' (auto-prefetch.ts) with its ceiling. */
  prefetch: number | 'auto';
  /** The largest claim-ahead allowed with this concurrency (one claim must fit the broker's claim limit). */
  prefetchLimit: number;
  leaseMs: number;
  heartbeatMs: number;
  waitMs: number;
  closeTimeoutMs: number;
  workerId: string;
  clock: Clock;
  autoStart: boolean;
}

/** Also the broker's default claim limit (protocol.ts maxClaim): concurrency + prefetch stay within it. */
const MAX_CONCURRENCY = 1000;
const MAX_WAIT_MS = 30_000;
const MAX_LEASE_MS = 3_600_000;

function int(v: unknown, name: string, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new QueueError('INVALID_ARGUMENT', `worker option ${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function defaultWorkerId(): string {
  const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 64) || 'host';
  return `w-${host}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export function resolveWorkerOptions(o: WorkerOptions, queueClock: Clock): ResolvedWorkerOptions {
  if (typeof o !== 'object' || o === null) throw new QueueError('INVALID_ARGUMENT', 'worker options must be an object');
  const leaseMs = int(o.leaseMs, 'leaseMs', 2, MAX_LEASE_MS, DEFAULT_LEASE_MS);
  const heartbeatMs = int(o.heartbeatMs, 'heartbeatMs', 1, MAX_LEASE_MS, Math.max(1, Math.floor(leaseMs / 3)));
  if (heartbeatMs >= leaseMs) throw new QueueError('INVALID_ARGUMENT', 'worker option heartbeatMs must be shorter than leaseMs');
  const concurrency = int(o.concurrency, 'concurrency', 1, MAX_CONCURRENCY, 1);
  // One claim asks for the free slots plus the prefetch room: it must fit the broker's claim limit.
  const prefetchLimit = MAX_CONCURRENCY - concurrency;
  const prefetch = o.prefetch === undefined ? 'auto' : o.prefetch;
  if (prefetch !== 'auto' && (typeof prefetch !== 'number' || !Number.isInteger(prefetch) || prefetch < 0 || prefetch > prefetchLimit)) {
    throw new QueueError('INVALID_ARGUMENT', `worker option prefetch must be 'auto' or an integer from 0 to ${prefetchLimit}, got ${JSON.stringify(prefetch)}`);
  }
  return {
    concurrency,
    prefetch,
    prefetchLimit,
    leaseMs,
    heartbeatMs,
    waitMs: int(o.waitMs, 'waitMs', 1, MAX_WAIT_MS, 5000),
    closeTimeoutMs: int(o.closeTimeoutMs, 'closeTimeoutMs', 0, 2 ** 31 - 1, 30_000),
    workerId: o.workerId === undefined ? defaultWorkerId() : checkId(o.workerId, 'workerId'),
    clock: o.clock ?? queueClock,
    autoStart: o.autoStart ?? true,
  };
}

/** Back-off after `failures` errors in a row: 200 ms doubling, at most 5 s. */
export function errorBackoffMs(failures: number): number {
  return Math.min(5000, 200 * 2 ** Math.max(0, failures - 1));
}

/** Codes after which the same call may succeed later: storage trouble, a leader change. */
export function isTransient(code: string): boolean {
  return code === 'UNAVAILABLE' || code === 'NOT_LEADER' || code === 'STORE_UNAVAILABLE' || code === 'STORE_AMBIGUOUS';
}
