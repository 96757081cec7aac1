/**
 * The commit loop of one topic: it queues requests, applies each batch of them to the cached
 * state and commits the batch as one conditional write of queue.json. One loop per topic per
 * broker (broker.ts). Its parts, each in its own file:
 *
 *   topic-committer.ts the commit of a batch and the mode changes its outcome leads to
 *   queue-object.ts  the conditional write: load, write with ifMatch, ambiguous outcomes, STATE_LOST
 *   leadership.ts    the lease: elect, renewal, standby (fail fast or wait), a restart under one id
 *   parking.ts       long-polling claims that wait for a job, and their timers
 *   hand-off.ts      parked claims that ride along with a batch that may make a job claimable
 *   batch-deferral.ts  housekeeping and acks that wait for a batch to ride along with
 *   topic-segments.ts the backlog's segment objects: written before the head, read ahead, GC
 *   topic-loop-types.ts  the request, the options and the modes these files share
 *
 * What stays here is the order of things: the requests in (submit, the reads answered at once),
 * the batch queue, one write in flight, stop and reset. A batch's commit and the mode changes it
 * leads to are topic-committer.ts; a batch's state changes are core/batch.ts.
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
 *   Deferrable housekeeping starts no batch of its own: it rides along with the next one, or
 *   commits alone after a short wait (batch-deferral.ts). A batch is committed as the
 *   header of topic-committer.ts says. A claim that finds no job and may wait is parked; a batch
 *   that may make a job claimable takes every parked claim along (the hand-off, hand-off.ts).
 */
import { apply, type OpInput, type OpName, type OpOutput } from '../core/apply.js';
import { nextDueAt, type QueueState } from '../core/state.js';
import type { BrokerLease } from '../core/types.js';
import { isQueueError, QueueError } from '../errors.js';
import type { BrokerEvents } from './broker-events.js';
import { handOff } from './hand-off.js';
import { BatchDeferral } from './batch-deferral.js';
import { asQueueError } from './queue-object.js';
import type { LostState } from './state-history.js';
import type { ResetOutcome } from './topic-reset.js';
import type { SegmentLoss, TopicSegments } from './topic-segments.js';
import { TopicCommitter } from './topic-committer.js';
import type { SubmitExtra, TopicLoopOptions, TopicRequest } from './topic-loop-types.js';

export type { SubmitExtra, TopicLoopOptions, TopicRequest } from './topic-loop-types.js';
export { ACK_LINGER_MS, HOUSEKEEPING_WAIT_MS } from './batch-deferral.js';

/** Ops that never change the state: a batch of only these writes nothing (unless the lease needs renewing). */
const READ_ONLY: ReadonlySet<OpName> = new Set<OpName>(['get', 'stats', 'listJobs', 'workers']);

export class TopicLoop {
  private readonly queue: TopicRequest[] = [];
  private running = false;
  /** A batch is applied to the draft and its write may be in flight: the state is not the committed one. */
  private committing = false;
  /** The renewal timer fired: run a batch even with no request (it renews the lease if due). */
  private wantWrite = false;
  private idleWaiters: Array<() => void> = [];
  /** Work that runs alone between batches (reset): no batch in flight, none starts meanwhile. */
  private tasks: Array<{ run(): Promise<void>; fail(err: QueueError): void }> = [];
  /** Deferrable requests wait for a batch to ride along with (batch-deferral.ts). */
  private readonly deferral: BatchDeferral;
  /** The mode, the cached queue.json, the lease, segments and parked claims; commits a batch (topic-committer.ts). */
  private readonly committer: TopicCommitter;

  constructor(private readonly o: TopicLoopOptions) {
    this.deferral = new BatchDeferral(o.clock, this.queue, () => this.kick(), (worker) => this.committer.claimParked(worker));
    this.committer = new TopicCommitter(o, {
      queue: this.queue,
      deferral: this.deferral,
      emit: this.emit,
      kick: () => this.kick(),
      wantBatch: () => {
        this.wantWrite = true;
        this.kick();
      },
      submitInternal: (op, input) => this.submitInternal(op, input),
    });
  }

  /** Set while the topic's state is lost (STATE_LOST): why, since when, what could be restored. */
  get lost(): LostState | null {
    return this.committer.mode === 'lost' ? this.committer.object.lost : null;
  }

  /**
   * Set while a segment the head names is missing or undecodable and no read of it has succeeded
   * since (leading only: a standby reads no segments). Its jobs, and in strict priority order
   * every claim behind them, wait; nothing is skipped or re-created (docs/format.md).
   */
  get segmentLoss(): SegmentLoss | null {
    return this.committer.mode === 'leading' ? this.committer.segments.loss : null;
  }

  /** Set while the last batch failed in the store (UNAVAILABLE, STORE_*) and none has landed since. */
  get storageFailure(): { error: QueueError; since: number } | null {
    return this.committer.failure;
  }

  get isLeading(): boolean {
    return this.committer.mode === 'leading';
  }

  /** The last known leader lease (ours when leading). */
  get leaderLease(): BrokerLease | null {
    return this.committer.mode === 'leading' ? (this.state?.broker ?? null) : this.committer.leadership.leader;
  }

  /**
   * A standby learnt that the holder `lease` names is gone (its URL refuses connections): the
   * next request reads again and takes the lease over (Leadership.markGone). False if that is
   * not the holder this loop knows.
   */
  holderGone(lease: Pick<BrokerLease, 'id' | 'epoch'>): boolean {
    return this.committer.mode === 'standby' && this.committer.leadership.markGone(lease);
  }

  private get state(): QueueState | null {
    return this.committer.state;
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
    return this.committer.segments;
  }

  /** The committed state, read-only, when leading (for dashboards and tests). */
  get committed(): QueueState | null {
    return this.committer.mode === 'leading' && !this.running ? this.state : null;
  }

  submit<K extends OpName>(op: K, input: OpInput<K>, extra: SubmitExtra = {}): Promise<OpOutput<K>> {
    return new Promise<OpOutput<K>>((resolve, reject) => {
      const c = this.committer;
      if (c.mode === 'stopped') return reject(new QueueError('CLOSED', `the broker stopped serving topic ${this.o.topic}`));
      if (c.mode === 'lost' && !c.object.lostRecheckDue(this.o.clock.now())) return reject(c.object.lost!.error);
      if (extra.signal?.aborted) return reject(new QueueError('CLOSED', 'request aborted by the caller'));
      const notLeader = c.mode === 'standby' ? c.leadership.failFast() : null;
      if (notLeader) return reject(notLeader);
      if (this.readNow(op, input, resolve, reject)) return;
      const req = { op, input, resolve, reject, since: this.o.clock.now(), ...extra } as TopicRequest;
      extra.signal?.addEventListener('abort', () => this.abort(req), { once: true });
      if (this.parkNow(req)) return;
      this.queue.push(req);
      this.deferral.admit(req);
      this.kick();
    });
  }

  /** Internal ops (archived, expireDead, resign): same batching, errors only logged as events; `deferrable`: see batch-deferral.ts. */
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
    return this.deferral.hurry();
  }

  /** Queued work that starts a batch: deferrable requests alone do not, until their wait is over. */
  private get hasWork(): boolean {
    return this.wantWrite || this.tasks.length > 0 || this.deferral.queueStartsBatch;
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
    const c = this.committer;
    if (c.mode === 'stopped') return;
    this.hurry(); // never released: a stopped loop takes no more requests
    for (const p of c.parking.unparkAll()) p.resolve({ jobs: [] } as never);
    await this.idle();
    if (resign && c.mode === 'leading') {
      c.leadership.resign();
      await this.submitInternal('resign', { id: this.o.brokerId });
    }
    await this.idle();
    c.mode = 'stopped';
    c.clearTimers();
    // A waiting standby may still hold requests (and one may have slipped in since idle()).
    const closed = new QueueError('CLOSED', `the broker stopped serving topic ${this.o.topic}`);
    c.failAll(this.queue.splice(0), closed);
    for (const t of this.tasks.splice(0)) t.fail(closed);
    for (const p of c.parking.unparkAll()) p.resolve({ jobs: [] } as never); // long polls parked while draining
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
      if (this.committer.mode === 'stopped') return reject(new QueueError('CLOSED', `the broker stopped serving topic ${this.o.topic}`));
      this.tasks.push({ run: () => this.committer.resetNow(fromMemory).then(resolve, (err: unknown) => reject(asQueueError(err))), fail: reject });
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
    const c = this.committer;
    if (!READ_ONLY.has(op) || c.mode !== 'leading' || this.committing || c.leadership.resigning || !this.state) return false;
    if (this.queue.some((r) => !r.internal && !READ_ONLY.has(r.op))) return false;
    if (c.segments.wantsBatch(this.state, op, input)) return false; // a get of a job in a segment: read it first
    const now = this.o.clock.now();
    const due = nextDueAt(this.state, now);
    if ((due !== undefined && due <= now) || c.leadership.renewDue(this.state.broker!, now)) return false;
    const r = apply(this.state, op, input, now);
    if (r.ok) resolve(r.value as OpOutput<K>);
    else reject(r.error);
    return true;
  }

  /**
   * A long-polling claim is parked at once, without a batch, when a batch could only park it too:
   * leading, nothing pending (in the state in memory, nor in queue.json as last read or written:
   * a batch in flight that claimed the last jobs may still fail), nothing due, no renewal due. It
   * waits for the push that hands it jobs (hand-off.ts) like any parked claim. A commit saved,
   * and an ack of its worker's lingers for that push instead of committing alone
   * (batch-deferral.ts).
   */
  private parkNow(req: TopicRequest): boolean {
    const c = this.committer;
    if (req.op !== 'claim' || req.deadline === undefined || c.mode !== 'leading' || !this.state || c.leadership.resigning) return false;
    const now = this.o.clock.now();
    if (req.deadline <= now || c.object.pendingAsStored !== 0 || this.state.backlog.counts().pending > 0) return false;
    const due = nextDueAt(this.state, now);
    if ((due !== undefined && due <= now) || c.leadership.renewDue(this.state.broker!, now)) return false;
    c.park(req);
    return true;
  }

  private abort(req: TopicRequest): void {
    const i = this.queue.indexOf(req);
    if (i >= 0) this.queue.splice(i, 1);
    else if (this.committer.parking.unpark(req).length === 0) return;
    else this.kick(); // a parked claim left: an ack of its worker lingers no more (batch-deferral.ts)
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
    const c = this.committer;
    this.running = true;
    try {
      while (this.hasWork && c.mode !== 'stopped') {
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
        if (c.mode === 'standby' && c.leadership.mustWait()) {
          c.leadership.waitForStaleLease(() => this.kick());
          break;
        }
        const gap = c.lastWriteAt + this.o.store.minWriteIntervalMs - this.o.clock.now();
        // Batches grow meanwhile; reads alone (get, stats) never write, so they do not wait.
        if (gap > 0 && this.queue.some((r) => !READ_ONLY.has(r.op))) await this.o.clock.sleep(gap);
        const batch = this.queue.splice(0);
        // Every deferrable request rides along with this batch: the wait is over for all of them.
        this.deferral.taken();
        const riders = handOff(c.parking, batch);
        this.wantWrite = false;
        this.committing = true;
        try {
          await c.commit(batch, riders);
        } finally {
          this.committing = false;
        }
      }
    } catch (err) {
      this.emit('internal-error', { topic: this.o.topic, op: 'run', error: err });
    } finally {
      this.running = false;
      if (this.hasWork && c.mode !== 'stopped' && !c.leadership.waitingForStaleLease) queueMicrotask(() => this.kick());
      // Deferrable requests alone keep the loop from idle: their timer (or a hurry()) commits them.
      else if (c.mode === 'stopped' || !this.queue.every((r) => r.deferrable) || this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}
