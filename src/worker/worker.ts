/**
 * The worker: a small loop that claims jobs from a {@link Queue} and runs a handler on each. It
 * knows nothing of storage or transports; it only calls claim, heartbeat, ack and nack.
 *
 * States (see {@link WorkerState}); handlers may run in any of them:
 *   idle ──start──▶ claiming ⇄ running
 *                      │  ▲        │
 *          error:      ▼  │        │      (every state) ──close()──▶ stopping ──▶ stopped
 *          idle (back-off, then claiming again)
 *
 * The loop
 *   - claiming: one claim call asks for every free slot at once (`max = concurrency - running`;
 *     a slot frees when its handler returns, while its ack is still in flight),
 *     long-polling `waitMs` when nothing is due. close() aborts the poll at once.
 *   - prefetch (claim-ahead): with `prefetch` P the claim also asks for P jobs more than there
 *     are free slots. They are held (leased and heartbeated) and started the moment a slot frees,
 *     so the slots do not wait for a claim's round trip. Once some are held, the loop tops up only
 *     when at least half of P is free again, so claims stay large. A held job whose lease may have
 *     run out is never started (held-jobs.ts). On close, held jobs, and every job of a claim that
 *     lands after close(), are handed back with release (pending at once, their attempt not
 *     counted); if the release fails they are run within the close timeout instead. By default
 *     (`'auto'`) P follows the measured handler times and claim round trips (auto-prefetch.ts);
 *     while jobs are held and every slot is busy, the loop's sleep is bounded so that held jobs
 *     stuck behind long handlers are handed back.
 *   - running: every slot is busy; the loop sleeps until a handler finishes.
 *   - idle: after a failed claim the loop backs off on the clock (200 ms doubling to 5 s), emits
 *     'error' and claims again: storage trouble and leader changes never kill it. Only CLOSED (the
 *     queue was closed under it) stops the worker.
 *   - A handler's return value is acked as the result; a throw is nacked with its message (and its
 *     numeric `retryDelayMs` as the delay), or released when the error carries `release: true`. Acks and nacks finished in the same event-loop turn
 *     go out as one ackMany / nackMany call (settle-batch.ts). Transient ack/nack failures are retried a few times;
 *     if they keep failing, the lease simply expires and the job is delivered again.
 *   - Heartbeats: one timer per worker. When it fires, every running job whose heartbeat is due
 *     (or nearly: within a third of the interval) is heartbeated, all calls issued together so they
 *     share a commit. LEASE_LOST from a heartbeat, ack or nack aborts that handler's signal (reason:
 *     the QueueError) and nothing more is reported for the job: it belongs to someone else now.
 *   - stopping: no more claims; running handlers finish and are acked/nacked as usual for up to
 *     the close timeout. Then the rest are aborted (reason CLOSED) and nacked "worker closed" with
 *     no delay, so another worker can take them at once (the attempt counts, as an expired lease would).
 *   - A started worker keeps the process alive (like a server) until it is closed.
 */
import { EventEmitter } from 'node:events';
import { QueueError, toQueueError } from '../errors.js';
import type { ClaimedJob, Queue } from '../api.js';
import { AutoPrefetch } from './auto-prefetch.js';
import { Heartbeats } from './heartbeats.js';
import { HeldJobs } from './held-jobs.js';
import { newSlot, type Slot } from './slot.js';
import { SettleBatcher } from './settle-batch.js';
import { errorBackoffMs, isTransient, resolveWorkerOptions, type ResolvedWorkerOptions } from './options.js';
import type { CloseOptions, Handler, Worker, WorkerEvents, WorkerJob, WorkerOptions, WorkerState } from './types.js';

type Outcome<V> = { ok: true; value: V } | { ok: false; error: QueueError };

const SETTLE_TRIES = 5;

/** Starts consuming `queue` with `handler`. See {@link WorkerOptions} for defaults. */
export function createWorker<T, R>(queue: Queue<T>, handler: Handler<T, R>, options: WorkerOptions = {}): Worker<T, R> {
  return new QueueWorker(queue, handler, options);
}

class QueueWorker<T, R> implements Worker<T, R> {
  readonly id: string;
  private current: WorkerState = 'idle';
  private readonly o: ResolvedWorkerOptions;
  private readonly events = new EventEmitter();
  /** Every job this worker holds a lease on: held for a slot, being handed back, running, or settling. */
  private readonly slots = new Set<Slot<T>>();
  /** Claimed ahead (prefetch), waiting for a slot; also in `slots`, for the heartbeats. */
  private readonly holding: HeldJobs<T>;
  /** Slots whose handler is still running (a lost handler keeps its slot until it returns). */
  private busy = 0;
  private started = false;
  private stopping = false;
  private drainedSent = false;
  private claimAbort: AbortController | null = null;
  private wakeLoop: (() => void) | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private closing: Promise<void> | null = null;
  private readonly heartbeats: Heartbeats<T>;
  private readonly settler: SettleBatcher<T>;
  private keepAlive: ReturnType<typeof setInterval> | null = null;
  /** The claim-ahead's sizing when `prefetch` is 'auto'. */
  private readonly auto: AutoPrefetch | null;
  /** When a slot last freed or a claim last brought jobs (clock ms): held jobs stuck since are handed back (auto). */
  private progressAt = 0;

  constructor(
    private readonly queue: Queue<T>,
    private readonly handler: Handler<T, R>,
    options: WorkerOptions,
  ) {
    if (typeof handler !== 'function') throw new QueueError('INVALID_ARGUMENT', 'createWorker needs a handler function');
    this.o = resolveWorkerOptions(options, queue.clock);
    this.id = this.o.workerId;
    this.auto = this.o.prefetch === 'auto' ? new AutoPrefetch(this.o.concurrency, this.o.prefetchLimit) : null;
    this.settler = new SettleBatcher(queue);
    this.holding = new HeldJobs({
      queue,
      now: () => this.o.clock.now(),
      slots: this.slots,
      onLost: (slot, error) => this.events.emit('lease-lost', slot.job, error),
      onError: (error) => this.emitError(error),
      onReturned: () => this.startHeld(),
    });
    this.heartbeats = new Heartbeats({
      clock: this.o.clock,
      heartbeatMs: this.o.heartbeatMs,
      leaseMs: this.o.leaseMs,
      slots: this.slots,
      heartbeat: (job, leaseMs) => this.queue.heartbeat(job, leaseMs),
      onLost: (slot, error) => this.leaseLost(slot, error),
      onError: (error) => this.emitError(error),
    });
    if (this.o.autoStart) this.start();
  }

  get state(): WorkerState {
    return this.current;
  }

  get running(): number {
    return this.slots.size - this.holding.size;
  }

  get held(): number {
    return this.holding.size;
  }

  start(): void {
    if (this.started || this.stopping) return;
    this.started = true;
    this.keepAlive = setInterval(() => {}, 2 ** 31 - 1);
    this.loopDone = this.loop().catch((err: unknown) => this.emitError(toQueueError(err)));
  }

  close(opts: CloseOptions = {}): Promise<void> {
    if (this.closing) return this.closing;
    const timeoutMs = opts.timeoutMs ?? this.o.closeTimeoutMs;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0) return Promise.reject(new QueueError('INVALID_ARGUMENT', 'close timeoutMs must be an integer >= 0'));
    this.stopping = true;
    this.setState('stopping');
    this.claimAbort?.abort(new QueueError('CLOSED', `worker ${this.id} is closing`));
    this.holding.releaseAll();
    this.heartbeats.schedule();
    this.wake();
    this.closing = this.shutdown(timeoutMs);
    return this.closing;
  }

  on<E extends keyof WorkerEvents<T, R>>(event: E, listener: (...args: WorkerEvents<T, R>[E]) => void): this {
    this.events.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  once<E extends keyof WorkerEvents<T, R>>(event: E, listener: (...args: WorkerEvents<T, R>[E]) => void): this {
    this.events.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<E extends keyof WorkerEvents<T, R>>(event: E, listener: (...args: WorkerEvents<T, R>[E]) => void): this {
    this.events.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  // --- the loop ---------------------------------------------------------------------------------

  /** Jobs to claim beyond the free slots now. */
  private get prefetch(): number {
    return this.auto ? this.auto.value : (this.o.prefetch as number);
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      const held = this.holding.waitingCount;
      const prefetch = this.prefetch;
      const room = this.o.concurrency + prefetch - this.busy - held;
      // With jobs held, top up only once half the prefetch room is free: claims stay large.
      const worthIt = held === 0 ? 1 : Math.max(1, Math.ceil(prefetch / 2));
      if (room < worthIt) {
        this.setState('running');
        if (this.auto && held > 0) {
          await this.pause(this.auto.stallMs);
          this.handBackIfStalled(this.auto);
        } else await this.pause();
        await nextTurn();
        continue;
      }
      this.setState('claiming');
      const abort = new AbortController();
      this.claimAbort = abort;
      const claimedAt = this.o.clock.now();
      let jobs: ClaimedJob<T>[];
      try {
        jobs = await this.queue.claim({ workerId: this.id, max: room, leaseMs: this.o.leaseMs, waitMs: this.o.waitMs, signal: abort.signal });
        failures = 0;
      } catch (err) {
        if (this.stopping) break;
        const error = toQueueError(err);
        // A broker whose claim limit is below what auto asked for: ask for less, at once.
        if (error.code === 'INVALID_ARGUMENT' && prefetch > 0 && this.auto?.refused()) continue;
        this.emitError(error);
        if (error.code === 'CLOSED') {
          void this.close();
          break;
        }
        this.setState('idle');
        await this.pause(errorBackoffMs(++failures));
        continue;
      } finally {
        this.claimAbort = null;
      }
      if (this.current === 'stopped') {
        // close() gave up waiting for this claim: hand the jobs back, in the background.
        if (jobs.length > 0) void this.queue.release(jobs).catch((err: unknown) => this.emitError(toQueueError(err)));
        return;
      }
      const landedAt = this.o.clock.now();
      if (jobs.length > 0) this.progressAt = landedAt;
      this.auto?.claimed(room, jobs.length, landedAt - claimedAt);
      const slots = jobs.map((job) => this.take(job, claimedAt));
      // A claim that lands after close() started: none of it runs; it goes back in one call.
      if (this.stopping) this.holding.release(slots);
      else this.startHeld();
      this.heartbeats.schedule();
      // Let every handler that finishes in this turn free its slot first: the next claim then asks
      // for all of them and leaves together with their acks (one commit, one request each).
      if (jobs.length > 0) await nextTurn();
      if (jobs.length > 0) this.drainedSent = false;
      else if (this.slots.size === 0 && !this.drainedSent) {
        this.drainedSent = true;
        this.events.emit('drained');
      }
    }
  }

  /** Sleeps until woken (a slot freed, close) or, with `ms`, until that much time passed. */
  private pause(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = ms === undefined ? () => {} : this.o.clock.setTimer(ms, () => this.wake());
      this.wakeLoop = () => {
        cancel();
        resolve();
      };
    });
  }

  private wake(): void {
    const wake = this.wakeLoop;
    this.wakeLoop = null;
    wake?.();
  }

  // --- one job ----------------------------------------------------------------------------------

  /** A claimed job, held until startHeld() gives it a slot (at once when one is free). */
  private take(job: ClaimedJob<T>, claimedAt: number): Slot<T> {
    this.holding.dropStale(job.id);
    const slot = newSlot(job, 'held', claimedAt, this.o.leaseMs, this.o.heartbeatMs, this.o.clock.now());
    this.slots.add(slot);
    this.holding.hold(slot);
    return slot;
  }

  /** Free slots take the oldest held jobs (in the same turn, before the next claim is sized). */
  private startHeld(): void {
    while (this.busy < this.o.concurrency) {
      const slot = this.holding.next();
      if (!slot) break;
      this.run(slot);
    }
  }

  private run(slot: Slot<T>): void {
    slot.phase = 'running';
    this.busy++;
    void this.execute(slot).finally(() => {
      this.slots.delete(slot);
      slot.finish();
      this.heartbeats.schedule();
      this.wake();
    });
  }

  private async execute(slot: Slot<T>): Promise<void> {
    let outcome: { ok: true; value: R } | { ok: false; error: unknown };
    const began = this.o.clock.now();
    try {
      outcome = { ok: true, value: await this.handler(slot.job, slot.abort.signal) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    this.progressAt = this.o.clock.now();
    this.auto?.handled(this.progressAt - began);
    // The handler is done: its slot is free while the ack or nack is in flight, so the next claim
    // goes out now and shares that commit (one commit per job cycle instead of two).
    this.busy--;
    this.startHeld(); // when stopping, only jobs a failed release left held
    this.wake();
    if (slot.phase !== 'running') return; // lease lost or given up at close: the outcome is not ours to report
    slot.phase = 'settling';
    if (outcome.ok) {
      const result = outcome.value;
      const { id, lease, workerId } = slot.job;
      const acked = await this.settle(slot, () => this.settler.ack({ id, lease, workerId, result }));
      if (acked.ok) return void this.events.emit('completed', slot.job, result);
      // A result the broker refuses (too large, not JSON) fails the attempt instead of vanishing.
      if (acked.error.code !== 'INVALID_ARGUMENT' && acked.error.code !== 'PAYLOAD_TOO_LARGE') return;
      outcome = { ok: false, error: new QueueError(acked.error.code, `the handler's result was refused: ${acked.error.message}`) };
    }
    const error = outcome.error;
    if ((error as { release?: unknown } | null)?.release === true) return this.handBackOne(slot, error);
    const delay = (error as { retryDelayMs?: unknown } | null)?.retryDelayMs;
    const opts = typeof delay === 'number' && Number.isInteger(delay) && delay >= 0 ? { delayMs: delay } : {};
    const { id, lease, workerId } = slot.job;
    const nacked = await this.settle(slot, () => this.settler.nack({ id, lease, workerId, error: errorMessage(error), ...opts }));
    if (nacked.ok) this.events.emit('failed', slot.job, error, nacked.value);
  }

  /**
   * Auto claim-ahead: jobs are held, every slot is busy and none has freed for a while. The
   * handlers are long after all: the held jobs go back (pending at once, attempt not counted)
   * for a worker that is free, and this one claims ahead no more until handlers are short again.
   */
  private handBackIfStalled(auto: AutoPrefetch): void {
    const stuckMs = this.o.clock.now() - this.progressAt;
    if (this.stopping || this.holding.waitingCount === 0 || this.busy < this.o.concurrency || stuckMs < auto.stallMs) return;
    auto.stalled(stuckMs);
    this.holding.releaseAll();
  }

  /** The handler asked to hand its job back (an error with `release: true`): released, the attempt not counted. */
  private async handBackOne(slot: Slot<T>, error: unknown): Promise<void> {
    const released = await this.settle(slot, () => this.queue.release([slot.job]));
    if (!released.ok) return;
    // A release skips a lease that is no longer ours: the job went to someone else meanwhile.
    if (released.value.released === 0) return this.leaseLost(slot, new QueueError('LEASE_LOST', `job ${slot.job.id} could not be handed back: its lease is no longer this worker's`));
    this.events.emit('released', slot.job, error);
  }

  /** An ack or nack, retried while the failure is transient; LEASE_LOST marks the job lost. */
  private async settle<V>(slot: Slot<T>, call: () => Promise<V>): Promise<Outcome<V>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return { ok: true, value: await call() };
      } catch (err) {
        const error = toQueueError(err);
        if (error.code === 'LEASE_LOST') {
          this.leaseLost(slot, error);
          return { ok: false, error };
        }
        const refused = error.code === 'INVALID_ARGUMENT' || error.code === 'PAYLOAD_TOO_LARGE';
        if (!refused) this.emitError(error);
        if (refused || !isTransient(error.code) || attempt >= SETTLE_TRIES || slot.phase !== 'settling') return { ok: false, error };
        await this.o.clock.sleep(errorBackoffMs(attempt));
      }
    }
  }

  private leaseLost(slot: Slot<T>, error: QueueError): void {
    if (slot.phase === 'lost' || slot.phase === 'abandoned') return;
    if (slot.phase === 'held' || slot.phase === 'releasing') {
      // Never started: nothing to abort, it just is not ours to run (or hand back) any more.
      this.holding.lost(slot);
      this.wake();
      return void this.events.emit('lease-lost', slot.job, error);
    }
    slot.phase = 'lost';
    slot.abort.abort(error);
    this.events.emit('lease-lost', slot.job, error);
  }

  // --- closing ----------------------------------------------------------------------------------

  private async shutdown(timeoutMs: number): Promise<void> {
    let timedOut = false;
    let cancel = () => {};
    const timeout = new Promise<void>((resolve) => {
      cancel = this.o.clock.setTimer(timeoutMs, () => {
        timedOut = true;
        resolve();
      });
    });
    await Promise.race([this.drain(), timeout]);
    cancel();
    if (timedOut) await this.abandonAll();
    this.heartbeats.stop();
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = null;
    this.setState('stopped');
  }

  private async drain(): Promise<void> {
    await this.loopDone;
    while (this.slots.size > 0) await Promise.all([...this.slots].map((s) => s.done));
  }

  /**
   * The close timeout ran out: abort what still runs and nack it (and anything a failed release
   * left held) for another worker at once. A release still in flight is left to land.
   */
  private async abandonAll(): Promise<void> {
    const reason = new QueueError('CLOSED', `worker ${this.id} closed before the handler finished`);
    const running = [...this.slots].filter((s) => s.phase === 'running');
    const held = this.holding.abandon();
    for (const slot of this.slots) slot.phase = 'abandoned';
    this.slots.clear();
    for (const slot of running) slot.abort.abort(reason);
    await this.handBack([...running, ...held].map((s) => s.job));
  }

  /** Jobs whose handler was aborted at close: nacked at once, so another worker takes them now. */
  private async handBack(jobs: ReadonlyArray<WorkerJob<T>>): Promise<void> {
    if (jobs.length === 0) return;
    const out = await this.queue.nackMany(jobs.map((job) => ({ ...job, error: 'worker closed', delayMs: 0 }))).catch((err: unknown) => [{ ok: false as const, error: toQueueError(err) }]);
    for (const r of out) if (!r.ok && r.error.code !== 'LEASE_LOST') this.emitError(r.error);
  }

  private setState(state: WorkerState): void {
    if (this.current === state || this.current === 'stopped') return;
    this.current = state;
    this.events.emit('state', state);
  }

  private emitError(error: QueueError): void {
    if (this.events.listenerCount('error') > 0) this.events.emit('error', error);
    else console.error(`bucketq worker ${this.id}: ${error.code}: ${error.message}`);
  }
}

/** Resolves after the current turn of the event loop (after the I/O and microtasks queued now). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}
