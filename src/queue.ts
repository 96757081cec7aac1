/**
 * The embedded, typed API: `createQueue<T>()` gives one topic of a store as a {@link Queue}. It is a
 * thin typed layer over {@link Broker}: it validates nothing the broker validates again, adds the
 * worker id to claimed jobs so they can be passed straight back, and turns every failure into a
 * {@link QueueError}. Workers ({@link createWorker}) are built on it and know nothing of storage.
 */
import { Broker } from './broker/broker.js';
import { systemClock, type Clock } from './clock.js';
import type { JobStats, TopicSettings } from './core/types.js';
import { isQueueError, QueueError, toQueueError } from './errors.js';
import { checkLeaseMs, checkSettings, checkTopic, DEFAULT_LEASE_MS, DEFAULT_LIMITS } from './protocol.js';
import { lazyStore } from './lazy-store.js';
import type {
  AckItem,
  ClaimedJob,
  ClaimOptions,
  EmbeddedQueue,
  ItemOutcome,
  JobRecord,
  LeaseHandle,
  NackItem,
  NackOptions,
  NackResult,
  PushOptions,
  PushResult,
  QueueOptions,
  RetryDeadResult,
  TopicSettingsUpdate,
} from './api.js';
import type { StorageDriver } from './storage/types.js';
import { errorText, jsonSafe, leaseOf } from './api-arguments.js';
export { toQueueError } from './errors.js';

export type * from './api.js';

/**
 * Opens one topic as a typed queue. Synchronous: with a URL the store is opened on first use.
 * Throws INVALID_ARGUMENT at once for a bad topic or option.
 *
 * @example
 *   const emails = createQueue<{ to: string }>({ store: 'file:./data', topic: 'emails' });
 *   await emails.push({ to: 'a@example.com' });
 */
export function createQueue<T = unknown>(options: QueueOptions): EmbeddedQueue<T> {
  return new TopicQueue<T>(options);
}

class TopicQueue<T> implements EmbeddedQueue<T> {
  readonly topic: string;
  readonly broker: Broker;
  readonly clock: Clock;
  private readonly ownsBroker: boolean;
  /** The store this queue opened from a URL, closed with it. */
  private readonly ownedStore: StorageDriver | null;
  private readonly leaseMs: number;
  private readonly settings: TopicSettingsUpdate | null;
  private configured: Promise<void> | null = null;
  private closing: Promise<void> | null = null;

  constructor(o: QueueOptions) {
    if (typeof o !== 'object' || o === null) throw invalid('createQueue needs {store, topic}');
    this.topic = checkTopic(o.topic);
    this.clock = o.clock ?? systemClock;
    this.leaseMs = checkLeaseMs(o.leaseMs, DEFAULT_LIMITS) ?? DEFAULT_LEASE_MS;
    const settings = checkSettings({ maxAttempts: o.maxAttempts, backoff: o.backoff });
    this.settings = Object.keys(settings).length > 0 ? settings : null;

    const store = o.store;
    if (store instanceof Broker) {
      if (o.brokerOptions !== undefined) throw invalid('brokerOptions cannot be used with a shared Broker');
      this.broker = store;
      this.ownsBroker = false;
      this.ownedStore = null;
      return;
    }
    let driver: StorageDriver;
    if (typeof store === 'string') driver = this.ownedStoreOf(store);
    else if (isStorageDriver(store)) driver = store;
    else throw invalid('store must be a URL string, a StorageDriver or a Broker');
    this.ownedStore = typeof store === 'string' ? driver : null;
    this.broker = new Broker({ standby: 'wait', clock: this.clock, ...o.brokerOptions, store: driver });
    this.ownsBroker = true;
  }

  private ownedStoreOf(url: string): StorageDriver {
    if (url.trim() === '') throw invalid('store URL is empty');
    return lazyStore(url);
  }

  async push(payload: T, opts: PushOptions = {}): Promise<PushResult> {
    const [out] = await this.pushMany([{ ...opts, payload }]);
    return out!;
  }

  pushMany(jobs: ReadonlyArray<{ payload: T } & PushOptions>): Promise<PushResult[]> {
    return this.run(async () => {
      if (!Array.isArray(jobs)) throw invalid('pushMany needs an array of {payload, ...options}');
      const out = await this.broker.push(this.topic, [...jobs]);
      return out.map((r) => ({ id: r.id, created: r.created }));
    });
  }

  claim(opts: ClaimOptions): Promise<ClaimedJob<T>[]> {
    return this.run(async () => {
      if (typeof opts !== 'object' || opts === null) throw invalid('claim needs {workerId}');
      const { signal, ...req } = opts;
      const jobs = await this.broker.claim(this.topic, { ...req, leaseMs: req.leaseMs ?? this.leaseMs }, signal);
      return jobs.map(({ payloadRef: _ref, ...j }) => ({ ...j, payload: j.payload as T, workerId: req.workerId }));
    }, opts?.signal);
  }

  heartbeat(job: LeaseHandle, leaseMs?: number): Promise<{ leaseUntil: number }> {
    return this.run(() => this.broker.heartbeat(this.topic, { ...leaseOf(job), leaseMs: leaseMs ?? this.leaseMs }));
  }

  ack(job: LeaseHandle, result?: unknown): Promise<{ id: string }> {
    return this.run(() => this.broker.ack(this.topic, { ...leaseOf(job), result: jsonSafe(result) }));
  }

  nack(job: LeaseHandle, error?: string | Error, opts: NackOptions = {}): Promise<NackResult> {
    return this.run(async () => {
      const out = await this.broker.nack(this.topic, { ...leaseOf(job), error: errorText(error), delayMs: opts.delayMs });
      return out.runAt === undefined ? { id: out.id, state: out.state } : { id: out.id, state: out.state, runAt: out.runAt };
    });
  }

  ackMany(items: ReadonlyArray<AckItem>): Promise<Array<ItemOutcome<{ id: string }>>> {
    return this.many(items, (item) => this.broker.ack(this.topic, { ...leaseOf(item), result: jsonSafe(item.result) }));
  }

  nackMany(items: ReadonlyArray<NackItem>): Promise<Array<ItemOutcome<NackResult>>> {
    return this.many(items, async (item) => {
      const out = await this.broker.nack(this.topic, { ...leaseOf(item), error: errorText(item.error), delayMs: item.delayMs });
      return out.runAt === undefined ? { id: out.id, state: out.state } : { id: out.id, state: out.state, runAt: out.runAt };
    });
  }

  release(jobs: ReadonlyArray<LeaseHandle>): Promise<{ released: number }> {
    return this.run(() => {
      if (!Array.isArray(jobs)) throw invalid('release needs an array of claimed jobs');
      return this.broker.release(this.topic, jobs.map(leaseOf));
    });
  }

  cancel(id: string): Promise<{ id: string; state: 'cancelled' }> {
    return this.run(() => this.broker.cancel(this.topic, id));
  }

  retry(id: string): Promise<{ id: string; state: JobRecord['state'] }> {
    return this.run(() => this.broker.retry(this.topic, id));
  }

  retryDead(ids?: readonly string[]): Promise<RetryDeadResult> {
    return this.run(() => this.broker.retryDead(this.topic, ids));
  }

  get(id: string): Promise<JobRecord<T>> {
    return this.run(async () => {
      const { payloadRef: _ref, ...job } = await this.broker.get(this.topic, id);
      return { ...job, payload: job.payload as T };
    });
  }

  stats(): Promise<JobStats> {
    return this.run(() => this.broker.stats(this.topic));
  }

  configure(settings: TopicSettingsUpdate): Promise<TopicSettings> {
    return this.run(async () => {
      if (typeof settings !== 'object' || settings === null) throw invalid('configure needs {maxAttempts?, backoff?, paused?}');
      return (await this.broker.configure(this.topic, settings)) as TopicSettings;
    });
  }

  pause(): Promise<TopicSettings> {
    return this.configure({ paused: true });
  }

  resume(): Promise<TopicSettings> {
    return this.configure({ paused: false });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.ownsBroker) return;
      try {
        await this.broker.stop();
      } finally {
        await this.ownedStore?.close();
      }
    })().catch((err: unknown) => {
      throw toQueueError(err);
    });
    return this.closing;
  }

  // ---------------------------------------------------------------------------------------------

  /** Every op: refuse after close, apply topic settings once, and map any failure to a QueueError. */
  private async run<R>(fn: () => Promise<R>, signal?: AbortSignal): Promise<R> {
    try {
      if (this.closing) throw new QueueError('CLOSED', `the queue of topic ${this.topic} is closed`);
      if (this.settings) await abortable(this.configureOnce(this.settings), signal);
      return await fn();
    } catch (err) {
      throw this.explained(toQueueError(err));
    }
  }

  /**
   * NOT_LEADER from a network broker (its lease names a URL) says what to do instead: that broker
   * leads the topic as long as it runs (the embedded broker waits only for an embedded holder's
   * lease to go stale), so the likely mistake is pointing this queue at a running broker's store.
   */
  private explained(err: QueueError): QueueError {
    const leader = err.details?.leader;
    if (err.code !== 'NOT_LEADER' || typeof leader !== 'string' || leader === '') return err;
    const id = typeof err.details?.leaderId === 'string' ? `broker ${err.details.leaderId}` : 'a broker';
    return new QueueError(
      'NOT_LEADER',
      `topic ${this.topic} is led by ${id} at ${leader}: an embedded queue cannot share a topic with a running broker; ` +
        `use createClient({ url: '${leader}', topic: '${this.topic}' }) to go through it, give this queue another store, or stop that broker`,
      { cause: err, details: err.details },
    );
  }

  private configureOnce(settings: TopicSettingsUpdate): Promise<void> {
    this.configured ??= this.broker.configure(this.topic, settings).then(
      () => undefined,
      (err: unknown) => {
        this.configured = null; // try again with the next op
        throw err;
      },
    );
    return this.configured;
  }

  /** Submits every item in the same tick, so they join one commit; one item's error fails only it. */
  private async many<I extends LeaseHandle, V>(items: ReadonlyArray<I>, op: (item: I) => Promise<V>): Promise<Array<ItemOutcome<V>>> {
    await this.run(async () => {
      if (!Array.isArray(items)) throw invalid('expected an array of jobs');
    });
    return Promise.all(
      items.map(async (item): Promise<ItemOutcome<V>> => {
        const id = typeof item?.id === 'string' ? item.id : String(item?.id);
        try {
          return { id, ok: true, value: await op(item) };
        } catch (err) {
          return { id, ok: false, error: this.explained(toQueueError(err)) };
        }
      }),
    );
  }
}

function invalid(message: string): QueueError {
  return new QueueError('INVALID_ARGUMENT', message);
}

function isStorageDriver(s: unknown): s is StorageDriver {
  const d = s as Partial<StorageDriver> | null;
  return typeof d === 'object' && d !== null && typeof d.read === 'function' && typeof d.write === 'function' && typeof d.list === 'function';
}


/** Waits for `p`, or rejects with CLOSED as soon as `signal` aborts. */
function abortable<R>(p: Promise<R>, signal: AbortSignal | undefined): Promise<R> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new QueueError('CLOSED', 'request aborted by the caller'));
  return new Promise<R>((resolve, reject) => {
    const onAbort = () => reject(new QueueError('CLOSED', 'request aborted by the caller'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
