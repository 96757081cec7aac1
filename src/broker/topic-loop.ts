/**
 * The commit loop of one topic: group commit, leadership and fencing.
 *
 * (Longer than our ~400-line norm on purpose: the loop, its modes and the paths that leave them
 * — conflict, ambiguity, fencing, parking — are one state machine, easier to check in one place.)
 *
 * Modes
 * - unloaded: no state in memory. The next batch reads queue.json (or creates it) first.
 * - leading: this broker holds the lease in the object. It caches state + etag and reads again
 *   only after a conflict. Every batch becomes at most one conditional write.
 * - standby: another broker holds a live lease. In `reject` mode requests fail fast with
 *   NOT_LEADER naming it; in `wait` mode (embedded use) they wait until that lease is stale and
 *   this broker takes over, bumping the epoch, unless the holder is a network broker (its lease
 *   names a URL): that one leads as long as it runs, so they fail fast as in `reject`.
 * - lost: queue.json vanished (or went back to an older commit) after this broker saw it
 *   (state-history.ts). Every request fails with STATE_LOST; nothing is re-created implicitly.
 *   A request reads the object again at most once a second and the loop carries on when it is
 *   back at or past what this broker saw; otherwise only reset() (an operator's action) ends it.
 * - stopped: closed; every request fails with CLOSED.
 *
 * The loop
 *   Requests queue up in `queue`. `run()` is the only writer and runs one batch at a time, so one
 *   CAS write is in flight per topic, ever. Requests arriving while a write is in flight form the
 *   next batch, taken the moment the current one settles: no interval timer. A batch:
 *     1. stamps the draft (seq + 1, writer id, time) and, unless leading, applies `elect` first;
 *     2. sweeps if something is due, then applies every request (one op's error fails only it);
 *     3. writes nothing if nothing changed and the lease is fresh; answers at once;
 *     4. otherwise renews the lease in the draft, serialises and writes with ifMatch;
 *     5. on success settles every request, then runs side effects (archiving, waking pollers);
 *     6. on a conflict reloads and re-applies the whole batch from scratch (results reset); if the
 *        reload shows another live leader, `elect` fails and the batch gets NOT_LEADER (fenced);
 *     7. on an ambiguous write re-reads: seq and writer tell whether it landed; if not, as 6; if
 *        the re-read fails or shows a later commit by another writer, the outcome stays unknown and
 *        the batch gets STORE_AMBIGUOUS (re-applying could apply it twice);
 *     8. on storage failure past the retries, drops the draft (reloaded next time) and answers
 *        UNAVAILABLE: nothing was acknowledged, nothing is lost.
 *   An idle leader renews its lease at a third of its length, and retries as often after a failed
 *   write, so an idle broker finds a broken store and a repaired one (readiness reads
 *   `storageFailure`); long-polling claims are parked and re-run after a commit that changed
 *   something or when a delayed job or lease comes due.
 */
import { EventEmitter } from 'node:events';
import { apply, beginCommit, type OpInput, type OpName, type OpOutput, type OpResult } from '../core/apply.js';
import type { SweepOutput } from '../core/ops/sweep.js';
import { parseState, serializeState } from '../core/codec.js';
import { queueKey } from '../core/keys.js';
import { createState, nextDueAt, type QueueState } from '../core/state.js';
import type { BrokerLease } from '../core/types.js';
import { isQueueError, QueueError } from '../errors.js';
import type { StorageDriver } from '../storage/types.js';
import type { Clock } from './clock.js';
import { RecentReader } from './recent-reader.js';
import { withRetry, type RetryPolicy } from './retry.js';
import { StateHistory, type LostState } from './state-history.js';
import { planReset, type ResetOutcome } from './topic-reset.js';

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
  /** The broker's own housekeeping (archived, expireDead, release, ...): reads do not wait for it. */
  internal?: boolean;
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
  events: EventEmitter;
  /** Runs after every landed commit that changed the state (archiving, payload clean-up). */
  afterCommit(state: QueueState, requests: readonly TopicRequest[], results: readonly OpResult<OpName>[], swept: SweepOutput | undefined): void;
  /** Called when this broker takes the lease of the topic. */
  onLeading?(): void;
}

export interface CommitEvent {
  topic: string;
  seq: number;
  requests: number;
  bytes: number;
  /** Time from taking the batch to the write landing, conflicts included. */
  ms: number;
  conflicts: number;
}

type Mode = 'unloaded' | 'leading' | 'standby' | 'lost' | 'stopped';

/** Codes of a batch that failed because the store did (readiness: this broker cannot commit). */
const STORAGE_FAILURES: ReadonlySet<string> = new Set(['UNAVAILABLE', 'STORE_UNAVAILABLE', 'STORE_AMBIGUOUS']);

/** What a caller may attach to a request besides its op and input. */
export type SubmitExtra = Pick<TopicRequest, 'deadline' | 'signal' | 'onLanded' | 'internal'>;

const MAX_CONFLICT_ROUNDS = 20;
/** Ops that never change the state: a batch of only these writes nothing (unless the lease needs renewing). */
const READ_ONLY: ReadonlySet<OpName> = new Set<OpName>(['get', 'stats', 'listJobs', 'workers']);
/** How long a standby trusts its last read of the leader before reading again. */
export const STANDBY_RECHECK_MS = 1000;

export class TopicLoop {
  private queue: TopicRequest[] = [];
  private parked: TopicRequest[] = [];
  /** The deadline timer of each parked request (they keep the process alive: cancel them on unpark). */
  private parkTimers = new Map<TopicRequest, () => void>();
  private running = false;
  /** A batch is applied to the draft and its write may be in flight: the state is not the committed one. */
  private committing = false;
  private mode: Mode = 'unloaded';
  private state: QueueState | null = null;
  private etag: string | null = null;
  private leader: BrokerLease | null = null;
  /** The epoch this loop leads at (null unless leading): only its own renewals keep it. */
  private heldEpoch: number | null = null;
  /** Until this loop first leads or is refused, a live lease under its own id is a previous incarnation's (see elect). */
  private restarted = true;
  private leaderSeenAt = -Infinity;
  private wantWrite = false;
  /** Set by stop() once it gives the lease up: later batches while draining must not renew it. */
  private releasing = false;
  private lastWriteAt = -Infinity;
  private cancelRenew: (() => void) | null = null;
  private cancelDue: (() => void) | null = null;
  private cancelStandby: (() => void) | null = null;
  private idleWaiters: Array<() => void> = [];
  /** Work that runs alone between batches (reset): no batch in flight, none starts meanwhile. */
  private tasks: Array<{ run(): Promise<void>; fail(err: QueueError): void }> = [];
  /** Reads the recent window's ids back after a load (see recent-reader.ts). */
  private readonly recent: RecentReader;
  /** What this broker saw of the topic's object: tells "never existed" from "vanished". */
  private readonly history: StateHistory;
  /** The last batch failed in the store and none landed since (readiness). */
  private failure: { error: QueueError; since: number } | null = null;

  constructor(private readonly o: TopicLoopOptions) {
    this.recent = new RecentReader({
      store: o.store,
      clock: o.clock,
      retry: o.retry,
      random: o.random,
      onError: (key, error) => this.emit('internal-error', { topic: o.topic, op: `recent window from ${key}`, error }),
    });
    this.history = new StateHistory({ topic: o.topic, store: o.store, clock: o.clock, retry: o.retry, random: o.random });
  }

  /** Set while the topic's state is lost (STATE_LOST): why, since when, what could be restored. */
  get lost(): LostState | null {
    return this.mode === 'lost' ? this.history.lost : null;
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
    return this.mode === 'leading' ? (this.state?.broker ?? null) : this.leader;
  }

  /** Live job counts of the cached state (approximate while a batch runs), or null when not loaded. */
  get counts(): { pending: number; delayed: number; claimed: number } | null {
    return this.state ? { ...this.state.idx.counts } : null;
  }

  /** Whether a job of the cached state (live, or finished and not yet archived) still points at this payload object. */
  referencesPayload(ref: string): boolean {
    if (!this.state) return true; // unknown: keep the object
    for (const job of this.state.jobs.values()) if (job.payloadRef === ref) return true;
    // A retried dead job that finished again waits in `done` for its own archive, which inlines the payload.
    for (const job of this.state.done) if (job.payloadRef === ref) return true;
    return false;
  }

  /** The committed state, read-only, when leading (for dashboards and tests). */
  get committed(): QueueState | null {
    return this.mode === 'leading' && !this.running ? this.state : null;
  }

  submit<K extends OpName>(op: K, input: OpInput<K>, extra: SubmitExtra = {}): Promise<OpOutput<K>> {
    return new Promise<OpOutput<K>>((resolve, reject) => {
      if (this.mode === 'stopped') return reject(new QueueError('CLOSED', `the broker stopped serving topic ${this.o.topic}`));
      if (this.mode === 'lost' && !this.history.recheckDue(this.o.clock.now())) return reject(this.history.lost!.error);
      if (extra.signal?.aborted) return reject(new QueueError('CLOSED', 'request aborted by the caller'));
      const notLeader = this.failFast();
      if (notLeader) return reject(notLeader);
      if (this.readNow(op, input, resolve, reject)) return;
      const req = { op, input, resolve, reject, since: this.o.clock.now(), ...extra } as TopicRequest;
      extra.signal?.addEventListener('abort', () => this.abort(req), { once: true });
      this.queue.push(req);
      this.kick();
    });
  }

  /** Internal ops (archived, expireDead, release): same batching, errors only logged as events. */
  submitInternal<K extends OpName>(op: K, input: OpInput<K>): Promise<OpOutput<K> | undefined> {
    return this.submit(op, input, { internal: true }).catch((err: unknown) => {
      // A lost topic was reported once (the 'state-lost' event); its housekeeping just stops.
      if (!isQueueError(err, 'STATE_LOST')) this.emit('internal-error', { topic: this.o.topic, op, error: err });
      return undefined;
    });
  }

  /** Resolves once no batch runs and none is queued. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /**
   * Stops the loop: waits for the batch in flight, commits what is queued, gives the lease up
   * (when `release`) so a standby can take over at once, then refuses everything.
   */
  async stop(release = true): Promise<void> {
    if (this.mode === 'stopped') return;
    for (const p of this.unpark()) p.resolve({ jobs: [] } as never);
    await this.idle();
    if (release && this.mode === 'leading') {
      this.releasing = true;
      await this.submitInternal('release', { id: this.o.brokerId });
    }
    await this.idle();
    this.mode = 'stopped';
    this.clearTimers();
    // A waiting standby may still hold requests (and one may have slipped in since idle()).
    const closed = new QueueError('CLOSED', `the broker stopped serving topic ${this.o.topic}`);
    this.failAll(this.queue.splice(0), closed);
    for (const t of this.tasks.splice(0)) t.fail(closed);
    for (const p of this.unpark()) p.resolve({ jobs: [] } as never); // long polls parked while draining
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
    if (!READ_ONLY.has(op) || this.mode !== 'leading' || this.committing || this.releasing || !this.state) return false;
    if (this.queue.some((r) => !r.internal && !READ_ONLY.has(r.op))) return false;
    const now = this.o.clock.now();
    const due = nextDueAt(this.state);
    if ((due !== undefined && due <= now) || this.renewDue(this.state.broker!, now)) return false;
    const r = apply(this.state, op, input, now);
    if (r.ok) resolve(r.value as OpOutput<K>);
    else reject(r.error);
    return true;
  }

  /** A third of the lease has passed: the next batch renews it, even if it changes nothing else. */
  private renewDue(lease: BrokerLease, now: number): boolean {
    return lease.leaseUntil - now <= (this.o.leaseMs * 2) / 3;
  }

  /**
   * A standby answers NOT_LEADER from what it last read, without I/O, while that is recent and
   * the holder's lease still runs; otherwise the request goes through a batch, which re-reads and
   * takes over if the lease was released or went stale.
   */
  private failFast(): QueueError | null {
    if (this.mode !== 'standby' || !this.leader || this.waitsFor(this.leader)) return null;
    const now = this.o.clock.now();
    if (this.leader.leaseUntil <= now || now - this.leaderSeenAt >= STANDBY_RECHECK_MS) return null;
    return notLeaderError(this.o.topic, this.leader);
  }

  private abort(req: TopicRequest): void {
    const i = this.queue.indexOf(req);
    if (i >= 0) this.queue.splice(i, 1);
    else if (this.unpark(req).length === 0) return;
    req.reject(new QueueError('CLOSED', 'request aborted by the caller'));
  }

  /**
   * Takes one parked request (or all) out of `parked`, cancelling its deadline timer, and the
   * due-time timer once nothing is parked: neither may keep the process alive for nobody.
   */
  private unpark(req?: TopicRequest): TopicRequest[] {
    let out: TopicRequest[];
    if (req) {
      const i = this.parked.indexOf(req);
      out = i >= 0 ? this.parked.splice(i, 1) : [];
    } else out = this.parked.splice(0);
    for (const r of out) {
      this.parkTimers.get(r)?.();
      this.parkTimers.delete(r);
    }
    if (this.parked.length === 0) {
      this.cancelDue?.();
      this.cancelDue = null;
    }
    return out;
  }

  /**
   * Events are for observers (metrics, tests, logs): a listener that throws must never break the
   * loop or leave a landed batch unanswered, so its error is swallowed here.
   */
  private emit(event: string, payload: unknown): void {
    try {
      this.o.events.emit(event, payload);
    } catch {
      // an observer's bug is not the queue's failure
    }
  }

  private kick(): void {
    // One microtask late, so that every request submitted in the same tick (Promise.all of acks,
    // ackMany) joins one batch instead of the first going alone and the rest one commit later.
    if (this.running) return;
    queueMicrotask(() => {
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while ((this.queue.length > 0 || this.wantWrite || this.tasks.length > 0) && this.mode !== 'stopped') {
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
        if (this.mode === 'standby' && this.leader && this.waitsFor(this.leader) && this.leader.leaseUntil > this.o.clock.now()) {
          this.waitForStaleLease();
          break;
        }
        const gap = this.lastWriteAt + this.o.store.minWriteIntervalMs - this.o.clock.now();
        // Batches grow meanwhile; reads alone (get, stats) never write, so they do not wait.
        if (gap > 0 && this.queue.some((r) => !READ_ONLY.has(r.op))) await this.o.clock.sleep(gap);
        const batch = this.queue.splice(0);
        this.wantWrite = false;
        this.committing = true;
        try {
          await this.commit(batch);
        } finally {
          this.committing = false;
        }
      }
    } catch (err) {
      this.emit('internal-error', { topic: this.o.topic, op: 'run', error: err });
    } finally {
      this.running = false;
      if ((this.queue.length > 0 || this.tasks.length > 0) && this.mode !== 'stopped' && !this.cancelStandby) queueMicrotask(() => this.kick());
      else for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private async load(): Promise<void> {
    const key = queueKey(this.o.topic);
    const obj = await withRetry(`read ${key}`, this.o.retry, this.o.clock, this.o.random, () => this.o.store.read(key));
    if (!obj) await this.history.missing(); // STATE_LOST when the topic existed
    this.adopt(obj);
    if (this.mode === 'lost') {
      // Back at or past what this broker saw (another broker reset it): carry on from there.
      this.mode = 'unloaded';
      this.history.recovered();
      this.emit('state-reset', { topic: this.o.topic, action: 'found', seq: this.state!.seq });
    }
  }

  /** Takes a read of queue.json as the state; none means a new topic, unless it existed (STATE_LOST). */
  private adopt(obj: { body: Uint8Array; etag: string } | null): void {
    if (!obj) {
      this.history.missingNow();
      this.state = createState(this.o.topic);
      this.etag = null;
      return;
    }
    const state = this.parse(obj.body);
    this.history.loaded(state);
    this.state = state;
    this.etag = obj.etag;
  }

  private parse(body: Uint8Array): QueueState {
    const key = queueKey(this.o.topic);
    const state = parseState(Buffer.from(body).toString('utf8'), key, this.o.clock.now());
    if (state.topic !== this.o.topic) {
      throw new QueueError('CORRUPT_STATE', `${key} names topic ${JSON.stringify(state.topic)}; refusing to use or overwrite it`, { details: { object: key } });
    }
    return state;
  }

  private async commit(batch: TopicRequest[]): Promise<void> {
    const started = this.o.clock.now();
    let conflicts = 0;
    for (;;) {
      if (!this.state) {
        try {
          await this.load();
        } catch (err) {
          return this.failBatch(batch, asQueueError(err));
        }
      }
      const s = this.state!;
      const held = s.broker && s.broker.id !== this.o.brokerId && s.broker.leaseUntil > this.o.clock.now();
      if (!held && this.recent.needed(s, this.o.clock.now())) {
        try {
          await this.recent.hydrate(s, this.o.clock.now());
        } catch (err) {
          this.state = null;
          return this.failBatch(batch, asQueueError(err));
        }
      }
      const now = this.o.clock.now();
      const before = { seq: s.seq, writer: s.writer, time: s.time };
      beginCommit(s, this.o.brokerId, now);

      const leading = this.mode === 'leading' && s.broker?.id === this.o.brokerId && s.broker.epoch === this.heldEpoch;
      let changed = false;
      if (!leading) {
        const e = apply(s, 'elect', { id: this.o.brokerId, url: this.o.url, leaseMs: this.o.leaseMs, ...(this.heldEpoch !== null ? { held: this.heldEpoch } : {}), restarted: this.restarted }, now);
        if (!e.ok) {
          Object.assign(s, before);
          return this.becomeStandby(batch, e.error, s.broker);
        }
        changed = true;
      }
      const due = nextDueAt(s);
      let swept: SweepOutput | undefined;
      if (due !== undefined && due <= now) {
        const r = apply(s, 'sweep', {}, now);
        changed ||= r.ok && r.changed;
        if (r.ok) swept = r.value;
      }
      const results: OpResult<OpName>[] = [];
      for (const req of batch) {
        const r = apply(s, req.op, req.input, now);
        results.push(r);
        changed ||= r.ok && r.changed;
      }
      const lease = s.broker!;
      // Renew once a third of the lease has passed (the idle timer fires right then).
      if (!changed && (!this.renewDue(lease, now) || this.releasing)) {
        Object.assign(s, before);
        this.settle(batch, results, now);
        if (!this.cancelRenew) this.scheduleTimers();
        return;
      }
      // Commits renew the lease; a release keeps it at 0 so a standby takes over at once, and so
      // do the commits of requests that arrive while the loop drains after it.
      if (!this.releasing) lease.leaseUntil = now + this.o.leaseMs;
      // A batch of reads that turned out to write (a due renewal) did not wait in run(): wait here.
      const gap = this.lastWriteAt + this.o.store.minWriteIntervalMs - this.o.clock.now();
      if (gap > 0) await this.o.clock.sleep(gap);
      const body = serializeState(s);
      const outcome = await this.write(s, body);
      if (outcome === 'landed') {
        const wasLeading = this.mode === 'leading';
        this.mode = 'leading';
        this.heldEpoch = s.broker!.epoch;
        this.restarted = false;
        this.leader = null;
        this.failure = null;
        this.history.landed(s, body);
        this.lastWriteAt = this.o.clock.now();
        if (!wasLeading) {
          this.emit('leader', { topic: this.o.topic, broker: this.o.brokerId, epoch: s.broker!.epoch });
          this.o.onLeading?.();
        }
        this.emit('commit', { topic: this.o.topic, seq: s.seq, requests: batch.length, bytes: body.length, ms: this.o.clock.now() - started, conflicts } satisfies CommitEvent);
        this.settle(batch, results, now, s.seq);
        this.recent.remember(s);
        this.o.afterCommit(s, batch, results, swept);
        this.wakeParked();
        this.scheduleTimers();
        return;
      }
      if (outcome instanceof QueueError) return this.failBatch(batch, outcome);
      // 'conflict': the state was reloaded (or dropped); re-apply everything from scratch.
      conflicts++;
      this.emit('conflict', { topic: this.o.topic, round: conflicts });
      if (conflicts >= MAX_CONFLICT_ROUNDS) {
        this.state = null;
        return this.failAll(batch, new QueueError('UNAVAILABLE', `topic ${this.o.topic}: ${conflicts} write conflicts in a row`));
      }
    }
  }

  /** One conditional write, with transient retries and ambiguity resolved by re-reading. */
  private async write(s: QueueState, body: Uint8Array): Promise<'landed' | 'conflict' | QueueError> {
    const key = queueKey(this.o.topic);
    const cond = this.etag === null ? ({ ifNoneMatch: '*' } as const) : { ifMatch: this.etag };
    try {
      const { etag } = await withRetry(`write ${key}`, this.o.retry, this.o.clock, this.o.random, () => this.o.store.write(key, body, cond));
      this.etag = etag;
      return 'landed';
    } catch (err) {
      if (isQueueError(err, 'STORE_CONFLICT')) {
        this.state = null;
        return 'conflict';
      }
      if (isQueueError(err, 'STORE_AMBIGUOUS')) return this.resolveAmbiguous(s);
      this.state = null;
      return asQueueError(err);
    }
  }

  /**
   * A write that may have landed. The commit carries our writer id and its seq, so a re-read tells:
   * the same pair means ours landed (and nobody wrote since); anything else means re-apply on what
   * is there now.
   */
  private async resolveAmbiguous(s: QueueState): Promise<'landed' | 'conflict' | QueueError> {
    const key = queueKey(this.o.topic);
    let obj;
    try {
      obj = await withRetry(`read ${key}`, this.o.retry, this.o.clock, this.o.random, () => this.o.store.read(key));
    } catch (err) {
      // Still unknown: the write may have landed, so the batch must not be reported as not done.
      this.state = null;
      return new QueueError('STORE_AMBIGUOUS', `topic ${this.o.topic}: a commit may or may not have landed (${asQueueError(err).message})`, { cause: err });
    }
    if (obj) {
      const text = Buffer.from(obj.body).toString('utf8');
      const head = peekCommit(text);
      if (head && head.seq === s.seq && head.writer === this.o.brokerId) {
        this.etag = obj.etag;
        this.emit('ambiguous', { topic: this.o.topic, landed: true });
        return 'landed';
      }
      if (head && head.seq > s.seq) {
        // Another writer committed on top of some state after ours was sent: ours may be buried
        // underneath. Re-applying could apply the batch twice; answering "not done" could lose it.
        this.state = null;
        return new QueueError('STORE_AMBIGUOUS', `topic ${this.o.topic}: a commit may or may not have landed before broker ${head.writer} wrote`);
      }
    }
    this.emit('ambiguous', { topic: this.o.topic, landed: false });
    try {
      this.adopt(obj);
    } catch (err) {
      this.state = null;
      return asQueueError(err);
    }
    return 'conflict';
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
    this.parked.push(req);
    this.parkTimers.set(req, this.o.clock.setTimer(req.deadline! - this.o.clock.now(), () => {
      if (this.unpark(req).length > 0) req.resolve({ jobs: [] } as never);
    }, true));
    this.scheduleTimers();
  }

  /** After a commit that changed something, parked long-polls try again in the next batch. */
  private wakeParked(): void {
    if (this.parked.length === 0 || !this.state) return;
    const c = this.state.idx.counts;
    if (c.pending === 0) return;
    this.queue.push(...this.unpark());
  }

  private scheduleTimers(): void {
    if (this.mode !== 'leading') return;
    this.cancelRenew?.();
    this.cancelRenew = this.o.clock.setTimer(this.o.leaseMs / 3, () => {
      this.cancelRenew = null;
      this.wantWrite = true;
      this.kick();
    });
    this.cancelDue?.();
    this.cancelDue = null;
    const due = this.parked.length > 0 && this.state ? nextDueAt(this.state) : undefined;
    if (due !== undefined) {
      this.cancelDue = this.o.clock.setTimer(Math.max(0, due - this.o.clock.now()), () => {
        this.cancelDue = null;
        this.queue.push(...this.unpark());
        this.kick();
      }, true);
    }
  }

  private becomeStandby(batch: TopicRequest[], err: QueueError, holder: BrokerLease | null): void {
    const wasLeading = this.mode === 'leading';
    this.mode = 'standby';
    this.heldEpoch = null;
    this.restarted = false;
    this.leader = holder ? { ...holder } : null;
    this.leaderSeenAt = this.o.clock.now();
    this.state = null; // read again before any takeover attempt
    this.failure = null; // the topic is not ours to commit
    this.history.forgetMemory();
    this.clearTimers();
    if (wasLeading) this.emit('fenced', { topic: this.o.topic, leader: this.leader });
    for (const p of this.unpark()) p.reject(err);
    if (!this.waitsFor(this.leader)) return this.failAll(batch, err);
    // wait mode: keep the requests (up to a limit) and retry once the holder's lease is stale.
    const limit = this.o.clock.now() - 3 * this.o.leaseMs;
    const keep = batch.filter((r) => r.since >= limit);
    this.failAll(batch.filter((r) => r.since < limit), err);
    this.queue.unshift(...keep);
  }

  /** `wait` mode waits out an embedded holder's lease (no URL: a crashed process like this one), never a network broker's. */
  private waitsFor(holder: BrokerLease | null): boolean {
    return this.o.standby === 'wait' && !holder?.url;
  }

  private waitForStaleLease(): void {
    if (this.cancelStandby || !this.leader) return;
    const wait = this.leader.leaseUntil - this.o.clock.now() + 1;
    this.cancelStandby = this.o.clock.setTimer(wait, () => {
      this.cancelStandby = null;
      if (this.leader) this.leader.leaseUntil = 0; // believed stale now: the next batch re-reads and elects
      this.kick();
    }, true);
  }

  private failAll(batch: TopicRequest[], err: QueueError): void {
    for (const req of batch) req.reject(err);
  }

  /**
   * Fails a batch the store did not let through. A lost state stops the topic; a storage failure
   * is kept for readiness, and a leader tries its lease again a third of a lease later, so even an
   * idle broker notices when the store works again.
   */
  private failBatch(batch: TopicRequest[], err: QueueError): void {
    if (err.code === 'STATE_LOST') this.enterLost(err);
    else if (STORAGE_FAILURES.has(err.code)) {
      this.failure = { error: err, since: this.failure?.since ?? this.o.clock.now() };
      if (this.mode === 'leading') this.scheduleTimers();
    }
    this.failAll(batch, err);
  }

  /** Stops serving the topic: its object vanished or went back. Reported once, per loss. */
  private enterLost(err: QueueError): void {
    const first = this.mode !== 'lost';
    this.mode = 'lost';
    this.state = null;
    this.etag = null;
    this.leader = null;
    this.heldEpoch = null; // a reset starts a new term: its first commit elects with a new epoch
    this.failure = null;
    this.clearTimers();
    for (const p of this.unpark()) p.reject(err);
    this.failAll(this.queue.splice(0), err);
    const lost = this.history.lost!;
    if (first) this.emit('state-lost', { topic: this.o.topic, error: err, seq: lost.seq, memorySeq: lost.memorySeq });
  }

  /** reset(), alone between batches: topic-reset.ts decides, this installs and commits it. */
  private async resetNow(fromMemory: boolean): Promise<ResetOutcome> {
    const topic = this.o.topic;
    const key = queueKey(topic);
    const plan = await planReset(
      {
        topic,
        history: this.history,
        lost: this.mode === 'lost',
        read: () => withRetry(`read ${key}`, this.o.retry, this.o.clock, this.o.random, () => this.o.store.read(key)),
        parse: (body) => this.parse(body),
        lose: (err) => this.enterLost(err),
      },
      fromMemory,
    );
    this.history.recovered();
    this.state = plan.state;
    this.etag = plan.etag;
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
    this.cancelRenew?.();
    this.cancelDue?.();
    this.cancelStandby?.();
    this.cancelRenew = this.cancelDue = this.cancelStandby = null;
  }
}

export function notLeaderError(topic: string, leader: BrokerLease): QueueError {
  return new QueueError('NOT_LEADER', `topic ${topic} is led by broker ${leader.id}${leader.url ? ` at ${leader.url}` : ''}`, {
    details: { leader: leader.url, leaderId: leader.id, epoch: leader.epoch, leaseUntil: leader.leaseUntil },
  });
}

function asQueueError(err: unknown): QueueError {
  if (isQueueError(err)) return err;
  return new QueueError('UNAVAILABLE', `storage failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/** Reads seq and writer from the head of queue.json without parsing the whole (possibly large) file. */
function peekCommit(text: string): { seq: number; writer: string } | null {
  const seq = /"seq":(\d+)/.exec(text.slice(0, 512));
  const writer = /"writer":"((?:[^"\\]|\\.)*)"/.exec(text.slice(0, 1024));
  return seq && writer ? { seq: Number(seq[1]), writer: JSON.parse(`"${writer[1]}"`) as string } : null;
}
