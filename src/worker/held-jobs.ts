/**
 * The jobs a worker claimed ahead of its free slots (`prefetch`): held in claim order until a slot
 * frees, and handed back untouched (Queue.release) when the worker closes.
 *
 * Two things can make a held job not ours any more before it starts, and both must stop it from
 * running: a heartbeat answering LEASE_LOST (the worker reports that), and a lease that ran out
 * while heartbeats failed (transient errors for longer than the lease). The second is caught by
 * the slot's own deadline, checked when the job would start; and a claim that brings back a job
 * id still held here means the broker expired the old lease, so the old slot is dropped.
 *
 * A release that fails leaves the jobs ours (leased and heartbeated): rather than let their
 * leases expire, which spends an attempt and dead-letters a job on its last one, they go back to
 * being held and are run within the close timeout.
 */
import { QueueError, toQueueError } from '../errors.js';
import type { Queue } from '../api.js';
import type { Slot } from './slot.js';

export interface HeldJobsOptions<T> {
  queue: Queue<T>;
  now(): number;
  /** The worker's set of every slot it holds a lease for. */
  slots: Set<Slot<T>>;
  /** A held job's lease is gone: report it (the slot has already left `slots`). */
  onLost(slot: Slot<T>, error: QueueError): void;
  onError(error: QueueError): void;
  /** A release failed and its jobs are held again: start what slots allow. */
  onReturned(): void;
}

export class HeldJobs<T> {
  private readonly waiting: Slot<T>[] = [];
  /** The waiting slots by job id: a claim of hundreds checks each job against hundreds held. */
  private readonly byId = new Map<string, Slot<T>>();
  private releasing = 0;

  constructor(private readonly o: HeldJobsOptions<T>) {}

  /** Jobs held for a slot, or being handed back. */
  get size(): number {
    return this.waiting.length + this.releasing;
  }

  /** Jobs held for a slot (what counts against the prefetch room). */
  get waitingCount(): number {
    return this.waiting.length;
  }

  hold(slot: Slot<T>): void {
    slot.phase = 'held';
    this.waiting.push(slot);
    this.byId.set(slot.job.id, slot);
  }

  /** A new claim brought `id` again: any slot still holding it has an expired lease. */
  dropStale(id: string): void {
    const stale = this.byId.get(id);
    if (stale) this.lose(stale, `held job ${id} was claimed again: its lease ran out before a slot freed`);
  }

  /** The oldest held job whose lease is still surely ours; held jobs past their deadline are dropped as lost. */
  next(): Slot<T> | undefined {
    for (let slot = this.waiting.shift(); slot; slot = this.waiting.shift()) {
      this.byId.delete(slot.job.id);
      if (slot.deadline > this.o.now()) return slot;
      this.lose(slot, `held job ${slot.job.id}: its lease ran out before a slot freed (heartbeats failed)`);
    }
    return undefined;
  }

  /** A heartbeat said the lease of a held (or releasing) job is gone. */
  lost(slot: Slot<T>): void {
    const i = this.waiting.indexOf(slot);
    if (i >= 0) {
      this.waiting.splice(i, 1);
      this.byId.delete(slot.job.id);
    } else if (slot.phase === 'releasing') this.releasing--;
    slot.phase = 'lost';
    this.o.slots.delete(slot);
    slot.finish();
  }

  /** Hands every held job back (close; auto claim-ahead stuck behind long handlers). */
  releaseAll(): void {
    this.byId.clear();
    this.release(this.waiting.splice(0));
  }

  /**
   * Hands `slots` back untouched in one call. They stay in the worker's set (heartbeated) until
   * the answer; on a failure they are held again (see the file comment).
   */
  release(slots: Slot<T>[]): void {
    if (slots.length === 0) return;
    for (const slot of slots) slot.phase = 'releasing';
    this.releasing += slots.length;
    const mine = () => slots.filter((s) => s.phase === 'releasing');
    this.o.queue.release(slots.map((s) => s.job)).then(
      () => {
        for (const slot of mine()) {
          this.releasing--;
          slot.phase = 'abandoned';
          this.o.slots.delete(slot);
          slot.finish();
        }
      },
      (err: unknown) => {
        this.o.onError(toQueueError(err));
        for (const slot of mine()) {
          this.releasing--;
          this.hold(slot);
        }
        this.o.onReturned();
      },
    );
  }

  /** Close gave up: everything held leaves the worker; the caller nacks what is returned. */
  abandon(): Array<Slot<T>> {
    this.byId.clear();
    const held = this.waiting.splice(0);
    for (const slot of held) slot.phase = 'abandoned';
    return held;
  }

  private lose(slot: Slot<T>, message: string): void {
    this.lost(slot);
    this.o.onLost(slot, new QueueError('LEASE_LOST', message));
  }
}
