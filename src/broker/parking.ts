/**
 * The parking lot of one topic's long polls: claims that found no job and may wait for one
 * (`waitMs`). They wait here, outside the batch queue, until something can change their answer:
 *
 * - a batch that may make a job claimable (a push, ...): the loop takes them all into that batch,
 *   after its requests, so the push's own commit answers them (the hand-off, hand-off.ts); a
 *   write that fails puts them back here;
 * - a commit that left jobs pending: the loop takes them all back into its next batch;
 * - the due time of the next delayed job or expiring lease (one wake-up timer for the whole lot);
 * - their own deadline: each is answered alone, with no jobs (`expire`);
 * - the caller hanging up, a takeover by another broker, a lost state or stop: the loop takes
 *   them out and answers them.
 *
 * Apart from the loop because its one hard rule is about timers, not commits: every timer here
 * keeps the process alive (a caller waits on it), so each is cancelled the moment its request
 * leaves, and the wake-up timer once nobody is parked. A timer left behind would hold a stopping
 * process open for nobody (test/broker/keepalive-timers.test.ts).
 */
import type { Clock } from '../clock.js';

export class ParkingLot<R> {
  private readonly parked: R[] = [];
  /** The deadline timer of each parked request. */
  private readonly deadlines = new Map<R, () => void>();
  private cancelWake: (() => void) | null = null;

  /** `expire` answers a request whose deadline came while it was parked. */
  constructor(
    private readonly clock: Clock,
    private readonly expire: (req: R) => void,
  ) {}

  get size(): number {
    return this.parked.length;
  }

  /** Whether a parked request passes `test`. */
  some(test: (req: R) => boolean): boolean {
    return this.parked.some(test);
  }

  /** Parks `req` until `deadline` (clock time); then `expire(req)`, unless it left before. */
  park(req: R, deadline: number): void {
    this.parked.push(req);
    const cancel = this.clock.setTimer(
      deadline - this.clock.now(),
      () => {
        if (this.unpark(req).length > 0) this.expire(req);
      },
      true,
    );
    this.deadlines.set(req, cancel);
  }

  /** Takes `req` out (an empty list when it is not parked), cancelling its deadline timer. */
  unpark(req: R): R[] {
    const i = this.parked.indexOf(req);
    return this.leave(i >= 0 ? this.parked.splice(i, 1) : []);
  }

  /** Takes every parked request out, in the order they were parked. */
  unparkAll(): R[] {
    return this.leave(this.parked.splice(0));
  }

  /**
   * Wakes the whole lot at `at` (clock time): `onWake` gets every parked request, in order. A
   * later call replaces the wake-up; `undefined` (nothing comes due) only cancels it.
   */
  wakeAt(at: number | undefined, onWake: (reqs: R[]) => void): void {
    this.cancelWakeUp();
    if (at === undefined) return;
    this.cancelWake = this.clock.setTimer(
      Math.max(0, at - this.clock.now()),
      () => {
        this.cancelWake = null;
        onWake(this.unparkAll());
      },
      true,
    );
  }

  cancelWakeUp(): void {
    this.cancelWake?.();
    this.cancelWake = null;
  }

  /** Cancels the timers of requests that left, and the wake-up once nobody is parked. */
  private leave(out: R[]): R[] {
    for (const r of out) {
      this.deadlines.get(r)?.();
      this.deadlines.delete(r);
    }
    if (this.parked.length === 0) this.cancelWakeUp();
    return out;
  }
}
