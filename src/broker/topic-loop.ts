/**
 * The commit loop of one topic: it queues requests, applies each batch of them to the cached
 * state and commits the batch as one conditional write of queue.json. One loop per topic per
 * broker (broker.ts). Its parts, each in its own file with its own tests:
 *
 *   queue-object.ts  the conditional write: load, write with ifMatch, ambiguous outcomes, STATE_LOST
 *   leadership.ts    the lease: elect, renewal, standby (fail fast or wait), a restart under one id
 *   parking.ts       long-polling claims that wait for a job, and their timers
 *   topic-segments.ts the backlog's segment objects: written before the head, read ahead, GC
 *
 * What stays here is the order of things: the modes, the batch queue, one write in flight. (That
 * is still about 600 lines, over our ~400 norm: every mode change below is made in this file, and
 * they are easiest to check side by side; a batch's state changes are core/batch.ts.)
 *
 * Modes
 * - unloaded: nothing read yet (or a reset installed a state). The next batch reads queue.json,
 *   or starts a topic that never existed, and elects: to leading, standby or lost.
 * - leading: this broker holds the lease. It caches state + etag and reads again only after a
 *   conflict; every batch becomes at most one conditional write; reads (get, stats, listJobs,
 *   workers) are answered from the committed state at once when no batch is being applied and
 *   no caller's write is queued before them (readNow). An idle leader renews its lease at a
 *   third of its length, and retries as often after a failed write, so it finds a broken store
 *   and a repaired one (readiness reads `storageFailure`). Left for standby when a conflict's
 *   reload shows another leader (fenced), for lost, or for stopped.
 * - standby: another broker holds a live lease. In `reject` mode requests fail fast with
 *   NOT_LEADER naming it, from the last read while that is under a second old; then a batch reads
 *   again and takes a given-up or stale lease over. In `wait` mode (embedded use) requests wait,
 *   for up to three leases, until that lease is stale and this broker takes over, bumping the epoch,
 *   unless the holder is a network broker (its lease names a URL): that one leads as long as it
 *   runs, so they fail fast as in `reject` (leadership.ts).
 * - lost: queue.json vanished (or went back to an older commit) after this broker saw it. Every
 *   request fails with STATE_LOST and parked long polls end; nothing is re-created implicitly. A
 *   request reads the object again at most once a second and the loop carries on (unloaded) when
 *   it is back at or past what this broker saw; otherwise only reset() (an operator's action) ends it.
 * - stopped: stop() committed what was queued (and gave the lease up); every request fails with CLOSED.
 *
 * The loop
 *   Requests queue up in `queue`. `run()` is the only writer and runs one batch at a time, so one
 *   CAS write is in flight per topic, ever. Requests arriving while a write is in flight form the
 *   next batch, taken the moment the current one settles: no interval timer (but a store's
 *   minWriteIntervalMs is honoured; batches grow meanwhile). A reset runs alone between batches.
 *   Deferrable housekeeping (`archived`: finished jobs leave the head) starts no batch of its
 *   own: it rides along with the next one, or commits alone after HOUSEKEEPING_WAIT_MS on a topic
 *   with no other traffic (at once while a flush or stop waits). On a busy topic that saves a
 *   commit per archive window, which a drain would otherwise pay between two claims. A batch:
 *     1. stamps the draft (seq + 1, writer id, time) and, unless it carries this broker's lease,
 *        applies `elect` first;
 *     2. confirms id lookups that hit segments (topic-segments.ts), refills from segments read
 *        ahead, sweeps if something is due, then applies every request (one op's error fails
 *        only it) and seals what exceeds the head's window into planned segments;
 *     3. writes nothing if nothing changed and the lease is fresh; answers at once;
 *     4. otherwise renews the lease in the draft, writes the planned segments create-only (a
 *        failure fails the batch as 8), serialises and writes the head with ifMatch;
 *     5. on success settles every request, then runs side effects (archiving, waking pollers);
 *     6. on a conflict reloads and re-applies the whole batch from scratch (results reset); if the
 *        reload shows another live leader, `elect` fails and the batch gets NOT_LEADER (fenced);
 *     7. on an ambiguous write the object re-reads: seq and writer tell whether it landed; if not,
 *        as 6; if the re-read fails or shows a later commit by another writer, the outcome stays
 *        unknown and the batch gets STORE_AMBIGUOUS (re-applying could apply it twice);
 *     8. on storage failure past the retries, drops the draft (reloaded next time) and answers
 *        UNAVAILABLE: nothing was acknowledged, nothing is lost.
 *   A claim that finds no job and may wait is parked. A batch that may make a job claimable (a
 *   push, nack, release, retry, resume) takes every parked claim along, after its own requests:
 *   they see its jobs, in priority and FIFO order, and are answered by the same commit, so one
 *   write stands between a push and the handler of a waiting worker (the hand-off). Should that
 *   write fail, they go back to waiting; a claim it leaves empty parks again, with its own
 *   deadline. Parked claims also run again after a commit that left jobs pending (a claim that
 *   came before the push in its batch), and when a delayed job or a lease comes due.
 */
import { apply, type OpInput, type OpName, type OpOutput, type OpResult } from '../core/apply.js';
import { applyBatch } from '../core/batch.js';
import type { SweepOutput } from '../core/ops/sweep.js';
import { nextDueAt, type QueueState } from '../core/state.js';
import type { BrokerLease } from '../core/types.js';
import { isQueueError, QueueError } from '../errors.js';
import type { StorageDriver } from '../storage/types.js';
import type { BrokerEvents } from './broker-events.js';
import type { Clock } from '../clock.js';
import { Leadership } from './leadership.js';
import { ParkingLot } from './parking.js';
import { asQueueError, QueueObject } from './queue-object.js';
import { RecentReader } from './recent-reader.js';
import type { RetryPolicy } from './retry.js';
import type { LostState } from './state-history.js';
import type { ResetOutcome } from './topic-reset.js';
import { TopicSegments, type SegmentLoss } from './topic-segments.js';
import type { BacklogLimits } from '../core/segments/manifest.js';

export interface TopicRequest<K extends OpName = OpName> {
  op: K;
  input: OpInput<K>;
  resolve(value: OpOutput<K>): void;
  reject(err: QueueError): void;
  /** Long-poll claims: park an empty result until this time. */
  deadline?: number;
  signal?: AbortSignal;
  /** Called with the commit seq when the request succeeded in a landed commit, before it resolves (tracing; must not throw). */
  onLanded?: (seq: number) => void;
  /** The broker's own housekeeping (archived, expireDead, resign, ...): reads do not wait for it. */
  internal?: boolean;
  /** Housekeeping that starts no batch: it joins the next one, or commits after HOUSEKEEPING_WAIT_MS (see the header). */
  deferrable?: boolean;
  /** Enqueue time, for the standby wait limit. */
  since: number;
}

export interface TopicLoopOptions {
  topic: string;
  store: StorageDriver;
  clock: Clock;
  /** This broker instance: lease holder id and commit writer id. */
  brokerId: string;
  url: string;
  leaseMs: number;
  standby: 'wait' | 'reject';
  retry: RetryPolicy;
  random: () => number;
  events: BrokerEvents;
  /** Runs after every landed commit that changed the state (archiving, payload clean-up). */
  afterCommit(state: QueueState, requests: readonly TopicRequest[], results: readonly OpResult<OpName>[], swept: SweepOutput | undefined): void;
  /** Called when this broker takes the lease of the topic. */
  onLeading?(): void;
  /** Bounds of the head's window (docs/format.md, section 8); the defaults when omitted. */
  backlogLimits?: Partial<BacklogLimits>;
  /** How often the leader lists segments for orphans (BrokerOptions.orphanListingMs). */
  orphanListingMs?: number;
}

type Mode = 'unloaded' | 'leading' | 'standby' | 'lost' | 'stopped';

/** Codes of a batch that failed because the store did (readiness: this broker cannot commit). */
const STORAGE_FAILURES: ReadonlySet<string> = new Set(['UNAVAILABLE', 'STORE_UNAVAILABLE', 'STORE_AMBIGUOUS']);

/** What a caller may attach to a request besides its op and input. */
export type SubmitExtra = Pick<TopicRequest, 'deadline' | 'signal' | 'onLanded' | 'internal' | 'deferrable'>;

/** How long deferrable housekeeping waits for a batch to ride along with before it commits alone. */
export const HOUSEKEEPING_WAIT_MS = 100;

const MAX_CONFLICT_ROUNDS = 20;
/** Ops that never change the state: a batch of only these writes nothing (unless the lease needs renewing). */
const READ_ONLY: ReadonlySet<OpName> = new Set<OpName>(['get', 'stats', 'listJobs', 'workers']);
/** Ops that can make a job claimable at once: a batch with one takes the parked claims along. */
const READIES: ReadonlySet<OpName> = new Set<OpName>(['push', 'nack', 'unclaim', 'retry', 'retryDead', 'configure']);
/** Parked claims that ride along with a batch (none, for most). */
type Riders = ReadonlySet<TopicRequest>;
const NO_RIDERS: Riders = new Set();

export class TopicLoop {
  private queue: TopicRequest[] = [];
  /** Long-polling claims that found no job (parking.ts). */
  private readonly parking: ParkingLot<TopicRequest>;
  private running = false;
  /** A batch is applied to the draft and its write may be in flight: the state is not the committed one. */
  private committing = false;
  private mode: Mode = 'unloaded';
  /** queue.json: its cached state (the draft while a batch runs), the conditional write. */
  private readonly object: QueueObject;
  /** The lease: term, renewal, standby (leadership.ts). */
  private readonly leadership: Leadership;
  /** The renewal timer fired: run a batch even with no request (it renews the lease if due). */
  private wantWrite = false;
  private lastWriteAt = -Infinity;
  private idleWaiters: Array<() => void> = [];
  /** Work that runs alone between batches (reset): no batch in flight, none starts meanwhile. */
  private tasks: Array<{ run(): Promise<void>; fail(err: QueueError): void }> = [];
  /** Reads the recent window's ids back after a load (see recent-reader.ts). */
  private readonly recent: RecentReader;
  /** The last batch failed in the store and none landed since (readiness). */
  private failure: { error: QueueError; since: number } | null = null;
  /** The topic's segment objects (topic-segments.ts). */
  private readonly segments: TopicSegments;
  /** Deferrable requests wait for a batch; this timer (armed by the first of them) ends the wait. */
  private cancelDeferTimer: (() => void) | null = null;
  /** The wait ended: queued deferrable requests commit even alone. */
  private deferralOver = false;
  /** Flushes and stops in progress (hurry()): deferrable requests commit at once meanwhile. */
  private hurrying = 0;

  constructor(private readonly o: TopicLoopOptions) {
    this.parking = new ParkingLot(o.clock, (req) => req.resolve({ jobs: [] } as never));
    this.leadership = new Leadership({ topic: o.topic, brokerId: o.brokerId, url: o.url, leaseMs: o.leaseMs, standby: o.standby, clock: o.clock });
    this.recent = new RecentReader({
      store: o.store,
      clock: o.clock,
      retry: o.retry,
      random: o.random,
      onError: (key, error) => this.emit('internal-error', { topic: o.topic, op: `recent window from ${key}`, error }),
    });
    this.segments = new TopicSegments({
      topic: o.topic,
      store: o.store,
      clock: o.clock,
      retry: o.retry,
      random: o.random,
      onReadAhead: () => this.readAheadLanded(),
      onError: (op, error) => this.emit('internal-error', { topic: o.topic, op, error }),
      onLost: (key, error) => this.emit('segment-lost', { topic: o.topic, key, error }),
      ...(o.orphanListingMs !== undefined ? { orphanListingMs: o.orphanListingMs } : {}),
    });
    this.object = new QueueObject({
      topic: o.topic,
      store: o.store,
      clock: o.clock,
      retry: o.retry,
      random: o.random,
      writer: o.brokerId,
      ...(o.backlogLimits ? { limits: o.backlogLimits } : {}),
      onAmbiguous: (landed) => this.emit('ambiguous', { topic: o.topic, landed }),
    });
  }

  /** A segment read ahead arrived: run a batch so that it refills the head (an idle topic too). */
  private readAheadLanded(): void {
    if (this.mode !== 'leading') return;
    this.wantWrite = true;
    this.kick();
  }

  /** Set while the topic's state is lost (STATE_LOST): why, since when, what could be restored. */
  get lost(): LostState | null {
    return this.mode === 'lost' ? this.object.lost : null;
  }

  /**
   * Set while a segment the head names is missing or undecodable and no read of it has succeeded
   * since (leading only: a standby reads no segments). Its jobs, and in strict priority order
   * every claim behind them, wait; nothing is skipped or re-created (docs/format.md).
   */
  get segmentLoss(): SegmentLoss | null {
    return this.mode === 'leading' ? this.segments.loss : null;
  }

  /** Set while the last batch failed in the store (UNAVAILABLE, STORE_*) and none has landed since. */
  get storageFailure(): { error: QueueError; since: number } | null {
    return this.failure;
  }

  get isLeading(): boolean {
    return this.mode === 'leading';
  }

  /** The last known leader lease (ours when leading). */
  get leaderLease(): BrokerLease | null {
    return this.mode === 'leading' ? (this.state?.broker ?? null) : this.leadership.leader;
  }

  private get state(): QueueState | null {
    return this.object.state;
  }

  /** Live job counts of the cached state (approximate while a batch runs), or null when not loaded. */
  get counts(): { pending: number; delayed: number; claimed: number } | null {
    return this.state ? { ...this.state.idx.counts } : null;
  }

  /**
   * Whether a job of the cached state (live, or finished and not yet archived) still points at this
   * payload object. A job of the same `id` waiting in a segment (a retried dead job sealed there) is
   * taken to: its record is not in memory, so the object is kept.
   */
  referencesPayload(ref: string, id?: string): boolean {
    if (!this.state) return true; // unknown: keep the object
    const where = id === undefined ? undefined : this.state.backlog.locate(id);
    if (where && where.at !== 'head') return true;
    for (const job of this.state.jobs.values()) if (job.payloadRef === ref) return true;
    // A retried dead job that finished again waits in `done` for its own archive, which inlines the payload.
    for (const job of this.state.done) if (job.payloadRef === ref) return true;
    return false;
  }

  /** Segments a page of jobs may list from, and their reads (topic-segments.ts; Broker#listJobs). */
  get pageSegments(): Pick<TopicSegments, 'pageSource' | 'readForPage'> {
    return this.segments;
  }

  /** The committed state, read-only, when leading (for dashboards and tests). */
  get committed(): QueueState | null {
    return this.mode === 'leading' && !this.running ? this.state : null;
  }

  submit<K extends OpName>(op: K, input: OpInput<K>, extra: SubmitExtra = {}): Promise<OpOutput<K>> {
    return new Promise<OpOutput<K>>((resolve, reject) => {
      if (this.mode === 'stopped') return reject(new QueueError('CLOSED', `the broker stopped serving topic ${this.o.topic}`));
      if (this.mode === 'lost' && !this.object.lostRecheckDue(this.o.clock.now())) return reject(this.object.lost!.error);
      if (extra.signal?.aborted) return reject(new QueueError('CLOSED', 'request aborted by the caller'));
      const notLeader = this.mode === 'standby' ? this.leadership.failFast() : null;
      if (notLeader) return reject(notLeader);
      if (this.readNow(op, input, resolve, reject)) return;
      const req = { op, input, resolve, reject, since: this.o.clock.now(), ...extra } as TopicRequest;
      extra.signal?.addEventListener('abort', () => this.abort(req), { once: true });
      this.queue.push(req);
      if (req.deferrable && this.hurrying === 0) this.armDeferral();
      else req.deferrable = false;
      this.kick();
    });
  }

  /** Internal ops (archived, expireDead, resign): same batching, errors only logged as events; `deferrable`: see the header. */
  submitInternal<K extends OpName>(op: K, input: OpInput<K>, deferrable = false): Promise<OpOutput<K> | undefined> {
    return this.submit(op, input, { internal: true, deferrable }).catch((err: unknown) => {
      // A lost topic was reported once (the 'state-lost' event); its housekeeping just stops.
      if (!isQueueError(err, 'STATE_LOST')) this.emit('internal-error', { topic: this.o.topic, op, error: err });
      return undefined;
    });
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

  private armDeferral(): void {
    if (this.cancelDeferTimer || this.deferralOver) return;
    this.cancelDeferTimer = this.o.clock.setTimer(HOUSEKEEPING_WAIT_MS, () => {
      this.cancelDeferTimer = null;
      this.endDeferral();
    });
  }

  private endDeferral(): void {
    this.cancelDeferTimer?.();
    this.cancelDeferTimer = null;
    if (!this.queue.some((r) => r.deferrable)) return;
    this.deferralOver = true;
    this.kick();
  }

  /** Queued work that starts a batch: deferrable requests alone do not, until their wait is over. */
  private get hasWork(): boolean {
    return this.wantWrite || this.tasks.length > 0 || (this.deferralOver ? this.queue.length > 0 : this.queue.some((r) => !r.deferrable));
  }

  /** Resolves once no batch runs and none is queued. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /**
   * Stops the loop: waits for the batch in flight, commits what is queued, gives the lease up
   * (when `resign`) so a standby can take over at once, then refuses everything.
   */
  async stop(resign = true): Promise<void> {
    if (this.mode === 'stopped') return;
    this.hurry(); // never released: a stopped loop takes no more requests
    for (const p of this.parking.unparkAll()) p.resolve({ jobs: [] } as never);
    await this.idle();
    if (resign && this.mode === 'leading') {
      this.leadership.resign();
      await this.submitInternal('resign', { id: this.o.brokerId });
    }
    await this.idle();
    this.mode = 'stopped';
    this.clearTimers();
    // A waiting standby may still hold requests (and one may have slipped in since idle()).
    const closed = new QueueError('CLOSED', `the broker stopped serving topic ${this.o.topic}`);
    this.failAll(this.queue.splice(0), closed);
    for (const t of this.tasks.splice(0)) t.fail(closed);
    for (const p of this.parking.unparkAll()) p.resolve({ jobs: [] } as never); // long polls parked while draining
  }

  /**
   * The explicit action that serves a topic whose state was lost (docs/operations.md, "When a
   * topic's state vanishes"). It runs alone between batches and never touches a topic whose
   * object is in place (FAILED_PRECONDITION) or that never existed (NOT_FOUND). If an object is
   * back (restored by hand, or reset through another broker), it is adopted as it is. If none is,
   * a fresh empty state is written, or with `fromMemory` the last commit this broker landed while
   * leading; either continues the seq and epoch this broker saw, and is written create-only, so
   * it never replaces an object that appeared meanwhile.
   */
  reset(fromMemory: boolean): Promise<ResetOutcome> {
    return new Promise<ResetOutcome>((resolve, reject) => {
      if (this.mode === 'stopped') return reject(new QueueError('CLOSED', `the broker stopped serving topic ${this.o.topic}`));
      this.tasks.push({ run: () => this.resetNow(fromMemory).then(resolve, (err: unknown) => reject(asQueueError(err))), fail: reject });
      this.kick();
    });
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * A read (get, stats) is answered from the committed state at once when that is exactly what a
   * batch would see: leading, no batch applied, nothing due that a sweep would change first. It
   * never waits behind a batch that is pacing itself for the store (minWriteIntervalMs), but it
   * does wait for writes submitted before it (queued, not yet committing): a caller that sends a
   * push and then a read (a RESP pipeline) reads its own write.
   */
  private readNow<K extends OpName>(op: K, input: OpInput<K>, resolve: (v: OpOutput<K>) => void, reject: (e: QueueError) => void): boolean {
    if (!READ_ONLY.has(op) || this.mode !== 'leading' || this.committing || this.leadership.resigning || !this.state) return false;
    if (this.queue.some((r) => !r.internal && !READ_ONLY.has(r.op))) return false;
    if (this.segments.wantsBatch(this.state, op, input)) return false; // a get of a job in a segment: read it first
    const now = this.o.clock.now();
    const due = nextDueAt(this.state, now);
    if ((due !== undefined && due <= now) || this.leadership.renewDue(this.state.broker!, now)) return false;
    const r = apply(this.state, op, input, now);
    if (r.ok) resolve(r.value as OpOutput<K>);
    else reject(r.error);
    return true;
  }

  private abort(req: TopicRequest): void {
    const i = this.queue.indexOf(req);
    if (i >= 0) this.queue.splice(i, 1);
    else if (this.parking.unpark(req).length === 0) return;
    req.reject(new QueueError('CLOSED', 'request aborted by the caller'));
  }

  /**
   * Events are for observers (metrics, tests, logs): a listener that throws must never break the
   * loop or leave a landed batch unanswered, so its error is swallowed here.
   */
  private readonly emit: BrokerEvents['emit'] = (event, ...payload) => {
    try {
      return this.o.events.emit(event, ...payload);
    } catch {
      return false; // an observer's bug is not the queue's failure
    }
  };

  private kick(): void {
    // At the end of this turn of the event loop (setImmediate, not a microtask), so that every
    // request submitted in it joins one batch: a worker's claim and its ackMany arrive on two
    // connections in the same poll phase, and a microtask would commit the first one alone.
    if (this.running) return;
    setImmediate(() => {
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.hasWork && this.mode !== 'stopped') {
        const task = this.tasks.shift();
        if (task) {
          this.committing = true;
          try {
            await task.run();
          } finally {
            this.committing = false;
          }
          continue;
        }
        if (this.mode === 'standby' && this.leadership.mustWait()) {
          this.leadership.waitForStaleLease(() => this.kick());
          break;
        }
        const gap = this.lastWriteAt + this.o.store.minWriteIntervalMs - this.o.clock.now();
        // Batches grow meanwhile; reads alone (get, stats) never write, so they do not wait.
        if (gap > 0 && this.queue.some((r) => !READ_ONLY.has(r.op))) await this.o.clock.sleep(gap);
        const batch = this.queue.splice(0);
        // Every deferrable request rides along with this batch: the wait is over for all of them.
        this.cancelDeferTimer?.();
        this.cancelDeferTimer = null;
        this.deferralOver = false;
        const riders = this.handOff(batch);
        this.wantWrite = false;
        this.committing = true;
        try {
          await this.commit(batch, riders);
        } finally {
          this.committing = false;
        }
      }
    } catch (err) {
      this.emit('internal-error', { topic: this.o.topic, op: 'run', error: err });
    } finally {
      this.running = false;
      if (this.hasWork && this.mode !== 'stopped' && !this.leadership.waitingForStaleLease) queueMicrotask(() => this.kick());
      // Deferrable requests alone keep the loop from idle: their timer (or a hurry()) commits them.
      else if (this.mode === 'stopped' || !this.queue.every((r) => r.deferrable) || this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Reads queue.json; a lost topic whose object is back at or past what this broker saw carries on. */
  private async load(): Promise<void> {
    const state = await this.object.load();
    if (this.mode === 'lost') {
      // Back at or past what this broker saw (another broker reset it): carry on from there.
      this.mode = 'unloaded';
      this.object.recovered();
      this.emit('state-reset', { topic: this.o.topic, action: 'found', seq: state.seq });
    }
  }

  private async commit(batch: TopicRequest[], riders: Riders = NO_RIDERS): Promise<void> {
    const started = this.o.clock.now();
    let conflicts = 0;
    for (;;) {
      if (!this.state) {
        try {
          await this.load();
        } catch (err) {
          return this.failBatch(batch, asQueueError(err), riders);
        }
      }
      const s = this.state!;
      const held = s.broker && s.broker.id !== this.o.brokerId && s.broker.leaseUntil > this.o.clock.now();
      if (!held && this.recent.needed(s, this.o.clock.now())) {
        try {
          await this.recent.hydrate(s, this.o.clock.now());
        } catch (err) {
          this.object.drop();
          return this.failBatch(batch, asQueueError(err), riders);
        }
      }
      let requests: readonly TopicRequest[];
      try {
        requests = await this.segments.prepare(s, batch);
      } catch (err) {
        this.object.drop();
        return this.failBatch(batch, asQueueError(err), riders);
      }
      const now = this.o.clock.now();
      const elect = this.mode === 'leading' && this.leadership.holds(s) ? null : this.leadership.electInput();
      if (!elect) {
        this.segments.collectGarbage(s, now, 2 * this.o.leaseMs);
        this.segments.collectOrphans(() => (this.mode === 'leading' ? this.state : null), now, 2 * this.o.leaseMs);
      }
      const applied = applyBatch(s, this.o.brokerId, requests, elect, now, { nonce: this.segments.nonce(), source: this.segments.source });
      if (!applied.ok) return this.becomeStandby(batch, applied.error, s.broker, riders);
      const { changed, results, swept } = applied;
      const lease = s.broker!;
      // Renew once a third of the lease has passed (the idle timer fires right then).
      if (!changed && (!this.leadership.renewDue(lease, now) || this.leadership.resigning)) {
        applied.unstamp();
        if (this.mode === 'leading') this.segments.readAhead(s, now);
        this.settle(batch, results, now);
        if (!this.leadership.renewalScheduled) this.scheduleTimers();
        return;
      }
      // Commits renew the lease; a resign keeps it at 0 so a standby takes over at once, and so
      // do the commits of requests that arrive while the loop drains after it.
      this.leadership.renew(lease, now);
      // A batch of reads that turned out to write (a due renewal) did not wait in run(): wait here.
      const gap = this.lastWriteAt + this.o.store.minWriteIntervalMs - this.o.clock.now();
      if (gap > 0) await this.o.clock.sleep(gap);
      if (applied.segmentWrites.length > 0) {
        try {
          await this.segments.write(applied.segmentWrites);
        } catch (err) {
          this.object.drop(); // the draft names segments that are not all there: never write it
          return this.failBatch(batch, asQueueError(err), riders);
        }
      }
      const body = this.object.serialize(s);
      const outcome = await this.object.write(s, body);
      if (outcome.kind === 'landed') {
        const wasLeading = this.mode === 'leading';
        this.mode = 'leading';
        this.leadership.took(s.broker!.epoch);
        this.failure = null;
        this.lastWriteAt = this.o.clock.now();
        if (!wasLeading) {
          this.emit('leader', { topic: this.o.topic, broker: this.o.brokerId, epoch: s.broker!.epoch });
          this.o.onLeading?.();
        }
        this.emit('commit', { topic: this.o.topic, seq: s.seq, requests: batch.length, bytes: body.length, ms: this.o.clock.now() - started, conflicts });
        this.settle(batch, results, now, s.seq);
        this.recent.remember(s);
        this.o.afterCommit(s, batch, results, swept);
        this.segments.readAhead(s, this.o.clock.now());
        this.wakeParked();
        this.scheduleTimers();
        return;
      }
      if (outcome.kind === 'failed') return this.failBatch(batch, outcome.error, riders);
      // 'conflict': the cache was dropped (read again next round) or holds what an ambiguous
      // write's re-read found; re-apply everything from scratch.
      conflicts++;
      this.emit('conflict', { topic: this.o.topic, round: conflicts });
      if (conflicts >= MAX_CONFLICT_ROUNDS) {
        this.object.drop();
        return this.failAll(batch, new QueueError('UNAVAILABLE', `topic ${this.o.topic}: ${conflicts} write conflicts in a row`), riders);
      }
    }
  }

  /** Answers a batch; `seq` is its commit's when it was written (absent when nothing was). */
  private settle(batch: TopicRequest[], results: OpResult<OpName>[], now: number, seq?: number): void {
    batch.forEach((req, i) => {
      const r = results[i]!;
      if (!r.ok) return req.reject(r.error);
      if (seq !== undefined) req.onLanded?.(seq);
      if (req.op === 'claim' && req.deadline !== undefined && req.deadline > now && !req.signal?.aborted && (r.value as OpOutput<'claim'>).jobs.length === 0) {
        this.park(req);
        return;
      }
      if (req.signal?.aborted && req.op === 'claim') {
        // The caller hung up while its claim was being committed: hand the jobs back untouched.
        const { jobs } = r.value as OpOutput<'claim'>;
        const worker = (req.input as OpInput<'claim'>).worker;
        if (jobs.length > 0) void this.submitInternal('unclaim', { jobs: jobs.map((j) => ({ id: j.id, worker, token: j.lease })) });
        return req.reject(new QueueError('CLOSED', 'request aborted by the caller'));
      }
      req.resolve(r.value as never);
    });
  }

  private park(req: TopicRequest): void {
    this.parking.park(req, req.deadline!);
    this.scheduleTimers();
  }

  /**
   * The hand-off: when `batch` may make a job claimable, every parked claim joins it, after the
   * batch's own requests (so they see its jobs) and in the order they parked. Returns them: a
   * failed write sends them back to waiting instead of failing them (failAll).
   */
  private handOff(batch: TopicRequest[]): Riders {
    if (this.parking.size === 0 || !batch.some((r) => READIES.has(r.op))) return NO_RIDERS;
    const riders = this.parking.unparkAll();
    batch.push(...riders);
    return new Set(riders);
  }

  /** After a commit that changed something, parked long-polls try again in the next batch. */
  private wakeParked(): void {
    if (this.parking.size === 0 || !this.state) return;
    const c = this.state.idx.counts;
    if (c.pending === 0) return;
    this.queue.push(...this.parking.unparkAll());
  }

  private scheduleTimers(): void {
    if (this.mode !== 'leading') return;
    this.leadership.scheduleRenewal(() => {
      this.wantWrite = true;
      this.kick();
    });
    // Parked long polls try again when a delayed job or a lease comes due; a delayed segment is
    // read ahead of its due time (topic-segments.ts), so its job is in the head by then.
    if (this.state) this.segments.scheduleReadAhead(this.state, this.o.clock.now());
    this.parking.wakeAt(this.parking.size > 0 && this.state ? nextDueAt(this.state, this.o.clock.now()) : undefined, (woken) => {
      this.queue.push(...woken);
      this.kick();
    });
  }

  private becomeStandby(batch: TopicRequest[], err: QueueError, holder: BrokerLease | null, riders: Riders = NO_RIDERS): void {
    const wasLeading = this.mode === 'leading';
    this.mode = 'standby';
    this.leadership.refused(holder);
    this.object.drop(); // read again before any takeover attempt
    this.failure = null; // the topic is not ours to commit
    this.object.forgetMemory();
    this.clearTimers();
    if (wasLeading) this.emit('fenced', { topic: this.o.topic, leader: this.leadership.leader });
    for (const p of this.parking.unparkAll()) p.reject(err);
    // Parked claims that rode along fail as the parked ones do. Of the batch's own requests,
    // `reject` mode fails all; `wait` mode keeps them (up to a limit) for a takeover once the holder's lease is stale.
    const waits = (r: TopicRequest) => !riders.has(r) && this.leadership.mayWait(r.since);
    this.failAll(batch.filter((r) => !waits(r)), err);
    this.queue.unshift(...batch.filter(waits));
  }

  /** Fails every request of `batch`, but for the parked claims that rode along: they wait again, if they still may. */
  private failAll(batch: TopicRequest[], err: QueueError, riders: Riders = NO_RIDERS): void {
    const now = this.o.clock.now();
    for (const req of batch) {
      if (riders.has(req) && this.mode === 'leading' && req.deadline! > now && !req.signal?.aborted) this.park(req);
      else req.reject(err);
    }
  }

  /**
   * Fails a batch the store did not let through. A lost state stops the topic; a storage failure
   * is kept for readiness, and a leader tries its lease again a third of a lease later, so even an
   * idle broker notices when the store works again.
   */
  private failBatch(batch: TopicRequest[], err: QueueError, riders: Riders = NO_RIDERS): void {
    if (err.code === 'STATE_LOST') this.enterLost(err);
    else if (STORAGE_FAILURES.has(err.code)) {
      this.failure = { error: err, since: this.failure?.since ?? this.o.clock.now() };
      if (this.mode === 'leading') this.scheduleTimers();
    }
    this.failAll(batch, err, riders);
  }

  /** Stops serving the topic: its object vanished or went back. Reported once, per loss. */
  private enterLost(err: QueueError): void {
    const first = this.mode !== 'lost';
    this.mode = 'lost';
    this.object.forget();
    this.leadership.forget(); // a reset starts a new term
    this.failure = null;
    this.clearTimers();
    for (const p of this.parking.unparkAll()) p.reject(err);
    this.failAll(this.queue.splice(0), err);
    const lost = this.object.lost!;
    if (first) this.emit('state-lost', { topic: this.o.topic, error: err, seq: lost.seq, memorySeq: lost.memorySeq });
  }

  /** reset(), alone between batches: topic-reset.ts decides, queue-object.ts installs, this commits it. */
  private async resetNow(fromMemory: boolean): Promise<ResetOutcome> {
    const topic = this.o.topic;
    const plan = await this.object.reset(fromMemory, { lost: this.mode === 'lost', lose: (err) => this.enterLost(err) });
    this.mode = 'unloaded';
    if (plan.action === 'adopted') {
      // Loaded as any read: the next request elects or finds the leader.
      this.emit('state-reset', { topic, action: plan.action, seq: plan.state.seq });
      return { topic, action: plan.action, seq: plan.state.seq };
    }
    const stats = await this.commitAlone('stats', {}); // elect + a create-only write
    this.emit('state-reset', { topic, action: plan.action, seq: stats.seq });
    return { topic, action: plan.action, seq: stats.seq, jobs: { pending: stats.pending, delayed: stats.delayed, claimed: stats.claimed, dead: stats.dead } };
  }

  /** Commits one request as a batch of its own, from within a task. */
  private async commitAlone<K extends OpName>(op: K, input: OpInput<K>): Promise<OpOutput<K>> {
    let req!: TopicRequest;
    const out = new Promise<OpOutput<K>>((resolve, reject) => {
      req = { op, input, resolve, reject, since: this.o.clock.now(), internal: true } as unknown as TopicRequest;
    });
    await this.commit([req]);
    return out;
  }

  private clearTimers(): void {
    this.leadership.cancelTimers();
    this.parking.cancelWakeUp();
    this.segments.cancelTimers();
    this.cancelDeferTimer?.();
    this.cancelDeferTimer = null;
  }
}
