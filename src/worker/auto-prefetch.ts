/**
 * The default claim-ahead (`prefetch: 'auto'`): how many jobs a worker claims beyond its free
 * slots, sized from what it sees instead of a number the user must guess.
 *
 * Claiming ahead pays when a handler finishes faster than a claim's round trip: without it every
 * freed slot waits for the next claim. It costs when handlers are long: a held job waits in this
 * worker while another worker might be idle. So the worker measures both, in clock ms:
 *
 *   round trip   of claims that came back full (as many jobs as asked): the queue was deep, so the
 *                claim did not wait in a long poll and its time is the round trip itself
 *   handlers     how long each handler ran, smoothed
 *
 * and after each measurement:
 *
 *   grow     a full claim, handlers shorter than the round trip: double the claim-ahead (first
 *            step: `concurrency`), up to enough jobs to keep every slot busy for two round trips,
 *            and at most {@link AUTO_PREFETCH_MAX} (and 1,000 minus `concurrency`, the broker's
 *            default claim limit)
 *   shrink   handlers as long as the round trip or longer: 0, the free slots only
 *   stalled  jobs held while no slot has freed for four round trips (every slot busy with long
 *            handlers): the worker hands its held jobs back (Queue.release, the attempt not
 *            counted) and claims ahead no more, so a long job never keeps the ones behind it
 *            from a worker that is idle
 *   refused  a claim refused as too large (a broker whose `--max-claim` is below 1,000): the
 *            ceiling halves and the claim goes again
 *
 * A claim that comes back short (a shallow queue) changes nothing: there is nothing to claim ahead.
 * The shape follows TCP's congestion window: grow while it pays, drop at the first sign it does not.
 */

/** The most jobs auto claims ahead of the free slots. */
export const AUTO_PREFETCH_MAX = 256;
/** Weight of a new measurement in the smoothed round trip and handler time. */
const ALPHA = 0.3;
/** Held jobs are handed back when no slot freed for this many round trips. */
const STALL_ROUND_TRIPS = 4;
/** ... and not sooner than this (a round trip of 0 to 2 ms on a fast local broker). */
const MIN_STALL_MS = 20;

export class AutoPrefetch {
  private size = 0;
  private ceiling: number;
  private roundTripMs: number | null = null;
  private handlerMs: number | null = null;

  /** `limit`: the largest claim-ahead the worker may ask for (options.ts: 1,000 minus concurrency). */
  constructor(
    private readonly concurrency: number,
    limit: number,
  ) {
    this.ceiling = Math.min(AUTO_PREFETCH_MAX, limit);
  }

  /** Jobs to claim beyond the free slots now. */
  get value(): number {
    return this.size;
  }

  /** After this long without a slot freeing, held jobs are handed back (see {@link stalled}). */
  get stallMs(): number {
    return Math.max(MIN_STALL_MS, STALL_ROUND_TRIPS * (this.roundTripMs ?? 0));
  }

  /** A claim for `asked` jobs brought `got` after `ms`. */
  claimed(asked: number, got: number, ms: number): void {
    if (asked === 0 || got < asked) return;
    this.roundTripMs = smooth(this.roundTripMs, ms);
    this.adjust(true);
  }

  /** A handler ran for `ms`. */
  handled(ms: number): void {
    this.handlerMs = smooth(this.handlerMs, ms);
    this.adjust(false);
  }

  /** No slot freed for `ms` while jobs were held: handlers are at least that long. */
  stalled(ms: number): void {
    this.handlerMs = Math.max(this.handlerMs ?? 0, ms);
    this.size = 0;
  }

  /** A claim asking for the free slots plus {@link value} was refused as too large. Returns whether asking for less may help. */
  refused(): boolean {
    if (this.size === 0) return false;
    this.ceiling = this.size >> 1;
    this.size = this.ceiling;
    return true;
  }

  private adjust(grow: boolean): void {
    const trip = this.roundTripMs;
    const handler = this.handlerMs;
    if (trip === null || handler === null) return;
    if (handler >= trip) {
      this.size = 0;
      return;
    }
    // Enough to keep every slot busy for two round trips (a handler of 0 ms counts as 0.1).
    const enough = Math.ceil((2 * this.concurrency * trip) / Math.max(handler, 0.1));
    const bound = Math.min(this.ceiling, enough);
    this.size = grow ? Math.min(bound, Math.max(this.concurrency, this.size * 2)) : Math.min(this.size, bound);
  }
}

function smooth(previous: number | null, sample: number): number {
  return previous === null ? sample : previous + ALPHA * (sample - previous);
}
