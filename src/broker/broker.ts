/**
 * The broker: one commit loop per topic over one store, plus what must happen outside the pure
 * core: ids, lease nonces and jitter are made here (before apply), large payloads are written to
 * their own objects before the push and read back when a job is handed out, dead jobs are fetched
 * from their archive for retry, and finished jobs are archived after their commit.
 *
 * Every transport (embedded API, HTTP, gRPC, RESP) calls these methods; none talks to storage.
 * Dead-job browsing and bulk retry live in dead-jobs.ts; what stays here is one thin method per
 * operation and the payload, archive and janitor plumbing they share (about 450 lines, kept
 * together so every surface's entry points read in one place).
 */
import type { BacklogLimits } from '../core/segments/manifest.js';
import { checkBacklogLimits } from '../core/segments/limits-spec.js';
import { unguessableId } from '../unguessable-ids.js';
import { EventEmitter } from 'node:events';
import type { OpInput, OpName, OpOutput, OpResult } from '../core/apply.js';
import { topicOfQueueKey } from '../core/keys.js';
import type { ClaimedJob } from '../core/ops/claim.js';
import type { ConfigureInput } from '../core/ops/admin-ops.js';
import type { PushJob, PushOutcome } from '../core/ops/push.js';
import type { BrokerLease, JobRecord, JobStats } from '../core/types.js';
import { isQueueError, QueueError } from '../errors.js';
import {
  checkClaim,
  checkDelayMs,
  checkErrorText,
  checkId,
  checkJsonDepth,
  checkLease,
  checkLeaseMs,
  checkPushBatch,
  checkPushJob,
  checkPushSize,
  checkReleaseSize,
  checkSettings,
  checkTopic,
  DEFAULT_LEASE_MS,
  DEFAULT_LIMITS,
  type AckRequest,
  type CheckedPushJob,
  type ClaimRequest,
  type HeartbeatRequest,
  type LeaseRequest,
  type Limits,
  type NackRequest,
  type PushJobRequest,
} from '../protocol.js';
import type { StorageDriver } from '../storage/types.js';
import { Archiver } from './archiver.js';
import type { BrokerEventMap, BrokerEvents, LandedBatch } from './broker-events.js';
import { systemClock, type Clock } from '../clock.js';
import { deletePayload, inlinePayloads, writePayload } from './payloads.js';
import { listJobsPage, retryDeadJobs, type DeadJobsContext } from './dead-jobs.js';
import { archivedRecord } from './dead-letters.js';
import type { ListJobsInput, ListJobsOutput } from '../core/ops/browse-ops.js';
import type { RetryDeadOutput } from '../core/ops/retry-dead.js';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from './retry.js';
import { TopicLoop, type SubmitExtra } from './topic-loop.js';
import type { ResetOutcome } from './topic-reset.js';
import { traceCommits, traced, type RequestSpan } from './tracing.js';
import type { SweepOutput } from '../core/ops/sweep.js';
import { DEFAULT_RECENT, type RecentBounds } from '../core/recent.js';

export interface BrokerOptions {
  store: StorageDriver;
  /** This broker instance's id (default: random). Must be unique per running process. */
  id?: string;
  /** The URL other brokers and clients should use to reach this one; written into the lease. */
  url?: string;
  clock?: Clock;
  /** Leadership lease per topic (default 10 s). A crashed leader is replaced after at most this long. */
  leaseMs?: number;
  /**
   * When another broker leads a topic: `reject` answers NOT_LEADER at once (network brokers,
   * clients follow the leader); `wait` holds requests until that lease goes stale and takes over
   * (embedded use after a crash), but answers NOT_LEADER at once when the holder is a network
   * broker (its lease names a URL), which leads as long as it runs. Default `reject`.
   */
  standby?: 'wait' | 'reject';
  /** Payloads larger than this many bytes (as JSON) go to their own object (default 64 KiB). */
  payloadThreshold?: number;
  /** How long archive objects (completed and dead jobs) are kept (default 7 days). */
  retentionMs?: number;
  /**
   * The recent window of archived job ids kept in queue.json, so a retried push or ack still finds
   * its job (see core/recent.ts). Default: 60 s or the last 100,000 jobs, whichever is shorter.
   */
  recent?: Partial<RecentBounds>;
  /**
   * How long finished jobs gather in one archive object before it is sealed and written (default
   * 200 ms; 0 writes one object per commit). Longer means fewer objects and a larger queue.json.
   */
  archiveWindowMs?: number;
  limits?: Partial<Limits>;
  /**
   * Bounds of each topic's head: the backlog beyond its window of next-ready jobs is written to
   * segment objects (docs/format.md, section 8). Defaults suit any depth; tests make them small.
   */
  backlog?: Partial<BacklogLimits>;
  /**
   * How often a topic's leader lists its segment objects to find orphans, the segments of commits
   * that never landed (docs/format.md, section 4). Default 10 minutes; an orphan is deleted at the
   * first listing at least 2 × leaseMs after the one that found it. Tests shorten it.
   */
  orphanListingMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Source of randomness for jitter (default Math.random). */
  random?: () => number;
  /**
   * Id generator for jobs, lease nonces and payload objects (default: `b` and 96 random bits as 16
   * url-safe characters). The default's ids are trusted to be new, and a push does not look them
   * up; ids from a generator of your own are looked up like a client's, in case it repeats one.
   */
  newId?: () => string;
}

const HOUR = 3_600_000;

export interface PushOptions {
  /**
   * @deprecated No effect: a push never copies payloads now (see {@link Broker.push}). Kept so
   * that embedding code written against it still compiles.
   */
  adopt?: boolean;
}

/** One job of {@link Broker.pushEach}: its outcome, or why it alone was refused. */
export type PushItemResult = { ok: true; value: PushOutcome } | { ok: false; error: QueueError };

/** What a push span records once answered. */
function createdCount(out: PushOutcome[]): Record<string, number> {
  return { 'bucketq.jobs.created': out.filter((j) => j.created).length };
}

/** A lost topic as GET /v1/broker and the dashboard show it. */
export interface LostTopic {
  code: string;
  message: string;
  /** When this broker found it lost (epoch ms). */
  since: number;
  /** The last commit this broker knows the object held. */
  seq: number;
  /** The commit this broker could restore from memory, or null. */
  memorySeq: number | null;
}

/** A segment of a topic's backlog that the store lacks or that does not decode, as GET /v1/broker and the dashboard show it. */
export interface LostSegment {
  key: string;
  code: string;
  message: string;
  /** When this broker found it (epoch ms). */
  since: number;
}

/**
 * A topic this broker cannot serve (`state-lost`), cannot commit (`commit-failing`), or serves
 * only in part (`segment-lost`: a segment its head names is missing or corrupt) right now.
 */
export interface TopicTrouble {
  topic: string;
  trouble: 'state-lost' | 'commit-failing' | 'segment-lost';
  error: QueueError;
  since: number;
}

/** Ids for jobs, lease nonces and payload objects: unguessable (unguessable-ids.ts says why). */
export function randomId(): string {
  return unguessableId('b');
}

export class Broker {
  readonly id: string;
  readonly url: string;
  readonly store: StorageDriver;
  /** What happened, for observers: one typed map of events (broker-events.ts). */
  readonly events: BrokerEvents = new EventEmitter<BrokerEventMap>();
  readonly limits: Limits;
  private readonly clock: Clock;
  private readonly loops = new Map<string, TopicLoop>();
  private readonly archiver: Archiver;
  private readonly janitors = new Map<string, () => void>();
  private readonly o: Required<Pick<BrokerOptions, 'leaseMs' | 'standby' | 'payloadThreshold' | 'retentionMs' | 'random' | 'newId'>> & { retry: RetryPolicy; backlog?: Partial<BacklogLimits>; orphanListingMs?: number };
  private stopped = false;
  /** What dead-jobs.ts needs of this broker. */
  private readonly deadJobs: DeadJobsContext = {
    call: (topic, op, input) => this.call(topic, op, input),
    read: (key) => this.readWithRetry(key),
    inline: (topic, records) => withRetry('read payloads', this.o.retry, this.clock, this.o.random, () => inlinePayloads(this.store, topic, records)),
    externalise: (topic, json) => this.externalise(topic, json),
    cleanupPayloads: (topic, refs) => this.cleanupPayloads(topic, refs),
    pageSegments: (topic) => this.loop(topic).pageSegments,
  };

  constructor(options: BrokerOptions) {
    this.store = options.store;
    this.id = options.id ?? `b-${randomId()}`;
    this.url = options.url ?? '';
    this.clock = options.clock ?? systemClock;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.o = {
      leaseMs: options.leaseMs ?? 10_000,
      standby: options.standby ?? 'reject',
      payloadThreshold: options.payloadThreshold ?? 64 * 1024,
      retentionMs: options.retentionMs ?? 7 * 24 * HOUR,
      random: options.random ?? Math.random,
      newId: options.newId ?? randomId,
      retry: { ...DEFAULT_RETRY, ...options.retry },
      // Checked here so a bad bound fails at start, not at a topic's first seal.
      ...(options.backlog ? { backlog: checkBacklogLimits(options.backlog) } : {}),
      ...(options.orphanListingMs !== undefined ? { orphanListingMs: options.orphanListingMs } : {}),
    };
    if (options.orphanListingMs !== undefined && !(Number.isFinite(options.orphanListingMs) && options.orphanListingMs >= 0)) {
      throw new QueueError('INVALID_ARGUMENT', `orphanListingMs must be a non-negative number of milliseconds, got ${String(options.orphanListingMs)}`);
    }
    this.events.on('error', () => {}); // an 'error' event must never crash the process
    traceCommits(this.events); // bucketq.commit spans, when @opentelemetry/api is installed
    this.archiver = new Archiver({
      store: this.store,
      clock: this.clock,
      retry: this.o.retry,
      random: this.o.random,
      retentionMs: this.o.retentionMs,
      recent: { ...DEFAULT_RECENT, ...options.recent },
      archiveWindowMs: options.archiveWindowMs ?? 200,
      onError: (topic, what, error) => this.events.emit('internal-error', { topic, op: what, error }),
    });
  }

  /** The commit loop of a topic if one was created, without creating it. */
  loopIfOpen(topic: string): TopicLoop | null {
    return this.loops.get(topic) ?? null;
  }

  /** The commit loop of a topic, created on first use. */
  loop(topic: string): TopicLoop {
    checkTopic(topic);
    let loop = this.loops.get(topic);
    if (!loop) {
      if (this.stopped) throw new QueueError('CLOSED', 'the broker is stopped');
      const created: TopicLoop = new TopicLoop({
        topic,
        store: this.store,
        clock: this.clock,
        brokerId: this.id,
        url: this.url,
        leaseMs: this.o.leaseMs,
        standby: this.o.standby,
        retry: this.o.retry,
        random: this.o.random,
        events: this.events,
        ...(this.o.backlog ? { backlogLimits: this.o.backlog } : {}),
        ...(this.o.orphanListingMs !== undefined ? { orphanListingMs: this.o.orphanListingMs } : {}),
        afterCommit: (state, requests, results, swept) => {
          this.archiver.schedule(topic, state, created);
          // Live event streams (transports/http/events/) derive job events from the landed batch.
          // Nobody watching: no work at all on the commit path.
          if (this.events.listenerCount('batch') > 0) this.emitBatch({ topic, seq: state.seq, time: state.time, requests, results, expired: swept?.expired ?? [] });
        },
        onLeading: () => this.startJanitor(topic, created),
      });
      loop = created;
      this.loops.set(topic, loop);
    }
    return loop;
  }

  /** Low-level: submit a core op to a topic's commit loop. */
  call<K extends OpName>(topic: string, op: K, input: OpInput<K>, extra?: SubmitExtra): Promise<OpOutput<K>> {
    return this.loop(topic).submit(op, input, extra);
  }

  /**
   * Pushes jobs as one request of the commit loop. The state keeps each payload's JSON text, made
   * by the check, and answers every reader from it (a claim parses it, a get's record is a copy
   * made from it): so it keeps the caller's payload object without parsing a copy, yet hands out
   * nothing shared with the caller, and a change the caller makes afterwards is never seen.
   * (`options` is accepted for callers that still pass `adopt`.)
   */
  push(topic: string, jobs: PushJobRequest[], _options: PushOptions = {}): Promise<PushOutcome[]> {
    return traced('bucketq.push', topic, { 'bucketq.jobs': Array.isArray(jobs) ? jobs.length : 0 }, async (span) => {
      checkTopic(topic);
      return this.pushJobs(topic, checkPushBatch(jobs, this.limits), span, jobs);
    }, createdCount);
  }

  /**
   * A push whose jobs are answered one by one: a job the protocol refuses fails alone, the others
   * go in as one request of the commit loop (a failure there, NOT_LEADER or the store's, fails
   * all of them, and is thrown). The network client's coalesced pushes (POST …/jobs with
   * `"atomic": false`): many callers' jobs in one request, none failing for another's mistake.
   */
  async pushEach(topic: string, jobs: unknown[], _options: PushOptions = {}): Promise<PushItemResult[]> {
    checkTopic(topic);
    checkPushSize(jobs, this.limits);
    const out = new Array<PushItemResult>(jobs.length);
    const valid: CheckedPushJob[] = [];
    const sources: unknown[] = [];
    const at: number[] = [];
    for (let i = 0; i < jobs.length; i++) {
      try {
        valid.push(checkPushJob(jobs[i], this.limits));
        sources.push(jobs[i]);
        at.push(i);
      } catch (err) {
        if (!isQueueError(err)) throw err;
        out[i] = { ok: false, error: err };
      }
    }
    if (valid.length > 0) {
      const pushed = await traced('bucketq.push', topic, { 'bucketq.jobs': valid.length }, (span) => this.pushJobs(topic, valid, span, sources), createdCount);
      for (let k = 0; k < at.length; k++) out[at[k]!] = { ok: true, value: pushed[k]! };
    }
    return out;
  }

  /** `sources`: the callers' jobs, one per checked job (their payload objects are kept: see push). */
  private async pushJobs(topic: string, checked: CheckedPushJob[], span: RequestSpan | null, sources: readonly unknown[]): Promise<PushOutcome[]> {
    const written: string[] = [];
    // Each checked job has the core's PushJob shape already, every field present: it is completed
    // in place (its id, its payload or the reference to it), not copied (protocol.ts).
    const coreJobs = checked as PushJob[];
    let newIds = this.o.newId === randomId;
    try {
      for (let i = 0; i < checked.length; i++) {
        const json = checked[i]!.payloadJson;
        const job = coreJobs[i]!;
        if (job.id === undefined) job.id = this.o.newId();
        else newIds = false;
        // Only a large payload awaits here: a small push reaches its loop in the same tick, ahead
        // of whatever its caller submits next (a read after it in a RESP pipeline must see it).
        const ref = this.isLarge(json) ? await this.externalise(topic, json) : undefined;
        if (ref !== undefined) {
          written.push(ref);
          job.payloadRef = ref;
          job.payloadJson = undefined; // in its own object now: not held until the commit
        } else {
          // Not parsed back from payloadJson: readers are answered from that text (see push).
          job.payload = (sources[i] as { payload?: unknown }).payload ?? null;
        }
      }
      // Ids this broker made are new to the world: the first apply need not look them up (PushInput.newIds).
      const out = await this.call(topic, 'push', { jobs: coreJobs, newIds }, span ? { onLanded: span.landed } : undefined);
      // A duplicate id kept the existing job: its freshly written payload object is garbage, unless
      // that job is this very push's, landed by an earlier attempt of the same batch and met again
      // when it was applied again (then the record names this object).
      const unused = coreJobs.filter((j, i) => j.payloadRef !== undefined && !out.jobs[i]!.created && out.jobs[i]!.existing?.payloadRef !== j.payloadRef).map((j) => j.payloadRef!);
      this.cleanupPayloads(topic, unused);
      return out.jobs;
    } catch (err) {
      // An ambiguous commit may have landed with jobs pointing at these objects: keep them.
      if (!isQueueError(err, 'STORE_AMBIGUOUS')) this.cleanupPayloads(topic, written);
      throw err;
    }
  }

  /**
   * Leases up to `max` due jobs to `workerId`, waiting up to `waitMs` for one. `signal` is the
   * caller's presence: when it fires before the answer is ready (the request queued, parked, being
   * committed, or its payloads being read), the claim rejects with CLOSED and any jobs it took go
   * back untouched, attempts not counted. Every wire passes the signal of its caller (an HTTP
   * client that hung up, a gRPC call cancelled, a stream that ended) and needs nothing more.
   */
  async claim(topic: string, req: ClaimRequest, signal?: AbortSignal): Promise<ClaimedJob[]> {
    checkTopic(topic);
    const c = checkClaim(req, this.limits);
    const extra: SubmitExtra = {};
    if (c.waitMs > 0) extra.deadline = this.clock.now() + c.waitMs;
    if (signal) extra.signal = signal;
    const input = { worker: c.worker, max: c.max, leaseMs: c.leaseMs, nonce: this.o.newId() };
    const attributes = { 'bucketq.worker': c.worker, 'bucketq.claim.max': c.max, 'bucketq.claim.wait_ms': c.waitMs };
    const out = await traced('bucketq.claim', topic, attributes, (span) => this.call(topic, 'claim', input, span ? { ...extra, onLanded: span.landed } : extra), (o) => ({
      'bucketq.jobs': o.jobs.length,
      'bucketq.job.ids': o.jobs.map((j) => j.id),
    }));
    // The claim has landed: a transient read failure here must not fail it (the jobs would stay
    // leased to nobody, their attempt spent). Records already inlined are skipped on a retry.
    if (out.jobs.some((j) => j.payloadRef !== undefined)) {
      try {
        await withRetry('read payloads', this.o.retry, this.clock, this.o.random, () => inlinePayloads(this.store, topic, out.jobs));
      } catch (err) {
        // UNAVAILABLE tells the caller nothing happened: make it true by handing the jobs back.
        if (isQueueError(err, 'UNAVAILABLE')) this.handBack(topic, c.worker, out.jobs);
        throw err;
      }
    }
    // The caller left after the commit (the loop hands back for one that leaves before it lands).
    if (signal?.aborted) {
      this.handBack(topic, c.worker, out.jobs);
      throw new QueueError('CLOSED', 'request aborted by the caller');
    }
    return out.jobs;
  }

  /** Claimed jobs back to pending untouched, in the background (a failure is an internal-error event). */
  private handBack(topic: string, worker: string, jobs: readonly ClaimedJob[]): void {
    if (jobs.length > 0) void this.loop(topic).submitInternal('unclaim', { jobs: jobs.map((j) => ({ id: j.id, worker, token: j.lease })) });
  }

  heartbeat(topic: string, req: HeartbeatRequest): Promise<{ leaseUntil: number }> {
    checkTopic(topic);
    const l = checkLease(req);
    return this.call(topic, 'heartbeat', { ...l, leaseMs: checkLeaseMs(req.leaseMs, this.limits) ?? DEFAULT_LEASE_MS });
  }

  ack(topic: string, req: AckRequest): Promise<{ id: string }> {
    checkTopic(topic);
    const l = checkLease(req);
    let result: unknown;
    if (req.result !== undefined) {
      checkJsonDepth(req.result, 'result');
      const json = JSON.stringify(req.result);
      if (json !== undefined && Buffer.byteLength(json) > this.o.payloadThreshold) {
        throw new QueueError('PAYLOAD_TOO_LARGE', `an ack result may be at most ${this.o.payloadThreshold} bytes as JSON`);
      }
      result = json === undefined ? undefined : JSON.parse(json);
    }
    const input = result === undefined ? l : { ...l, result };
    return traced('bucketq.ack', topic, { 'bucketq.job.id': l.id, 'bucketq.worker': l.worker }, (span) => this.call(topic, 'ack', input, span ? { onLanded: span.landed } : undefined));
  }

  nack(topic: string, req: NackRequest): Promise<OpOutput<'nack'>> {
    checkTopic(topic);
    const l = checkLease(req);
    const input: OpInput<'nack'> = { ...l, rand: this.o.random() };
    const error = checkErrorText(req.error);
    if (error !== undefined) input.error = error;
    const delayMs = checkDelayMs(req.delayMs);
    if (delayMs !== undefined) input.delayMs = delayMs;
    return traced('bucketq.nack', topic, { 'bucketq.job.id': l.id, 'bucketq.worker': l.worker }, (span) => this.call(topic, 'nack', input, span ? { onLanded: span.landed } : undefined));
  }

  /**
   * Hands claimed jobs back untouched (pending at once, the attempt not counted): jobs a worker
   * claimed ahead and never started. A lease that is no longer the caller's is skipped.
   */
  release(topic: string, items: ReadonlyArray<LeaseRequest>): Promise<{ released: number }> {
    checkTopic(topic);
    checkReleaseSize(items, this.limits);
    const jobs = items.map((item) => checkLease(item));
    return this.call(topic, 'unclaim', { jobs }).then((out) => ({ released: out.returned }));
  }

  cancel(topic: string, id: string): Promise<OpOutput<'cancel'>> {
    return this.call(checkTopic(topic), 'cancel', { id: checkId(id) });
  }

  /**
   * A job by id, with its payload. Dead jobs, and finished ones archived within the recent window,
   * are read back from their archive object (queue.json holds only a stub of them); past the
   * window a finished job is NOT_FOUND.
   */
  async get(topic: string, id: string): Promise<JobRecord> {
    const job = await this.call(checkTopic(topic), 'get', { id: checkId(id) });
    const stub = job.archive !== undefined && job.payload === undefined && job.payloadRef === undefined;
    const full = stub ? await archivedRecord((key) => this.readWithRetry(key), job) : job;
    if (full.payloadRef !== undefined) await inlinePayloads(this.store, topic, [full]);
    return full;
  }

  /** Sends a dead job back to pending with its attempts reset. */
  async retry(topic: string, id: string): Promise<OpOutput<'retry'>> {
    checkTopic(topic);
    checkId(id);
    const job = await this.call(topic, 'get', { id });
    if (job.state !== 'dead') throw new QueueError('FAILED_PRECONDITION', `job ${id} is ${job.state}, not dead`, { details: { id } });
    const stub = job.payload === undefined && job.payloadRef === undefined;
    const record = stub ? await archivedRecord((key) => this.readWithRetry(key), job) : job;
    if (stub) {
      const ref = await this.externalise(topic, JSON.stringify(record.payload ?? null));
      if (ref !== undefined) {
        delete record.payload;
        record.payloadRef = ref;
      }
    }
    return this.call(topic, 'retry', { id, record });
  }

  /** A page of one state's jobs from the committed state, payloads and dead jobs' records included. */
  listJobs(topic: string, input: ListJobsInput): Promise<ListJobsOutput> {
    return listJobsPage(this.deadJobs, topic, input);
  }

  /** The workers holding leases on a topic's jobs. */
  workers(topic: string): Promise<OpOutput<'workers'>> {
    return this.call(checkTopic(topic), 'workers', {});
  }

  /** Every dead job (or the listed ones) back to pending in one op, so in one commit. */
  retryDead(topic: string, ids?: readonly string[]): Promise<RetryDeadOutput> {
    return retryDeadJobs(this.deadJobs, topic, ids);
  }

  /** Throws dead jobs away (every one, or the listed ones) in one op, so in one commit (core/ops/purge-dead.ts). */
  purgeDead(topic: string, ids?: readonly string[]): Promise<OpOutput<'purgeDead'>> {
    checkTopic(topic);
    return this.call(topic, 'purgeDead', ids === undefined ? {} : { ids: ids.map((id) => checkId(id)) });
  }

  stats(topic: string): Promise<JobStats> {
    return this.call(checkTopic(topic), 'stats', {});
  }

  configure(topic: string, settings: ConfigureInput): Promise<ConfigureInput> {
    checkTopic(topic);
    return this.call(topic, 'configure', checkSettings(settings));
  }

  /**
   * The topics this broker has a commit loop for, with what it knows of their leader (no I/O),
   * and, for a topic whose state it found lost, why (`stateLost`).
   */
  topicLeases(): Array<{ topic: string; leading: boolean; leader: BrokerLease | null; stateLost?: LostTopic; segmentLost?: LostSegment }> {
    return [...this.loops].map(([topic, loop]) => {
      const lease = loop.leaderLease;
      const lost = loop.lost;
      const seg = loop.segmentLoss;
      const entry = { topic, leading: loop.isLeading, leader: lease ? { ...lease } : null };
      if (lost) return { ...entry, stateLost: { code: lost.error.code, message: lost.error.message, since: lost.since, seq: lost.seq, memorySeq: lost.memorySeq } };
      return seg ? { ...entry, segmentLost: { key: seg.key, code: seg.error.code, message: seg.error.message, since: seg.since } } : entry;
    });
  }

  /**
   * What keeps this broker from serving or committing a topic (no I/O; readiness, metrics):
   * topics whose state it found lost, topics whose last batch failed in the store with none
   * landed since, and topics it leads with a segment the store lacks or cannot decode.
   */
  topicTroubles(): TopicTrouble[] {
    const out: TopicTrouble[] = [];
    for (const [topic, loop] of this.loops) {
      const lost = loop.lost;
      if (lost) out.push({ topic, trouble: 'state-lost', error: lost.error, since: lost.since });
      const failed = loop.storageFailure;
      if (failed) out.push({ topic, trouble: 'commit-failing', error: failed.error, since: failed.since });
      const seg = loop.segmentLoss;
      if (seg) out.push({ topic, trouble: 'segment-lost', error: seg.error, since: seg.since });
    }
    return out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
  }

  /**
   * Serves a topic whose state was lost again (docs/operations.md, "When a topic's state
   * vanishes"): adopts the object if one is back, else writes a fresh empty state, or with
   * `restoreFromMemory` the last commit this broker landed while leading it. Refuses a topic whose
   * state is in place (FAILED_PRECONDITION) or that never existed (NOT_FOUND).
   */
  resetTopic(topic: string, options: { restoreFromMemory?: boolean } = {}): Promise<ResetOutcome> {
    return this.loop(checkTopic(topic)).reset(options.restoreFromMemory === true);
  }

  /**
   * Every topic in the store (those with a queue.json), and those whose state this broker found
   * lost: their queue.json is gone, yet they exist until reset (requests answer STATE_LOST).
   */
  async topics(): Promise<string[]> {
    const keys = await withRetry('list topics', this.o.retry, this.clock, this.o.random, () => this.store.list('topics/'));
    const stored = keys.map(topicOfQueueKey).filter((t): t is string => t !== undefined);
    const lost = [...this.loops].filter(([topic, loop]) => loop.lost !== null && !stored.includes(topic)).map(([topic]) => topic);
    return lost.length === 0 ? stored : [...stored, ...lost].sort();
  }

  /** Runs the retention janitor of a topic now (it also runs hourly while leading). */
  janitor(topic: string): Promise<{ deleted: number }> {
    return this.archiver.janitor(topic, this.loop(topic));
  }

  /** Waits until every topic's loop is idle and every archive write has finished. */
  async flush(): Promise<void> {
    // Housekeeping that would wait to ride along with a batch commits at once meanwhile.
    const released = [...this.loops.values()].map((l) => l.hurry());
    try {
      for (let i = 0; i < 5; i++) {
        await Promise.all([...this.loops.values()].map((l) => l.idle()));
        // Open archive windows would wait for their timer: seal them, so their jobs are archived now.
        await Promise.all([...this.loops].map(([topic, l]) => this.archiver.sealNow(topic, l.committed, l)));
        await Promise.all([...this.loops.values()].map((l) => l.idle()));
        await this.archiver.drain();
      }
    } finally {
      for (const release of released) release();
    }
  }

  /**
   * Drains and stops: finishes the commits in flight and queued, lets archives finish, gives up
   * every lease so a standby takes over at once, and refuses later calls with CLOSED.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const cancel of this.janitors.values()) cancel();
    await this.flush();
    await Promise.all([...this.loops.values()].map((l) => l.stop(true)));
    this.archiver.stop();
  }

  // ---------------------------------------------------------------------------------------------

  /** Writes a payload too large for queue.json to its own object: its ref, or undefined when it fits. */
  private async externalise(topic: string, json: string): Promise<string | undefined> {
    if (!this.isLarge(json)) return undefined;
    const ref = this.o.newId();
    await withRetry('write payload', this.o.retry, this.clock, this.o.random, () => writePayload(this.store, topic, ref, json));
    return ref;
  }

  private isLarge(json: string): boolean {
    return Buffer.byteLength(json) > this.o.payloadThreshold;
  }

  private readWithRetry(key: string): Promise<{ body: Uint8Array } | null> {
    return withRetry(`read ${key}`, this.o.retry, this.clock, this.o.random, () => this.store.read(key));
  }

  private emitBatch(batch: LandedBatch): void {
    try {
      this.events.emit('batch', batch);
    } catch {
      // an observer's bug must not break the commit loop that called us
    }
  }

  private cleanupPayloads(topic: string, refs: string[]): void {
    for (const ref of refs) {
      this.archiver.track(
        deletePayload(this.store, topic, ref).catch((error: unknown) => {
          this.events.emit('internal-error', { topic, op: 'delete payload', error });
        }),
      );
    }
  }

  private startJanitor(topic: string, loop: TopicLoop): void {
    if (this.janitors.has(topic)) return;
    const run = () => {
      if (!loop.isLeading || this.stopped) return;
      this.archiver.track(
        this.archiver
          .janitor(topic, loop)
          .then(() => undefined)
          .catch((error: unknown) => {
            if (!isQueueError(error, 'CLOSED')) this.events.emit('internal-error', { topic, op: 'janitor', error });
          }),
      );
      this.janitors.set(topic, this.clock.setTimer(HOUR, run));
    };
    this.janitors.set(topic, this.clock.setTimer(0, run));
  }
}

export function createBroker(options: BrokerOptions): Broker {
  return new Broker(options);
}

