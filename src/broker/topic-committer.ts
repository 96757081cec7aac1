/**
 * The commit of one topic's batches, and every mode change a commit's outcome leads to (the modes
 * are described in the header of topic-loop.ts). It owns what the loop knows of the stored topic:
 * the cached queue.json (queue-object.ts), the lease (leadership.ts), the segments
 * (topic-segments.ts), the recent window (recent-reader.ts) and the parked long polls (parking.ts).
 * Apart from topic-loop.ts, which takes requests and runs one batch at a time through `commit`:
 * the loop decides when, this decides what a batch writes and how its requests are answered.
 *
 * A batch:
 *   1. stamps the draft (seq + 1, writer id, time) and, unless it carries this broker's lease,
 *      applies `elect` first;
 *   2. confirms id lookups that hit segments (topic-segments.ts), refills from segments read
 *      ahead, sweeps if something is due, then applies every request (one op's error fails
 *      only it) and seals what exceeds the head's window into planned segments;
 *   3. writes nothing if nothing changed and the lease is fresh; answers at once;
 *   4. otherwise renews the lease in the draft, writes the planned segments create-only (a
 *      failure fails the batch as 8), serialises and writes the head with ifMatch;
 *   5. on success settles every request, then runs side effects (archiving, waking pollers);
 *   6. on a conflict reloads and re-applies the whole batch from scratch (results reset); if the
 *      reload shows another live leader, `elect` fails and the batch gets NOT_LEADER (fenced);
 *   7. on an ambiguous write the object re-reads: seq and writer tell whether it landed; if not,
 *      as 6; if the re-read fails or shows a later commit by another writer, the outcome stays
 *      unknown and the batch gets STORE_AMBIGUOUS (re-applying could apply it twice);
 *   8. on storage failure past the retries, drops the draft (reloaded next time) and answers
 *      UNAVAILABLE: nothing was acknowledged, nothing is lost.
 * A claim that finds no job and may wait is parked; parked claims ride along with a batch that may
 * make a job claimable (hand-off.ts).
 */
import type { OpInput, OpName, OpOutput, OpResult } from '../core/apply.js';
import { applyBatch } from '../core/batch.js';
import { nextDueAt, type QueueState } from '../core/state.js';
import type { BrokerLease } from '../core/types.js';
import { QueueError } from '../errors.js';
import type { BrokerEvents } from './broker-events.js';
import { NO_RIDERS, type Riders } from './hand-off.js';
import type { BatchDeferral } from './batch-deferral.js';
import { Leadership } from './leadership.js';
import { ParkingLot } from './parking.js';
import { asQueueError, QueueObject } from './queue-object.js';
import { RecentReader } from './recent-reader.js';
import type { ResetOutcome } from './topic-reset.js';
import { TopicSegments } from './topic-segments.js';
import type { Mode, TopicLoopOptions, TopicRequest } from './topic-loop-types.js';

/** Codes of a batch that failed because the store did (readiness: this broker cannot commit). */
const STORAGE_FAILURES: ReadonlySet<string> = new Set(['UNAVAILABLE', 'STORE_UNAVAILABLE', 'STORE_AMBIGUOUS']);

const MAX_CONFLICT_ROUNDS = 20;

/** What the committer uses of its loop (topic-loop.ts). */
export interface CommitterLoop {
  /** The loop's request queue: woken parked claims join it, requests that wait for a takeover go back to its front. */
  readonly queue: TopicRequest[];
  /** The loop's deferrable housekeeping: its timer is cancelled with the others (clearTimers). */
  readonly deferral: BatchDeferral;
  /** The loop's events, an observer's error swallowed. */
  readonly emit: BrokerEvents['emit'];
  /** Runs a batch at the end of this turn of the event loop, if there is work. */
  kick(): void;
  /** Runs a batch even with no request (it renews the lease if due, refills from a segment read ahead). */
  wantBatch(): void;
  /** Queues an internal request (an unclaim of jobs whose caller hung up). */
  submitInternal<K extends OpName>(op: K, input: OpInput<K>): Promise<OpOutput<K> | undefined>;
}

export class TopicCommitter {
  /** Long-polling claims that found no job (parking.ts). */
  readonly parking: ParkingLot<TopicRequest>;
  /** Set by the mode changes here; the loop sets only `stopped` (TopicLoop#stop). */
  mode: Mode = 'unloaded';
  /** queue.json: its cached state (the draft while a batch runs), the conditional write. */
  readonly object: QueueObject;
  /** The lease: term, renewal, standby (leadership.ts). */
  readonly leadership: Leadership;
  /** When the last commit landed (the store's minWriteIntervalMs counts from it). */
  lastWriteAt = -Infinity;
  /** Reads the recent window's ids back after a load (see recent-reader.ts). */
  private readonly recent: RecentReader;
  /** The last batch failed in the store and none landed since (readiness). */
  failure: { error: QueueError; since: number } | null = null;
  /** The topic's segment objects (topic-segments.ts). */
  readonly segments: TopicSegments;

  constructor(
    private readonly o: TopicLoopOptions,
    private readonly loop: CommitterLoop,
  ) {
    const emit = loop.emit;
    this.parking = new ParkingLot(o.clock, (req) => {
      req.resolve({ jobs: [] } as never);
      this.loop.kick(); // an ack of its worker lingers no more (batch-deferral.ts)
    });
    this.leadership = new Leadership({ topic: o.topic, brokerId: o.brokerId, url: o.url, leaseMs: o.leaseMs, standby: o.standby, clock: o.clock });
    this.recent = new RecentReader({
      store: o.store,
      clock: o.clock,
      retry: o.retry,
      random: o.random,
      onError: (key, error) => emit('internal-error', { topic: o.topic, op: `recent window from ${key}`, error }),
    });
    this.segments = new TopicSegments({
      topic: o.topic,
      store: o.store,
      clock: o.clock,
      retry: o.retry,
      random: o.random,
      onReadAhead: () => this.readAheadLanded(),
      onError: (op, error) => emit('internal-error', { topic: o.topic, op, error }),
      onLost: (key, error) => emit('segment-lost', { topic: o.topic, key, error }),
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
      onAmbiguous: (landed) => emit('ambiguous', { topic: o.topic, landed }),
    });
  }

  /** A segment read ahead arrived: run a batch so that it refills the head (an idle topic too). */
  private readAheadLanded(): void {
    if (this.mode !== 'leading') return;
    this.loop.wantBatch();
  }

  get state(): QueueState | null {
    return this.object.state;
  }

  /** Reads queue.json; a lost topic whose object is back at or past what this broker saw carries on. */
  private async load(): Promise<void> {
    const state = await this.object.load();
    if (this.mode === 'lost') {
      // Back at or past what this broker saw (another broker reset it): carry on from there.
      this.mode = 'unloaded';
      this.object.recovered();
      this.loop.emit('state-reset', { topic: this.o.topic, action: 'found', seq: state.seq });
    }
  }

  async commit(batch: TopicRequest[], riders: Riders = NO_RIDERS): Promise<void> {
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
      // A push applied once may meet its own jobs when applied again (its write landed but was
      // reported otherwise): from now on its ids are looked up like a client's (PushInput.newIds).
      for (const req of requests) if (req.op === 'push') (req.input as OpInput<'push'>).newIds = false;
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
          this.loop.emit('leader', { topic: this.o.topic, broker: this.o.brokerId, epoch: s.broker!.epoch });
          this.o.onLeading?.();
        }
        this.loop.emit('commit', { topic: this.o.topic, seq: s.seq, requests: batch.length, bytes: body.length, ms: this.o.clock.now() - started, conflicts });
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
      this.loop.emit('conflict', { topic: this.o.topic, round: conflicts });
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
        if (jobs.length > 0) void this.loop.submitInternal('unclaim', { jobs: jobs.map((j) => ({ id: j.id, worker, token: j.lease })) });
        return req.reject(new QueueError('CLOSED', 'request aborted by the caller'));
      }
      req.resolve(r.value as never);
    });
  }

  /** Whether a claim of `worker` is parked (an ack of it may linger: batch-deferral.ts). */
  claimParked(worker: string): boolean {
    return this.parking.some((req) => (req.input as OpInput<'claim'>).worker === worker);
  }

  /** Parks a long-polling claim: one a batch left empty, or one parked without a batch (TopicLoop#parkNow). */
  park(req: TopicRequest): void {
    this.parking.park(req, req.deadline!);
    this.scheduleTimers();
  }

  /** After a commit that changed something, parked long-polls try again in the next batch. */
  private wakeParked(): void {
    if (this.parking.size === 0 || !this.state) return;
    const c = this.state.idx.counts;
    if (c.pending === 0) return;
    this.loop.queue.push(...this.parking.unparkAll());
  }

  private scheduleTimers(): void {
    if (this.mode !== 'leading') return;
    this.leadership.scheduleRenewal(() => this.loop.wantBatch());
    // Parked long polls try again when a delayed job or a lease comes due; a delayed segment is
    // read ahead of its due time (topic-segments.ts), so its job is in the head by then.
    if (this.state) this.segments.scheduleReadAhead(this.state, this.o.clock.now());
    this.parking.wakeAt(this.parking.size > 0 && this.state ? nextDueAt(this.state, this.o.clock.now()) : undefined, (woken) => {
      this.loop.queue.push(...woken);
      this.loop.kick();
    });
  }

  // --- the failure paths --------------------------------------------------------------------------

  private becomeStandby(batch: TopicRequest[], err: QueueError, holder: BrokerLease | null, riders: Riders = NO_RIDERS): void {
    const wasLeading = this.mode === 'leading';
    this.mode = 'standby';
    this.leadership.refused(holder);
    this.object.drop(); // read again before any takeover attempt
    this.failure = null; // the topic is not ours to commit
    this.object.forgetMemory();
    this.clearTimers();
    if (wasLeading) this.loop.emit('fenced', { topic: this.o.topic, leader: this.leadership.leader });
    for (const p of this.parking.unparkAll()) p.reject(err);
    // Parked claims that rode along fail as the parked ones do. Of the batch's own requests,
    // `reject` mode fails all; `wait` mode keeps them (up to a limit) for a takeover once the holder's lease is stale.
    const waits = (r: TopicRequest) => !riders.has(r) && this.leadership.mayWait(r.since);
    this.failAll(batch.filter((r) => !waits(r)), err);
    this.loop.queue.unshift(...batch.filter(waits));
  }

  /** Fails every request of `batch`, but for the parked claims that rode along: they wait again, if they still may. */
  failAll(batch: TopicRequest[], err: QueueError, riders: Riders = NO_RIDERS): void {
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
    this.failAll(this.loop.queue.splice(0), err);
    const lost = this.object.lost!;
    if (first) this.loop.emit('state-lost', { topic: this.o.topic, error: err, seq: lost.seq, memorySeq: lost.memorySeq });
  }

  /** reset(), alone between batches: topic-reset.ts decides, queue-object.ts installs, this commits it. */
  async resetNow(fromMemory: boolean): Promise<ResetOutcome> {
    const topic = this.o.topic;
    const plan = await this.object.reset(fromMemory, { lost: this.mode === 'lost', lose: (err) => this.enterLost(err) });
    this.mode = 'unloaded';
    if (plan.action === 'adopted') {
      // Loaded as any read: the next request elects or finds the leader.
      this.loop.emit('state-reset', { topic, action: plan.action, seq: plan.state.seq });
      return { topic, action: plan.action, seq: plan.state.seq };
    }
    const stats = await this.commitAlone('stats', {}); // elect + a create-only write
    this.loop.emit('state-reset', { topic, action: plan.action, seq: stats.seq });
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

  clearTimers(): void {
    this.leadership.cancelTimers();
    this.parking.cancelWakeUp();
    this.segments.cancelTimers();
    this.loop.deferral.cancelTimer();
  }
}
