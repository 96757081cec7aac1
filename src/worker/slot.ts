/** A job this worker holds a lease on, from its claim until it is reported or handed back. */
import type { WorkerJob } from './types.js';

export interface Slot<T> {
  job: WorkerJob<T>;
  abort: AbortController;
  /**
   * held: claimed ahead, waiting for a slot · releasing: being handed back untouched · running:
   * handler busy · settling: ack/nack in flight · lost: lease gone · abandoned: handed back, or
   * close gave up on it
   */
  phase: 'held' | 'releasing' | 'running' | 'settling' | 'lost' | 'abandoned';
  /** When the next heartbeat is due (clock ms). */
  heartbeatAt: number;
  /**
   * Until when the lease is surely ours (clock ms): when its claim or last answered heartbeat was
   * sent, plus the lease. The broker counts from later, so by then it may have expired, never before.
   */
  deadline: number;
  /** A heartbeat is in flight. */
  beating: boolean;
  /** Settles when the slot is done with: its outcome reported, or the job handed back or lost. */
  readonly done: Promise<void>;
  /** Settles `done` (once the slot has left the worker's set). */
  finish(): void;
}

/** A slot whose `done` promise is made only when someone waits for it (close): most never are. */
class JobSlot<T> implements Slot<T> {
  readonly abort = new AbortController();
  beating = false;
  heartbeatAt: number;
  deadline: number;
  private finished = false;
  private waiting: { promise: Promise<void>; resolve: () => void } | null = null;

  constructor(
    readonly job: WorkerJob<T>,
    public phase: Slot<T>['phase'],
    claimedAt: number,
    leaseMs: number,
    heartbeatMs: number,
    now: number,
  ) {
    this.heartbeatAt = now + heartbeatMs;
    this.deadline = claimedAt + leaseMs;
  }

  get done(): Promise<void> {
    if (this.finished) return Promise.resolve();
    if (!this.waiting) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.waiting = { promise, resolve };
    }
    return this.waiting.promise;
  }

  finish(): void {
    this.finished = true;
    this.waiting?.resolve();
  }
}

/** A new slot for a job claimed at `claimedAt` (clock ms) with a lease of `leaseMs`. */
export function newSlot<T>(job: WorkerJob<T>, phase: 'held' | 'running', claimedAt: number, leaseMs: number, heartbeatMs: number, now: number): Slot<T> {
  return new JobSlot(job, phase, claimedAt, leaseMs, heartbeatMs, now);
}

/** Phases in which the lease is ours and must be kept alive. */
export function isLive(slot: Slot<unknown>): boolean {
  return slot.phase === 'held' || slot.phase === 'releasing' || slot.phase === 'running' || slot.phase === 'settling';
}
