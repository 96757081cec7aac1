/**
 * Requests that start no batch of their own, but ride along with the next one:
 *
 * - Deferrable housekeeping (`archived`: finished jobs leave the head) commits alone after
 *   HOUSEKEEPING_WAIT_MS on a topic with no other traffic. On a busy topic that saves a commit per
 *   archive window, which a drain would otherwise pay between two claims.
 * - An ack whose worker has a claim parked (a long poll waiting for jobs) lingers up to
 *   ACK_LINGER_MS. Such a worker has already freed the slot and is waiting for jobs, not for the
 *   ack's answer; the jobs come with a push, and the ack rides along with that push's commit. With
 *   many producers and a busy worker (one job per web request, the common case) the producers' pushes
 *   and the worker's acks then share a commit instead of taking turns, each waiting for the
 *   other's, whenever the worker's acks and next claim come back before the producers' next push
 *   (half the commits per job then; the other order still takes two: docs/benchmarks.md). An
 *   ack's wait widens its lease's window by as much: an ack that lands after its lease ran out is
 *   LEASE_LOST, as a late one always was. An ack with no parked claim of its worker behind it (a
 *   user's own `ack`, a worker that is still claiming) starts a batch at once, and so does any
 *   request that is not deferrable, taking every lingering ack along. When the worker's claim
 *   leaves (answered empty at its deadline, or its caller gone), the loop looks again at once.
 *
 * Nothing is answered early: a lingering ack is answered when the commit that carries it lands.
 * While a flush or stop hurries the loop, nothing waits.
 *
 * Apart from the loop (topic-loop.ts) because it is a timer and a counter of its own: the loop
 * asks it whether its queue starts a batch, and tells it when a batch took the queue.
 */
import type { Clock } from '../clock.js';
import type { OpInput } from '../core/apply.js';
import type { TopicRequest } from './topic-loop-types.js';

/** How long deferrable housekeeping waits for a batch to ride along with before it commits alone. */
export const HOUSEKEEPING_WAIT_MS = 100;

/**
 * How long an ack whose worker's claim is parked waits for a batch to ride along with. A few
 * round trips on loopback: the next push of a busy topic comes well within it; on a quiet one it is
 * what a worker's ack answer waits at most beyond its commit.
 */
export const ACK_LINGER_MS = 5;

export class BatchDeferral {
  /** Deferrable requests wait for a batch; this timer (armed by the first of them) ends the wait. */
  private cancelDeferTimer: (() => void) | null = null;
  /** When the armed timer fires (clock ms), and whether it keeps the process alive. */
  private timerDue = Infinity;
  private timerKeepsAlive = false;
  /** The wait ended: queued deferrable requests commit even alone. */
  private deferralOver = false;
  /** Flushes and stops in progress (hurry()): deferrable requests commit at once meanwhile. */
  private hurrying = 0;

  /**
   * `queue` is the loop's request queue; `kick` runs a batch when the wait ends; `claimParked`
   * says whether a claim of this worker is parked (topic-committer.ts).
   */
  constructor(
    private readonly clock: Clock,
    private readonly queue: readonly TopicRequest[],
    private readonly kick: () => void,
    private readonly claimParked: (worker: string) => boolean,
  ) {}

  /** A request just queued: a deferrable one, or an ack, waits (arming the timer) unless the loop hurries. */
  admit(req: TopicRequest): void {
    if (this.hurrying > 0) req.deferrable = false;
    else if (req.deferrable) this.arm(HOUSEKEEPING_WAIT_MS, false);
    else if (req.op === 'ack' && !req.internal) {
      req.deferrable = true;
      req.lingers = true;
      // A caller waits for this ack's answer: its timer keeps the process alive (housekeeping's does not).
      this.arm(ACK_LINGER_MS, true);
    }
  }

  /** Whether the queue starts a batch: deferrable requests alone do not, until their wait is over. */
  get queueStartsBatch(): boolean {
    if (this.deferralOver) return this.queue.length > 0;
    return this.queue.some((r) => !r.deferrable || (r.lingers === true && !this.claimParked((r.input as OpInput<'ack'>).worker)));
  }

  /**
   * Until the returned function is called, deferrable requests commit at once (queued ones too):
   * a flush or a stop waits for them and must not wait HOUSEKEEPING_WAIT_MS per round.
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
    this.timerDue = Infinity;
    this.timerKeepsAlive = false;
  }

  /**
   * Ends the wait within `ms`, keeping the process alive meanwhile when `keepAlive`: a timer
   * already armed to fire sooner stays (made to keep the process alive if it did not).
   */
  private arm(ms: number, keepAlive: boolean): void {
    if (this.deferralOver) return;
    const due = Math.min(this.clock.now() + ms, this.timerDue);
    if (this.cancelDeferTimer && this.timerDue <= due && (this.timerKeepsAlive || !keepAlive)) return;
    const alive = keepAlive || (this.cancelDeferTimer !== null && this.timerKeepsAlive);
    this.cancelTimer();
    this.timerDue = due;
    this.timerKeepsAlive = alive;
    this.cancelDeferTimer = this.clock.setTimer(
      due - this.clock.now(),
      () => {
        this.cancelDeferTimer = null; // fired: endDeferral's cancelTimer() resets the rest
        this.endDeferral();
      },
      alive,
    );
  }

  private endDeferral(): void {
    this.cancelTimer();
    if (!this.queue.some((r) => r.deferrable)) return;
    this.deferralOver = true;
    this.kick();
  }
}
