/** Public types of {@link createWorker}. */
import type { Clock } from '../clock.js';
import type { QueueError } from '../errors.js';
import type { ClaimedJob, NackResult } from '../api.js';

/** The job a handler receives: the claimed job, payload typed. Read-only by contract. */
export type WorkerJob<T = unknown> = Readonly<ClaimedJob<T>>;

/**
 * Runs one job. Return a value to complete the job with that result (JSON, small); throw to fail
 * the attempt (the message becomes `lastError`; an error with a numeric `retryDelayMs` sets the
 * retry delay). Throw an error with `release: true` to hand the job back untouched instead
 * ({@link Queue.release}: pending at once in its old place in line, the attempt not counted): for
 * work that was stopped from outside rather than failed, e.g. by a shutdown. When `signal` aborts (its `reason` is a QueueError: LEASE_LOST, or CLOSED when the
 * worker's close timeout ran out) the job is no longer yours: stop work, your outcome is ignored.
 */
export type Handler<T, R> = (job: WorkerJob<T>, signal: AbortSignal) => Promise<R> | R;

export interface WorkerOptions {
  /** Jobs run at once (default 1, at most 1000). */
  concurrency?: number;
  /**
   * Jobs claimed ahead of free slots and held until a slot frees. With short handlers or a slow
   * store this is what keeps the slots fed: each claim then carries up to `concurrency + prefetch`
   * jobs and the next one leaves while the held jobs run, instead of every slot waiting for a
   * claim's round trip. Held jobs are leased (and heartbeated) from the claim; on close they are
   * handed back untouched with {@link Queue.release} (their attempt not counted; if the release
   * fails, they run within the close timeout).
   *
   * `'auto'` (the default) sizes it from what the worker measures: it claims ahead while
   * handlers finish faster than a claim's round trip and claims come back full (a deep queue),
   * up to 256 jobs, and not at all while handlers are as long as a round trip or longer; jobs
   * held while every slot is stuck on long handlers are handed back (src/worker/auto-prefetch.ts).
   * A number fixes it (0: only the free slots; at most 1000 minus `concurrency`, and
   * `concurrency + prefetch` must not exceed the broker's `--max-claim`, default 1000, or every
   * claim is refused).
   */
  prefetch?: number | 'auto';
  /** Lease of each claim and heartbeat (default 30 s). */
  leaseMs?: number;
  /** Heartbeat interval of running jobs (default leaseMs / 3; must be shorter than leaseMs). */
  heartbeatMs?: number;
  /** Long poll of each claim when nothing is due (default 5 s, 1 ms to 30 s). */
  waitMs?: number;
  /** How long {@link Worker.close} lets running handlers finish before aborting them (default 30 s). */
  closeTimeoutMs?: number;
  /** This worker's id, presented with every lease op (default: host, pid and a random suffix). */
  workerId?: string;
  /** Time source for heartbeats, back-off and the close timeout (default: the queue's clock). */
  clock?: Clock;
  /** Start claiming at once (default true); otherwise call {@link Worker.start}. */
  autoStart?: boolean;
}

/**
 * The loop's state (handlers may be running in any of them):
 * - `idle`: not started yet, or waiting to retry after an error;
 * - `claiming`: a claim (long poll) for every free slot is in flight;
 * - `running`: every slot is busy; waiting for a handler to finish;
 * - `stopping`: close() was called; no more claims, running handlers may finish;
 * - `stopped`: closed; nothing runs.
 */
export type WorkerState = 'idle' | 'claiming' | 'running' | 'stopping' | 'stopped';

/** Events and their arguments. */
export interface WorkerEvents<T, R> {
  /** The job's ack landed with `result`. */
  completed: [job: WorkerJob<T>, result: R];
  /** The handler threw and the nack landed: `outcome.state` tells whether it will be retried or is dead. */
  failed: [job: WorkerJob<T>, error: unknown, outcome: NackResult];
  /** The handler threw an error with `release: true` and the job was handed back untouched (attempt not counted). */
  released: [job: WorkerJob<T>, error: unknown];
  /** The job's lease was lost (heartbeat, ack or nack answered LEASE_LOST); its handler was aborted. */
  'lease-lost': [job: WorkerJob<T>, error: QueueError];
  /**
   * Something went wrong outside a handler (a claim, heartbeat, ack or nack failed). The worker goes
   * on (backing off); only CLOSED from the queue stops it. Without a listener it is printed to stderr.
   */
  error: [error: QueueError];
  /** A claim found nothing and no handler is running (once per busy → empty transition). */
  drained: [];
  /** The state changed. */
  state: [state: WorkerState];
}

export interface CloseOptions {
  /** Overrides the worker's `closeTimeoutMs`. */
  timeoutMs?: number;
}

/** A running consumer of one queue. */
export interface Worker<T = unknown, R = unknown> {
  /** The worker id presented with every lease. */
  readonly id: string;
  /** See {@link WorkerState}. */
  readonly state: WorkerState;
  /** Handlers running now (lease-lost ones included until they return). */
  readonly running: number;
  /** Jobs claimed and not started: held for a slot (`prefetch`), or being handed back at close. */
  readonly held: number;
  /** Starts the loop (only needed with `autoStart: false`); does nothing once started. */
  start(): void;
  /**
   * Stops claiming at once (a pending long poll is aborted), lets running handlers finish and be
   * acked/nacked for up to `timeoutMs`, then aborts the rest (signal reason CLOSED) and nacks them
   * with "worker closed" and no delay, so another worker can take them at once. Resolves when
   * nothing of this worker is left in flight. Idempotent. The queue stays open.
   */
  close(opts?: CloseOptions): Promise<void>;
  /** Adds a listener. */
  on<E extends keyof WorkerEvents<T, R>>(event: E, listener: (...args: WorkerEvents<T, R>[E]) => void): this;
  /** Adds a listener called once. */
  once<E extends keyof WorkerEvents<T, R>>(event: E, listener: (...args: WorkerEvents<T, R>[E]) => void): this;
  /** Removes a listener. */
  off<E extends keyof WorkerEvents<T, R>>(event: E, listener: (...args: WorkerEvents<T, R>[E]) => void): this;
}
