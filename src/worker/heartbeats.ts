/**
 * Heartbeats of one worker's leases (running, settling, held for a slot, or being handed back),
 * on a single timer. When it fires, every job whose heartbeat is due, or nearly (within a third
 * of the interval), is heartbeated; the calls are issued together, so they share one commit
 * instead of each costing its own. An answered heartbeat moves the slot's `deadline`.
 */
import type { Clock } from '../clock.js';
import { toQueueError, type QueueError } from '../errors.js';
import { isLive, type Slot } from './slot.js';
import type { WorkerJob } from './types.js';

export interface HeartbeatOptions<T> {
  clock: Clock;
  heartbeatMs: number;
  leaseMs: number;
  slots: ReadonlySet<Slot<T>>;
  heartbeat(job: WorkerJob<T>, leaseMs: number): Promise<unknown>;
  /** A heartbeat answered LEASE_LOST for a job whose handler still runs, or that is held or being handed back. */
  onLost(slot: Slot<T>, error: QueueError): void;
  /** Any other heartbeat failure; the job is heartbeated again sooner. */
  onError(error: QueueError): void;
}

export class Heartbeats<T> {
  private timer: { at: number; cancel: () => void } | null = null;
  private stopped = false;

  constructor(private readonly o: HeartbeatOptions<T>) {}

  /**
   * Keeps the one timer set no later than the earliest due job (call after slots change). A timer
   * that fires sooner than needed is kept: beat() heartbeats only what is due and sets the next
   * one. (Moving it each time the earliest job finishes cost a timer per job.)
   */
  schedule(): void {
    if (this.stopped) return;
    let next = Infinity;
    for (const s of this.o.slots) if (s.heartbeatAt < next && isLive(s)) next = s.heartbeatAt;
    if (this.timer && this.timer.at <= next) return;
    this.timer?.cancel();
    this.timer = null;
    if (next === Infinity) return;
    const cancel = this.o.clock.setTimer(next - this.o.clock.now(), () => {
      this.timer = null;
      this.beat();
    });
    this.timer = { at: next, cancel };
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
  }

  private beat(): void {
    const now = this.o.clock.now();
    const horizon = now + this.o.heartbeatMs / 3;
    for (const slot of this.o.slots) {
      if (!isLive(slot) || slot.beating || slot.heartbeatAt > horizon) continue;
      slot.beating = true;
      slot.heartbeatAt = now + this.o.heartbeatMs;
      this.o
        .heartbeat(slot.job, this.o.leaseMs)
        .then(() => {
          slot.deadline = Math.max(slot.deadline, now + this.o.leaseMs);
        })
        .catch((err: unknown) => {
          const error = toQueueError(err);
          // While an ack/nack is in flight, LEASE_LOST may just mean it landed first: it reports itself.
          if (error.code === 'LEASE_LOST') return void ((slot.phase === 'running' || slot.phase === 'held' || slot.phase === 'releasing') && this.o.onLost(slot, error));
          this.o.onError(error);
          slot.heartbeatAt = Math.min(slot.heartbeatAt, this.o.clock.now() + Math.ceil(this.o.heartbeatMs / 3));
        })
        .finally(() => {
          slot.beating = false;
          this.schedule();
        });
    }
    this.schedule();
  }
}

