/**
 * The bytes of request bodies one broker holds at once, across its wires (HTTP API, gRPC/Connect,
 * the Redis port): from the first byte read until the request is answered, which for a push is
 * after its commit. Each wire asks before it reads (from a declared length when there is one, else
 * chunk by chunk) and refuses a request that would pass the budget with UNAVAILABLE, which every
 * client retries after a pause: a burst of large bodies then costs at most the budget (times the
 * few copies parsing makes), not one body per connection.
 */
import { QueueError } from '../../errors.js';

const MiB = 1024 * 1024;

/** Default budget: four bodies of the default 16 MiB limit, or any number of ordinary requests. */
export const DEFAULT_MAX_BODY_BYTES_IN_FLIGHT = 64 * MiB;

/** What a refused request is told to wait before retrying (HTTP Retry-After, in seconds). */
export const OVERLOADED_RETRY_AFTER_S = 1;

export class BodyBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  /** Bytes held right now. */
  get inUse(): number {
    return this.used;
  }

  /** A holder for one request's bytes: take() as they come, release() once when it is answered. */
  hold(): BodyHold {
    return new BodyHold(this);
  }

  /** @internal */
  tryTake(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }

  /** @internal */
  give(n: number): void {
    this.used -= n;
  }

  /** The error a refused request gets. */
  overloaded(): QueueError {
    const mib = (n: number) => `${Math.round((n / MiB) * 10) / 10} MiB`;
    return new QueueError(
      'UNAVAILABLE',
      `the broker is holding ${mib(this.used)} of request bodies and its limit is ${mib(this.limit)} (--max-body-bytes-in-flight); retry in a moment`,
      { details: { reason: 'overloaded', retryAfterMs: OVERLOADED_RETRY_AFTER_S * 1000 } },
    );
  }
}

export class BodyHold {
  private held = 0;
  private released = false;

  constructor(private readonly budget: BodyBudget) {}

  /** Takes `n` more bytes for this request; false (nothing taken) when the budget has no room or the hold was released. */
  take(n: number): boolean {
    if (this.released || !this.budget.tryTake(n)) return false;
    this.held += n;
    return true;
  }

  /** Holds exactly `n` bytes from now on: takes the difference (false, nothing taken, when there is no room) or gives it back. */
  resize(n: number): boolean {
    if (n > this.held) return this.take(n - this.held);
    this.budget.give(this.held - n);
    this.held = n;
    return true;
  }

  /** Gives back everything this request took, for good: later takes fail. Idempotent. */
  release(): void {
    this.released = true;
    this.budget.give(this.held);
    this.held = 0;
  }
}
