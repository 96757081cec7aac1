/**
 * Public types of the embedded, typed API ({@link Queue}). The payload type `T` is the caller's
 * promise about what was pushed: bucketq stores JSON, so a payload comes back as its JSON round
 * trip (dates become strings, `undefined` fields disappear).
 */
import type { Broker, BrokerOptions } from './broker/broker.js';
import type { Clock } from './clock.js';
import type { ClaimedJob as CoreClaimedJob } from './core/ops/claim.js';
import type { Backoff, JobRecord as CoreJobRecord, JobStats, TopicSettings } from './core/types.js';
import type { QueueError } from './errors.js';
import type { PushJobRequest } from './protocol.js';
import type { StorageDriver } from './storage/types.js';

export interface QueueOptions {
  /**
   * Where the topic lives: a store URL (`memory://`, `file:./data`, …; opened on first use and
   * closed by {@link Queue.close}), a {@link StorageDriver} you own, or a {@link Broker} shared by
   * several queues (one commit loop per topic, however many queues use it).
   */
  store: string | StorageDriver | Broker;
  /** The topic name: `[A-Za-z0-9_.-]{1,128}`. */
  topic: string;
  /** Time source for the broker this queue creates, and the default clock of workers on it. */
  clock?: Clock;
  /** Topic default for jobs pushed without their own `maxAttempts`; applied once before the first op. */
  maxAttempts?: number;
  /** Topic default retry backoff; applied once before the first op. */
  backoff?: Backoff;
  /** Default lease of claims and heartbeats made through this queue (default 30 s). */
  leaseMs?: number;
  /**
   * Options of the broker this queue creates (ignored keys: `store`). The default `standby` here
   * is `wait`: a process restarting after a crash waits for its old lease to go stale and takes
   * over, instead of failing with NOT_LEADER. A topic that a network broker leads (`bucketq
   * broker` on the same store) fails at once with NOT_LEADER naming its URL: go through it with
   * createClient. Not allowed together with a shared Broker.
   */
  brokerOptions?: Partial<Omit<BrokerOptions, 'store'>>;
}

/** Per-job options of a push. */
export type PushOptions = Omit<PushJobRequest, 'payload'>;

/** What a push did for one job. */
export interface PushResult {
  /** The job id: yours, or generated. */
  id: string;
  /** false when a job with this id already existed: nothing was added (idempotent push). */
  created: boolean;
}

export interface ClaimOptions {
  /** Who claims: heartbeat, ack and nack must present the same id (1–256 chars). */
  workerId: string;
  /** Jobs to claim at most (default 1). */
  max?: number;
  /** Lease length (default: the queue's `leaseMs`, else 30 s). */
  leaseMs?: number;
  /** Long poll: wait up to this long for a job when none is due (default 0, at most 30 s). */
  waitMs?: number;
  /** Aborting it ends a long poll at once with CLOSED; jobs claimed meanwhile are handed back. */
  signal?: AbortSignal;
}

/** A claimed job and its lease (the broker's claim result, payload typed). Pass it back as is to heartbeat, ack and nack. */
export interface ClaimedJob<T = unknown> extends Omit<CoreClaimedJob, 'payload' | 'payloadRef'> {
  payload: T;
  /** The worker id the job was claimed for. */
  workerId: string;
}

/** The three fields that identify a lease. A {@link ClaimedJob} is one. */
export interface LeaseHandle {
  id: string;
  lease: string;
  workerId: string;
}

/** A job as stored, with its payload typed (large payloads are already read back). */
export type JobRecord<T = unknown> = Omit<CoreJobRecord, 'payload' | 'payloadRef'> & { payload: T };

/** Options of a nack. */
export interface NackOptions {
  /** Retry after this long instead of the job's (or topic's) backoff. */
  delayMs?: number;
}

/** What a nack did: the job is due again (`pending`/`delayed`, at `runAt`) or dead-lettered. */
export interface NackResult {
  id: string;
  state: CoreJobRecord['state'];
  runAt?: number;
}

/** One entry of {@link Queue.ackMany}. */
export type AckItem = LeaseHandle & { result?: unknown };
/** One entry of {@link Queue.nackMany}. */
export type NackItem = LeaseHandle & NackOptions & { error?: string | Error };

/** The outcome of one item of a many-op: one item's failure never fails the others. */
export type ItemOutcome<V> = { id: string; ok: true; value: V } | { id: string; ok: false; error: QueueError };

/** Topic settings that {@link Queue.configure} may change. */
export type TopicSettingsUpdate = Partial<TopicSettings>;

/**
 * One topic, typed: what the embedded queue ({@link EmbeddedQueue}, from `createQueue`) and the
 * network client (`createClient` from `bucketq/client`) share, and all that `createWorker` needs.
 * Every method rejects with a {@link QueueError} carrying a code, never with anything else. Ops
 * issued at the same time share one durable commit (group commit).
 */
export interface Queue<T = unknown> {
  /** The topic this queue serves. */
  readonly topic: string;
  /** The clock given to {@link createQueue} or the client (workers default to it). */
  readonly clock: Clock;
  /** Adds a job. Resolves once it is durably written. */
  push(payload: T, opts?: PushOptions): Promise<PushResult>;
  /** Adds several jobs in one commit; results are in input order. */
  pushMany(jobs: ReadonlyArray<{ payload: T } & PushOptions>): Promise<PushResult[]>;
  /** Claims up to `max` due jobs (highest priority first, FIFO within one), leasing them to `workerId`. */
  claim(opts: ClaimOptions): Promise<ClaimedJob<T>[]>;
  /** Extends a lease to now + `leaseMs` (default: the queue's). LEASE_LOST when the lease is not yours any more. */
  heartbeat(job: LeaseHandle, leaseMs?: number): Promise<{ leaseUntil: number }>;
  /** Completes a job, storing `result` (JSON, small) with it. LEASE_LOST when the lease is not yours any more. */
  ack(job: LeaseHandle, result?: unknown): Promise<{ id: string }>;
  /** Fails an attempt: the job is retried after its backoff (or `delayMs`), or dead-lettered at maxAttempts. */
  nack(job: LeaseHandle, error?: string | Error, opts?: NackOptions): Promise<NackResult>;
  /** Acks several jobs in one commit. Never rejects for one item: see each outcome. */
  ackMany(items: ReadonlyArray<AckItem>): Promise<Array<ItemOutcome<{ id: string }>>>;
  /** Nacks several jobs in one commit. Never rejects for one item: see each outcome. */
  nackMany(items: ReadonlyArray<NackItem>): Promise<Array<ItemOutcome<NackResult>>>;
  /**
   * Hands claimed jobs back untouched: pending again at once, in their old place in line, the
   * attempt not counted. For jobs claimed and never started (a worker's `prefetch` when it
   * closes). A lease that is no longer yours is skipped: `released` counts the jobs handed back.
   */
  release(jobs: ReadonlyArray<LeaseHandle>): Promise<{ released: number }>;
  /** Cancels a pending or delayed job (FAILED_PRECONDITION when it is claimed or finished). */
  cancel(id: string): Promise<{ id: string; state: 'cancelled' }>;
  /** Sends a dead-lettered job back to pending with its attempts reset. */
  retry(id: string): Promise<{ id: string; state: CoreJobRecord['state'] }>;
  /**
   * Sends every dead job (or those listed) back to pending in one commit. `skipped` names listed
   * ids that were not dead, or whose archived record could not be read (retry again).
   */
  retryDead(ids?: readonly string[]): Promise<RetryDeadResult>;
  /**
   * A job by id: live jobs, dead-lettered jobs (read back from their archive), completed or
   * cancelled jobs in full until they are archived (within about 200 ms), then `{id, state}` while
   * the recent window remembers them; after that NOT_FOUND.
   */
  get(id: string): Promise<JobRecord<T>>;
  /** Counts, counters and the leader of the topic. */
  stats(): Promise<JobStats>;
  /** Changes topic settings; resolves with all of them. */
  configure(settings: TopicSettingsUpdate): Promise<TopicSettings>;
  /** Stops handing out jobs (pushes are still accepted). */
  pause(): Promise<TopicSettings>;
  /** Hands out jobs again after {@link Queue.pause}. */
  resume(): Promise<TopicSettings>;
  /**
   * Closes the queue: later calls fail with CLOSED. A broker this queue created is stopped (its
   * queued commits finish and it gives up leadership, so another process takes over at once) and
   * a store it opened from a URL is closed. A shared Broker or a StorageDriver you passed is left alone.
   */
  close(): Promise<void>;
}

/** The queue `createQueue` returns: a {@link Queue} with the broker that runs its commit loop in this process. */
export interface EmbeddedQueue<T = unknown> extends Queue<T> {
  /** The broker running the topic's commit loop (shared when one was passed in). */
  readonly broker: Broker;
}

/** What {@link Queue.retryDead} did. */
export interface RetryDeadResult {
  retried: number;
  /** Ids now pending again. */
  ids: string[];
  skipped: Array<{ id: string; code: 'NOT_FOUND' | 'UNAVAILABLE'; message: string }>;
}
