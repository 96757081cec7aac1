/**
 * Deferrable housekeeping (`archived`: finished jobs leave the head) starts no batch of its own:
 * it rides along with the next one, or commits alone after HOUSEKEEPING_WAIT_MS on a topic with
 * no other traffic (at once while a flush or stop waits). On a busy topic that saves a commit per
 * archive window, which a drain would otherwise pay between two claims.
 *
 * Apart from the loop (topic-loop.ts) because it is a timer and a counter of its own: the loop
 * asks it whether its queue starts a batch, and tells it when a batch took the queue.
 */
import type { Clock } from '../clock.js';
import type { TopicRequest } from './topic-loop-types.js';

/** How long deferrable housekeeping waits for a batch to ride along with before it commits alone. */
export const HOUSEKEEPING_WAIT_MS = 100;

export class HousekeepingDeferral {
  /** Deferrable requests wait for a batch; this timer (armed by the first of them) ends the wait. */
  private cancelDeferTimer: (() => void) | null = null;
  /** The wait ended: queued deferrable requests commit even alone. */
  private deferralOver = false;
  /** Flushes and stops in progress (hurry()): deferrable requests commit at once meanwhile. */
  private hurrying = 0;

  /** `queue` is the loop's request queue; `kick` runs a batch when the wait ends. */
  constructor(
    private readonly clock: Clock,
    private readonly queue: readonly TopicRequest[],
    private readonly kick: () => void,
  ) {}

  /** A request just queued: a deferrable one waits (arming the timer) unless the loop hurries. */
  admit(req: TopicRequest): void {
    if (req.deferrable && this.hurrying === 0) this.armDeferral();
    else req.deferrable = false;
  }

  /** Whether the queue starts a batch: deferrable requests alone do not, until their wait is over. */
  get queueStartsBatch(): boolean {
    return this.deferralOver ? this.queue.length > 0 : this.queue.some((r) => !r.deferrable);
  }

  /**
   * Until the returned function is called, deferrable housekeeping commits at once (queued ones
   * too): a flush or a stop waits for it and must not wait HOUSEKEEPING_WAIT_MS per round.
   */
  hurry(): () => void {
    this.hurrying++;
    this.endDeferral();
    let done = false;
    return () => {
      if (!done) this.hurrying--;
      done = true;
    };
  }

  /** A batch took every queued request: every deferrable one rode along, the wait is over for all of them. */
  taken(): void {
    this.cancelTimer();
    this.deferralOver = false;
  }

  cancelTimer(): void {
    this.cancelDeferTimer?.();
    this.cancelDeferTimer = null;
  }

  private armDeferral(): void {
    if (this.cancelDeferTimer || this.deferralOver) return;
    this.cancelDeferTimer = this.clock.setTimer(HOUSEKEEPING_WAIT_MS, () => {
      this.cancelDeferTimer = null;
      this.endDeferral();
    });
  }

  private endDeferral(): void {
    this.cancelTimer();
    if (!this.queue.some((r) => r.deferrable)) return;
    this.deferralOver = true;
    this.kick();
  }
}
