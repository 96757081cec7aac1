/**
 * Prometheus metrics of one BrokerServer (docs/operations.md lists them). Each server has its own
 * prom-client Registry, never the global default one: several brokers may run in one process.
 *
 * Where the figures come from, and what each costs on the commit path:
 * - broker events ('commit', 'conflict', 'ambiguous', 'leader', 'fenced', 'internal-error'),
 *   emitted after the fact by the topic loops: one histogram observation or counter increment each;
 * - the instrumented store decorator (storage/instrumented.ts): one observation per storage call;
 * - the HTTP handler: one counter increment per answered request, labelled by route pattern (never
 *   the raw path, which holds topics and job ids);
 * - job counts per topic: read at scrape time from the committed state of the topics this broker
 *   leads (Broker#stats is answered from memory there), so a scrape writes nothing and costs the
 *   commit loop nothing.
 * Default process metrics (CPU, memory, event loop lag, GC) start with the first scrape, so
 * brokers that are never scraped (tests, embedded use) install no observers. They live in one
 * registry per process, appended to every server's scrape: prom-client's observers (an event-loop
 * delay monitor, a GC PerformanceObserver) can never be stopped, so one set per server would
 * outlive every server a process closes.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Broker } from '../broker/broker.js';
import type { StorageCall } from '../storage/instrumented.js';
import { LeadershipTracker } from './leadership.js';

/** 1 ms to 10 s: a memory store commits in well under 1 ms, a slow cloud write takes seconds. */
const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const REQUESTS_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
const BYTES_BUCKETS = [1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216];
const JOB_STATES = ['pending', 'delayed', 'claimed', 'dead', 'archiving'] as const;
const KNOWN_METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'HEAD', 'OPTIONS']);

/** The process metrics, shared by every server of this process (see the module comment). */
let processRegistry: Registry | null = null;

function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class BrokerMetrics {
  readonly registry = new Registry();
  private readonly commitSeconds: Histogram<'topic'>;
  private readonly commitRequests: Histogram<'topic'>;
  private readonly commitBytes: Histogram<'topic'>;
  private readonly conflicts: Counter<'topic'>;
  private readonly ambiguous: Counter<'topic' | 'landed'>;
  private readonly fenced: Counter<'topic'>;
  private readonly internalErrors: Counter<'topic'>;
  private readonly storageCalls: Counter<'op'>;
  private readonly storageErrors: Counter<'op' | 'code'>;
  private readonly storageSeconds: Histogram<'op'>;
  private readonly httpRequests: Counter<'method' | 'route' | 'code'>;
  private readonly connectionsRejected: Counter<'listener' | 'reason'>;
  /** The HTTP counter's children by "method route code": one Map lookup per request instead of label hashing. */
  private readonly httpChildren = new Map<string, { inc(): void }>();

  constructor(
    private readonly broker: Broker,
    private readonly leadership: LeadershipTracker,
  ) {
    const registers = [this.registry];
    this.commitSeconds = new Histogram({ name: 'bucketq_commit_duration_seconds', help: 'Time from taking a batch to its write landing, conflicts included', labelNames: ['topic'], buckets: SECONDS_BUCKETS, registers });
    this.commitRequests = new Histogram({ name: 'bucketq_commit_requests', help: 'Requests (ops) group-committed in one write', labelNames: ['topic'], buckets: REQUESTS_BUCKETS, registers });
    this.commitBytes = new Histogram({ name: 'bucketq_commit_bytes', help: 'Size of queue.json written by a commit', labelNames: ['topic'], buckets: BYTES_BUCKETS, registers });
    this.conflicts = new Counter({ name: 'bucketq_cas_conflicts_total', help: 'Conditional writes of queue.json that lost (reloaded and re-applied)', labelNames: ['topic'], registers });
    this.ambiguous = new Counter({ name: 'bucketq_ambiguous_writes_total', help: 'Writes that may or may not have landed, resolved by re-reading', labelNames: ['topic', 'landed'], registers });
    this.fenced = new Counter({ name: 'bucketq_fenced_total', help: 'Topics this broker lost to another broker', labelNames: ['topic'], registers });
    this.internalErrors = new Counter({ name: 'bucketq_internal_errors_total', help: 'Failures of background work (archiving, janitor, internal ops)', labelNames: ['topic'], registers });
    this.storageCalls = new Counter({ name: 'bucketq_storage_calls_total', help: 'Storage calls by op', labelNames: ['op'], registers });
    this.storageErrors = new Counter({ name: 'bucketq_storage_errors_total', help: 'Failed storage calls by op and error code', labelNames: ['op', 'code'], registers });
    this.storageSeconds = new Histogram({ name: 'bucketq_storage_call_duration_seconds', help: 'Storage call latency by op', labelNames: ['op'], buckets: SECONDS_BUCKETS, registers });
    this.httpRequests = new Counter({ name: 'bucketq_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status code', labelNames: ['method', 'route', 'code'], registers });
    this.connectionsRejected = new Counter({ name: 'bucketq_connections_rejected_total', help: 'Connections refused or cut by a connection limit, by port (http, resp) and reason', labelNames: ['listener', 'reason'], registers });

    // A topic whose stats cannot be read is left out of this scrape rather than failing it.
    const leadingStats = async () => {
      const topics = leadership.leading();
      const all = await Promise.all(topics.map((topic) => broker.stats(topic).catch(() => null)));
      return topics.flatMap((topic, i) => (all[i] ? [{ topic, stats: all[i] }] : []));
    };
    new Gauge({
      name: 'bucketq_jobs',
      help: 'Jobs by state in the committed state of each topic this broker leads',
      labelNames: ['topic', 'state'],
      registers,
      async collect() {
        this.reset();
        for (const { topic, stats } of await leadingStats()) for (const state of JOB_STATES) this.set({ topic, state }, stats[state]);
      },
    });
    new Gauge({
      name: 'bucketq_oldest_pending_seconds',
      help: 'Age of the oldest due pending job of each topic this broker leads',
      labelNames: ['topic'],
      registers,
      async collect() {
        this.reset();
        for (const { topic, stats } of await leadingStats()) this.set({ topic }, stats.oldestPendingMs / 1000);
      },
    });
    new Gauge({
      name: 'bucketq_topic_leader',
      help: '1 while this broker leads the topic, 0 once it lost or released it',
      labelNames: ['topic'],
      registers,
      collect() {
        this.reset();
        for (const [topic, t] of leadership.topics()) this.set({ topic }, t.leading ? 1 : 0);
      },
    });
    // Counts, not per-topic series: alert on > 0; /readyz (with the token), the log and the dashboard name them.
    const troubled = (trouble: 'state-lost' | 'commit-failing' | 'segment-lost') => broker.topicTroubles().filter((t) => t.trouble === trouble).length;
    new Gauge({
      name: 'bucketq_topics_state_lost',
      help: 'Topics whose state object this broker found missing or behind what it saw; each needs an operator reset',
      registers,
      collect() {
        this.set(troubled('state-lost'));
      },
    });
    new Gauge({
      name: 'bucketq_topics_segment_lost',
      help: 'Topics led here with a segment their head names that the store lacks or that does not decode; its jobs wait until the object is restored',
      registers,
      collect() {
        this.set(troubled('segment-lost'));
      },
    });
    new Gauge({
      name: 'bucketq_topics_commit_failing',
      help: 'Topics whose last commit failed in the store with none landed since (the broker is not ready meanwhile)',
      registers,
      collect() {
        this.set(troubled('commit-failing'));
      },
    });
    new Gauge({
      name: 'bucketq_topic_leader_epoch',
      help: 'Leadership epoch of the lease this broker took last on the topic',
      labelNames: ['topic'],
      registers,
      collect() {
        this.reset();
        for (const [topic, t] of leadership.topics()) this.set({ topic }, t.epoch);
      },
    });
    this.listen();
  }

  private listen(): void {
    const events = this.broker.events;
    events.on('commit', (e) => {
      this.commitSeconds.observe({ topic: e.topic }, e.ms / 1000);
      this.commitRequests.observe({ topic: e.topic }, e.requests);
      this.commitBytes.observe({ topic: e.topic }, e.bytes);
    });
    events.on('conflict', (e) => this.conflicts.inc({ topic: e.topic }));
    events.on('ambiguous', (e) => this.ambiguous.inc({ topic: e.topic, landed: String(e.landed) }));
    events.on('fenced', (e) => this.fenced.inc({ topic: e.topic }));
    events.on('internal-error', (e) => this.internalErrors.inc({ topic: e.topic ?? '' }));
  }

  /** For the instrumented store decorator. */
  storageCall(call: StorageCall): void {
    this.storageCalls.inc({ op: call.op });
    this.storageSeconds.observe({ op: call.op }, call.seconds);
    if (call.errorCode !== null) this.storageErrors.inc({ op: call.op, code: call.errorCode });
  }

  /** For the HTTP handler: `route` is a pattern such as `/v1/topics/:topic/jobs`, or `unmatched`. */
  httpAnswered(method: string, route: string, status: number): void {
    const key = `${method} ${route} ${status}`;
    let child = this.httpChildren.get(key);
    if (!child) {
      child = this.httpRequests.labels({ method: KNOWN_METHODS.has(method) ? method : 'OTHER', route, code: String(status) });
      // Unknown methods all map to OTHER: keep their keys out of the cache, so it stays bounded.
      if (KNOWN_METHODS.has(method)) this.httpChildren.set(key, child);
    }
    child.inc();
  }

  /** A connection refused or cut by a limit (transports/shared/connections.ts lists the reasons). */
  connectionRejected(listener: 'http' | 'resp', reason: string): void {
    this.connectionsRejected.inc({ listener, reason });
  }

  /** The Prometheus text exposition of this server's registry. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    const [own, process] = await Promise.all([this.registry.metrics(), processMetrics().metrics()]);
    return { contentType: this.registry.contentType, body: `${own}${own.endsWith('\n') || own === '' ? '' : '\n'}${process}` };
  }
}
