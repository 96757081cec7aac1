/**
 * Time as a dependency. The broker never calls Date.now() or setTimeout directly, so tests drive
 * it with {@link FakeClock} and never sleep.
 */
export interface Clock {
  now(): number;
  /**
   * Calls `fn` after `ms`; returns a cancel function. Only timers that a waiting caller depends on
   * pass `keepAlive`: housekeeping timers (lease renewal, retention) must not keep a process alive.
   */
  setTimer(ms: number, fn: () => void, keepAlive?: boolean): () => void;
  /** Resolves after `ms` (or at once when `ms` <= 0). */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn, keepAlive = false) {
    const t = setTimeout(fn, Math.max(0, ms));
    if (!keepAlive) t.unref?.();
    return () => clearTimeout(t);
  },
  sleep(ms) {
    return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
  },
};

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A manual clock. `advance(ms)` fires due timers in time order, letting promise chains settle
 * between them, so code awaiting `sleep` proceeds exactly as it would in real time.
 */
export class FakeClock implements Clock {
  private time: number;
  private timers: FakeTimer[] = [];
  private seq = 0;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const timer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => this.setTimer(ms, resolve));
  }

  /** Number of timers waiting. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing every timer that comes due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await settle();
      const next = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.time = Math.max(this.time, next.at);
      next.fn();
    }
    this.time = end;
    await settle();
  }
}

/** Lets pending promise callbacks and I/O callbacks run (a few macrotask turns). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}
