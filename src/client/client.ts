/**
 * The network client: `createClient<T>()` gives one topic of a remote broker group as a
 * {@link Queue}, the interface of the embedded queue, so `createWorker` runs unchanged on it.
 * Each method is one HTTP request (docs/http-api.md) through a {@link Connection}, which finds
 * the leader and retries per call; except `push`, whose calls made together share requests
 * (push-batcher.ts: same turn of the event loop, or while pushes are in flight), and `ack`,
 * whose calls of one turn go out as one ackMany (a lone one as the single ack request):
 *
 *   push, pushMany          retried after any transient failure: every job carries an id, made
 *                           here when the caller gave none, so a retried push finds the job it
 *                           created and adds nothing (`created` stays true for an id made here)
 *   claim                   retried only when the broker certainly did nothing (no connection,
 *                           NOT_LEADER, UNAVAILABLE): a claim whose answer was lost leased jobs
 *                           nobody runs, and they come back when their lease expires; retrying
 *                           after a timeout would strand another batch each time a slow broker
 *                           misses the deadline, burning attempts
 *   heartbeat, ack, nack,   retried: each presents the lease, so a replay cannot act twice. A
 *   ackMany, nackMany       replayed ack answers ok while the broker remembers the completing
 *                           lease (its recent window), a replayed nack gets its first answer
 *                           while the broker holds the job's record (docs/architecture.md);
 *                           past that, LEASE_LOST, which then says that an earlier try may
 *                           have landed (`details.retried`; not for the items of a many-call,
 *                           acks coalesced by one turn included)
 *   get, stats, cancel,     retried (cancel and retry cannot act twice; a replay answers
 *   retry                   FAILED_PRECONDITION or NOT_FOUND if the first try landed)
 *   configure, pause,       retried: each sets values (PATCH /v1/topics/{topic}), so a replay
 *   resume                  changes nothing more
 */
import { unguessableId } from '../unguessable-ids.js';
import { systemClock, type Clock } from '../clock.js';
import type { BrokerLease, JobStats, TopicSettings } from '../core/types.js';
import { isQueueError, QueueError, toQueueError, type ErrorCode } from '../errors.js';
import { checkLeaseMs, checkPushJob, checkTopic, DEFAULT_LEASE_MS, DEFAULT_LIMITS, type Limits } from '../protocol.js';
import type {
  AckItem,
  ClaimedJob,
  ClaimOptions,
  ItemOutcome,
  JobRecord,
  LeaseHandle,
  NackItem,
  NackOptions,
  NackResult,
  PushOptions,
  PushResult,
  Queue,
  RetryDeadResult,
  TopicSettingsUpdate,
} from '../api.js';
import type { QueueEvent } from '../event-types.js';
import { TurnBatcher } from '../turn-batcher.js';
import { Connection, type CallOptions, type ConnectionOptions } from './connection.js';
import { PushBatcher } from './push-batcher.js';
import { streamEvents, type EventsOptions } from './events.js';
import { errorText, jsonSafe, leaseOf } from '../api-arguments.js';

export interface ClientOptions extends ConnectionOptions {
  /** The topic: `[A-Za-z0-9_.-]{1,128}`. One client per topic, like createQueue. */
  topic: string;
  /** Default lease of claims and heartbeats (default 30 s). */
  leaseMs?: number;
  /** Clock handed to workers on this client (default: the system clock). */
  clock?: Clock;
  /**
   * `push()` calls made in the same turn of the event loop, or while this client's pushes are in
   * flight, go out as one request, each call keeping its own outcome (default true; no timer, so
   * a lone push is not delayed). false: one request per call. `pushMany` is always one request of its own.
   */
  batchPushes?: boolean;
}

/** A remote topic: the {@link Queue} of the embedded API, plus the broker's live events. */
export interface Client<T = unknown> extends Queue<T> {
  /**
   * The live events (job pushed, claimed, acked, nacked, dead, cancelled, retried; leader
   * changes; commit stats) of this client's topic, or of `topics`, as an async iterator that
   * reconnects with the last event id. Which broker is read: see src/client/events.ts.
   */
  events(options?: EventsOptions): AsyncGenerator<QueueEvent, void, undefined>;
}

/** Items of one settle request at most (a broker's default batch limit is 10 000). */
const SETTLE_CHUNK = 1000;

/**
 * Opens one topic of a broker (group) as a typed queue. Synchronous and lazy: nothing is sent
 * before the first call. Give `url` (a broker), `store` (the leader is read from the topic's
 * queue.json), or both (the URL is used while the store names no broker).
 *
 * @example
 *   const emails = createClient<{ to: string }>({ url: 'http://127.0.0.1:8080', topic: 'emails' });
 *   await emails.push({ to: 'a@example.com' });
 */
export function createClient<T = unknown>(options: ClientOptions): Client<T> {
  return new RemoteQueue<T>(options);
}

/**
 * What the client checks of a job before sending it: everything the broker would, except the
 * payload's size, whose limit is the broker's own (`--max-payload-bytes`).
 */
const CLIENT_LIMITS: Limits = { ...DEFAULT_LIMITS, maxPayloadBytes: Number.POSITIVE_INFINITY };

/** Job ids made by this client: unguessable, so `created: false` for one can only mean an earlier try of this very push landed (unguessable-ids.ts). */
function newJobId(): string {
  return unguessableId('c');
}

interface WireStats extends Omit<JobStats, 'broker'> {
  topic?: string;
  leader: BrokerLease | null;
}

class RemoteQueue<T> implements Client<T> {
  readonly topic: string;
  readonly clock: Clock;
  private readonly conn: Connection;
  private readonly options: ClientOptions;
  /** Ends every events() iterator on close(). */
  private readonly closer = new AbortController();
  private readonly leaseMs: number;
  private readonly base: string;
  private closing: Promise<void> | null = null;
  /** Requests in flight, so close() can abort long polls and wait for the rest. */
  private readonly inFlight = new Set<{ done: Promise<unknown>; abort?: AbortController }>();
  /** push() calls waiting for their request, or null when each call is a request of its own. */
  private readonly pushes: PushBatcher | null;
  /** ack() calls of this turn. */
  private readonly acks = new TurnBatcher<AckItem, { id: string }>((items) => (items.length === 1 ? this.ackAlone(items[0]!) : this.settleAcks(items, true)));

  constructor(o: ClientOptions) {
    if (typeof o !== 'object' || o === null) throw invalid('createClient needs {url or store, topic}');
    this.topic = checkTopic(o.topic);
    this.clock = o.clock ?? systemClock;
    this.leaseMs = checkLeaseMs(o.leaseMs, DEFAULT_LIMITS) ?? DEFAULT_LEASE_MS;
    this.conn = new Connection(o, this.topic);
    this.options = o;
    this.base = `/v1/topics/${encodeURIComponent(this.topic)}`;
    const path = `${this.base}/jobs`;
    this.pushes = o.batchPushes === false ? null : new PushBatcher({ post: (json) => this.call({ method: 'POST', path, json, retry: 'always' }, false, true) });
  }

  async push(payload: T, opts: PushOptions = {}): Promise<PushResult> {
    if (!this.pushes) {
      const [out] = await this.pushMany([{ ...opts, payload }]);
      return out!;
    }
    if (this.closing) throw closed(this.topic);
    // Checked here, so a job the broker would refuse never joins (and never fails) a batch.
    return this.pushes.push(wireJob({ ...opts, payload }, 'job'));
  }

  async pushMany(jobs: ReadonlyArray<{ payload: T } & PushOptions>): Promise<PushResult[]> {
    if (!Array.isArray(jobs)) throw invalid('pushMany needs an array of {payload, ...options}');
    const wire = jobs.map((job, i) => wireJob(job, `jobs[${i}]`));
    const out = await this.call<{ jobs: PushResult[] }>({ method: 'POST', path: `${this.base}/jobs`, json: `{"jobs":[${wire.map((w) => w.json).join(',')}]}`, retry: 'always' });
    // An id made here is new to the world: `created: false` can only mean an earlier try of this very push landed.
    return out.jobs.map((r, i) => ({ id: r.id, created: r.created || wire[i]!.made }));
  }

  async claim(opts: ClaimOptions): Promise<ClaimedJob<T>[]> {
    if (typeof opts !== 'object' || opts === null) throw invalid('claim needs {workerId}');
    const { signal, ...req } = opts;
    const body = { ...req, leaseMs: req.leaseMs ?? this.leaseMs };
    const wait = typeof req.waitMs === 'number' && req.waitMs > 0 ? req.waitMs : 0;
    const out = await this.call<{ jobs: Array<Omit<ClaimedJob<T>, 'workerId'>> }>(
      { method: 'POST', path: `${this.base}/claim`, body, retry: 'unsent', extraTimeoutMs: wait, signal },
      wait > 0,
    );
    return out.jobs.map((j) => ({ ...j, workerId: req.workerId }));
  }

  async heartbeat(job: LeaseHandle, leaseMs?: number): Promise<{ leaseUntil: number }> {
    const l = leaseOf(job);
    return this.call({ method: 'POST', path: this.jobPath(l.id, 'heartbeat'), body: { workerId: l.workerId, lease: l.lease, leaseMs: leaseMs ?? this.leaseMs }, retry: 'always' });
  }

  async ack(job: LeaseHandle, result?: unknown): Promise<{ id: string }> {
    const item = { ...leaseOf(job), result: jsonSafe(result) };
    if (this.closing) throw closed(this.topic);
    return this.acks.add(item);
  }

  /** One ack as its own request (POST …/jobs/{id}/ack): its error is exactly the broker's. */
  private async ackAlone(item: AckItem): Promise<Array<ItemOutcome<{ id: string }>>> {
    try {
      const out = await this.call<{ id: string }>({ method: 'POST', path: this.jobPath(item.id, 'ack'), body: { workerId: item.workerId, lease: item.lease, result: item.result }, retry: 'always' }, false, true);
      return [{ id: item.id, ok: true, value: { id: out.id } }];
    } catch (err) {
      return [{ id: item.id, ok: false, error: toQueueError(err) }];
    }
  }

  async nack(job: LeaseHandle, error?: string | Error, opts: NackOptions = {}): Promise<NackResult> {
    const l = leaseOf(job);
    const body = { workerId: l.workerId, lease: l.lease, error: errorText(error), delayMs: opts.delayMs };
    return nackResult(await this.call<NackResult>({ method: 'POST', path: this.jobPath(l.id, 'nack'), body, retry: 'always' }));
  }

  async ackMany(items: ReadonlyArray<AckItem>): Promise<Array<ItemOutcome<{ id: string }>>> {
    return this.settleAcks(items, false);
  }

  /** `queued`: acks made before close() (ack calls of one turn), sent even while it closes. */
  private settleAcks(items: ReadonlyArray<AckItem>, queued: boolean): Promise<Array<ItemOutcome<{ id: string }>>> {
    return this.settle(items, 'acks', (item) => ({ ...leaseOf(item), result: jsonSafe(item.result) }), (r) => ({ id: r.id as string }), queued);
  }

  async nackMany(items: ReadonlyArray<NackItem>): Promise<Array<ItemOutcome<NackResult>>> {
    return this.settle(
      items,
      'nacks',
      (item) => ({ ...leaseOf(item), error: errorText(item.error), delayMs: item.delayMs }),
      (r) => nackResult(r as unknown as NackResult),
    );
  }

  async release(jobs: ReadonlyArray<LeaseHandle>): Promise<{ released: number }> {
    if (!Array.isArray(jobs)) throw invalid('release needs an array of claimed jobs');
    // A replay after a lost answer hands back nothing twice: a released lease is no longer yours.
    return this.call({ method: 'POST', path: `${this.base}/release`, body: { jobs: jobs.map(leaseOf) }, retry: 'always' });
  }

  async cancel(id: string): Promise<{ id: string; state: 'cancelled' }> {
    return this.call({ method: 'DELETE', path: this.jobPath(id), retry: 'always' });
  }

  async retry(id: string): Promise<{ id: string; state: JobRecord['state'] }> {
    return this.call({ method: 'POST', path: this.jobPath(id, 'retry'), retry: 'always' });
  }

  async retryDead(ids?: readonly string[]): Promise<RetryDeadResult> {
    // A replay after a lost answer retries nothing twice: jobs already pending are skipped.
    return this.call({ method: 'POST', path: `${this.base}/dead/retry`, body: ids === undefined ? {} : { ids }, retry: 'always' });
  }

  async get(id: string): Promise<JobRecord<T>> {
    return this.call({ method: 'GET', path: this.jobPath(id), retry: 'always' });
  }

  async stats(): Promise<JobStats> {
    const { topic: _topic, leader, ...rest } = await this.call<WireStats>({ method: 'GET', path: this.base, retry: 'always' });
    return { ...rest, broker: leader ?? null };
  }

  /** Like the embedded queue's: creates the topic when it does not exist yet. */
  async configure(settings: TopicSettingsUpdate): Promise<TopicSettings> {
    if (typeof settings !== 'object' || settings === null) throw invalid('configure needs {maxAttempts?, backoff?, paused?}');
    // Only the settings' own fields go out (the embedded queue ignores others too); undefined ones are dropped by JSON.
    const body = { maxAttempts: settings.maxAttempts, backoff: settings.backoff, paused: settings.paused };
    const out = await this.call<TopicSettings>({ method: 'PATCH', path: this.base, body, retry: 'always' });
    return { maxAttempts: out.maxAttempts, backoff: out.backoff, paused: out.paused };
  }

  pause(): Promise<TopicSettings> {
    return this.configure({ paused: true });
  }

  resume(): Promise<TopicSettings> {
    return this.configure({ paused: false });
  }

  events(options: EventsOptions = {}): AsyncGenerator<QueueEvent, void, undefined> {
    if (this.closing) throw new QueueError('CLOSED', `the client of topic ${this.topic} is closed`);
    const topics = (options.topics ?? [this.topic]).map((t) => checkTopic(t));
    const signal = options.signal ? AbortSignal.any([options.signal, this.closer.signal]) : this.closer.signal;
    const own = topics.length === 1 && topics[0] === this.topic;
    // This topic: the client's own connection, which knows its leader already. Others: a connection of their own.
    const conn = own ? this.conn : new Connection(this.options, topics.length === 1 ? topics[0] : undefined);
    return streamEvents(conn, this.options.token, { ...options, topics, signal }, !own);
  }

  /** Later calls fail with CLOSED; long polls in flight end at once (CLOSED), other requests finish first; events() iterators end. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closer.abort();
      for (const r of this.inFlight) r.abort?.abort(new QueueError('CLOSED', `the client of topic ${this.topic} is closed`));
      // Pushes and acks made before close() are sent (and answered), like any request in flight.
      this.acks.flush();
      await Promise.all([this.pushes?.drain(), this.acks.idle(), Promise.allSettled([...this.inFlight].map((r) => r.done))]);
      await this.conn.close();
    })();
    return this.closing;
  }

  // ---------------------------------------------------------------------------------------------

  private jobPath(id: string, action?: string): string {
    if (typeof id !== 'string' || id === '') throw invalid('a job id must be a non-empty string');
    return `${this.base}/jobs/${encodeURIComponent(id)}${action ? `/${action}` : ''}`;
  }

  /**
   * Every request: refused after close (but for `queued` ones: pushes and acks made before it);
   * failures are QueueErrors; `abortable` ones end when close() is called.
   */
  private async call<R>(o: CallOptions, abortable = false, queued = false): Promise<R> {
    if (this.closing && !queued) throw closed(this.topic);
    const abort = abortable ? new AbortController() : undefined;
    const options = abort ? { ...o, signal: o.signal ? AbortSignal.any([o.signal, abort.signal]) : abort.signal } : o;
    const entry: { done: Promise<unknown>; abort?: AbortController } = { done: Promise.resolve() };
    if (abort) entry.abort = abort;
    const done = this.conn.call<R>(options);
    entry.done = done;
    this.inFlight.add(entry);
    try {
      return await done;
    } catch (err) {
      throw toQueueError(err);
    } finally {
      this.inFlight.delete(entry);
    }
  }

  /** One settle request per chunk; each item gets its own outcome, and a failed request fails its items, never the call. */
  private async settle<I extends LeaseHandle, V>(
    items: ReadonlyArray<I>,
    kind: 'acks' | 'nacks',
    toWire: (item: I) => object,
    toValue: (r: Record<string, unknown>) => V,
    queued = false,
  ): Promise<Array<ItemOutcome<V>>> {
    if (!Array.isArray(items)) throw invalid('expected an array of jobs');
    const out: Array<ItemOutcome<V>> = items.map((item) => ({ id: typeof item?.id === 'string' ? item.id : String(item?.id), ok: false, error: pending }));
    // An item this side refuses (no lease, a result that is not JSON) fails alone, as in the embedded queue.
    const sendable: Array<{ index: number; wire: object }> = [];
    items.forEach((item, index) => {
      try {
        sendable.push({ index, wire: toWire(item) });
      } catch (err) {
        out[index] = { id: out[index]!.id, ok: false, error: toQueueError(err) };
      }
    });
    const send = async (chunk: Array<{ index: number; wire: object }>): Promise<void> => {
      let answer: WireOutcome[];
      try {
        const res = await this.call<Record<'acks' | 'nacks', WireOutcome[]>>({ method: 'POST', path: `${this.base}/settle`, body: { [kind]: chunk.map((c) => c.wire) }, retry: 'always' }, false, queued);
        answer = res[kind];
      } catch (err) {
        const error = toQueueError(err);
        // Items that fit one by one may not fit in one request (413): halve it until a refusal
        // is one item's own, so a good result is never failed for its neighbours' size.
        if (error.code === 'PAYLOAD_TOO_LARGE' && chunk.length > 1) {
          const mid = chunk.length >> 1;
          await send(chunk.slice(0, mid));
          return send(chunk.slice(mid));
        }
        for (const { index } of chunk) out[index] = { id: out[index]!.id, ok: false, error };
        return;
      }
      chunk.forEach(({ index }, i) => {
        const id = out[index]!.id;
        const r = answer[i];
        if (r?.ok) {
          const { ok: _ok, ...value } = r;
          out[index] = { id, ok: true, value: toValue({ id, ...value }) };
          return;
        }
        const { code, message, ...details } = r?.error ?? { code: 'INTERNAL', message: `the broker's answer has no outcome for ${id}` };
        out[index] = { id, ok: false, error: new QueueError(code as ErrorCode, message, Object.keys(details).length > 0 ? { details } : {}) };
      });
    };
    for (let start = 0; start < sendable.length; start += SETTLE_CHUNK) await send(sendable.slice(start, start + SETTLE_CHUNK));
    return out;
  }
}

type WireOutcome = { ok: true; [field: string]: unknown } | { ok: false; error?: { code: string; message: string; [detail: string]: unknown } };

/** Placeholder of an outcome until its item is settled (every item is overwritten). */
const pending = new QueueError('INTERNAL', 'not settled');


function invalid(message: string): QueueError {
  return new QueueError('INVALID_ARGUMENT', message);
}

function closed(topic: string): QueueError {
  return new QueueError('CLOSED', `the client of topic ${topic} is closed`);
}

/**
 * A job as the JSON text of the push route, its id made here when the caller gave none, checked
 * as the broker would (`where`: how errors name it). The payload is serialised once, by the check.
 */
function wireJob(job: PushOptions & { payload: unknown }, where: string): { json: string; made: boolean } {
  if (typeof job !== 'object' || job === null) throw invalid(`${where} must be an object with a payload`);
  // Options set to undefined are left out, as JSON leaves them out on the wire; an undefined payload
  // (push() of a void queue) is sent as null, as the embedded queue stores it.
  const defined: Record<string, unknown> = { payload: job.payload ?? null, id: job.id ?? newJobId() };
  for (const [k, v] of Object.entries(job)) if (v !== undefined && k !== 'payload' && k !== 'id') defined[k] = v;
  const { payloadJson, ...rest } = checkPushJob(defined, CLIENT_LIMITS, where);
  return { json: `{"payload":${payloadJson},${JSON.stringify(rest).slice(1)}`, made: job.id === undefined };
}


function nackResult(r: NackResult): NackResult {
  return r.runAt === undefined ? { id: r.id, state: r.state } : { id: r.id, state: r.state, runAt: r.runAt };
}


