/**
 * `GET /v1/broker/stats/stream`: what the dashboard's live charts draw, as Server-Sent Events. One
 * `stats` event at once on connect, then one every `intervalMs` (1 s):
 *
 *   {at, commits: {perSec, jobsPerCommit, p50Ms, p99Ms, conflictsPerSec, ambiguousPerSec},
 *    totals: {pending, delayed, claimed, dead, completed, oldestPendingMs, pushedPerSec,
 *             ackedPerSec, failedPerSec, deadPerSec, workers},
 *    topics: {[topic]: {pending, delayed, claimed, dead, completed, oldestPendingMs,
 *                       pushedPerSec, ackedPerSec, failedPerSec, deadPerSec, sinceClaimMs,
 *                       workers, paused}}}
 *
 * Rates are over the last `windowMs` (5 s). Topics are those this broker leads; `totals` adds
 * them up (`oldestPendingMs`: the oldest of all).
 *
 * History: the ticker also keeps the last `historyMs` (10 min) of samples (stats-history.ts), for
 * `GET /v1/broker/stats/history`, so it runs from the start, watched or not: one stats read per
 * led topic a second, answered from memory (Broker#stats reads the committed state, writes
 * nothing). With `historyMs: 0` it runs only while a stream is open, as before there was a
 * history. `workers` (a walk over the claimed jobs) is counted only while someone watches, else
 * null. A stream whose socket does not take writes skips ticks (each event is a whole snapshot,
 * nothing is lost by skipping one). close() (drain) ends every stream and stops the ticker.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Broker } from '../../../broker/broker.js';
import { systemClock, type Clock } from '../../../clock.js';
import type { CommitStats } from '../../../broker/broker-events.js';
import { isQueueError, QueueError } from '../../../errors.js';
import { endStream, writeSseHead, type StreamSink } from '../sse.js';
import { StatsHistory } from './stats-history.js';

export interface StatsStreamOptions {
  /** Time between events (default 1000 ms). */
  intervalMs?: number;
  /** Window of the rates and percentiles (default 5000 ms). */
  windowMs?: number;
  /** How much history to keep for GET /v1/broker/stats/history (default 10 minutes; 0: none). */
  historyMs?: number;
  /** Drives the ticker and the timestamps (tests use a FakeClock). */
  clock?: Clock;
}

export const DEFAULT_HISTORY_MS = 10 * 60_000;

export interface TopicStats {
  pending: number;
  delayed: number;
  claimed: number;
  dead: number;
  completed: number;
  oldestPendingMs: number;
  pushedPerSec: number;
  ackedPerSec: number;
  /** Failed attempts a second: nacks and expired leases, the last attempts (dead) included. */
  failedPerSec: number;
  /** Jobs that went dead a second. */
  deadPerSec: number;
  /** Since a claim last took a job of this topic, as far as this broker watched (at most since it began to). */
  sinceClaimMs: number;
  /** Workers holding a lease; null when nobody watched the stream (not counted then). */
  workers: number | null;
  paused: boolean;
}

export type StatsTotals = Omit<TopicStats, 'paused' | 'sinceClaimMs'>;

export interface StatsEvent {
  at: number;
  commits: { perSec: number; jobsPerCommit: number; p50Ms: number; p99Ms: number; conflictsPerSec: number; ambiguousPerSec: number };
  totals: StatsTotals;
  topics: Record<string, TopicStats>;
}

interface CounterSample {
  at: number;
  pushed: number;
  completed: number;
  claimed: number;
  failed: number;
  dead: number;
  /** Every job transition the counters count: what "jobs per commit" divides. */
  moves: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

function emptyTotals(workers: number | null): StatsTotals {
  return { pending: 0, delayed: 0, claimed: 0, dead: 0, completed: 0, oldestPendingMs: 0, pushedPerSec: 0, ackedPerSec: 0, failedPerSec: 0, deadPerSec: 0, workers };
}

export class StatsStreams {
  private readonly intervalMs: number;
  private readonly windowMs: number;
  private readonly clock: Clock;
  private readonly history: StatsHistory<TopicStats, StatsEvent>;
  private readonly sinks = new Map<StreamSink, { paused: boolean }>();
  private commits: Array<{ at: number; ms: number }> = [];
  private conflicts: number[] = [];
  private ambiguous: number[] = [];
  private counters = new Map<string, CounterSample[]>();
  /** Per topic: its claimed counter, and when that last moved (or when this broker first sampled it). */
  private lastClaim = new Map<string, { claimed: number; at: number }>();
  private stopTicker: (() => void) | null = null;
  private startedAt = 0;
  private closed = false;
  private readonly onCommit = (e: CommitStats) => this.commits.push({ at: this.clock.now(), ms: e.ms });
  private readonly onConflict = () => this.conflicts.push(this.clock.now());
  private readonly onAmbiguous = () => this.ambiguous.push(this.clock.now());

  constructor(
    private readonly broker: Broker,
    o: StatsStreamOptions = {},
  ) {
    this.intervalMs = o.intervalMs ?? 1000;
    this.windowMs = o.windowMs ?? 5000;
    this.clock = o.clock ?? systemClock;
    this.history = new StatsHistory(Math.floor((o.historyMs ?? DEFAULT_HISTORY_MS) / this.intervalMs));
    if (this.history.capacity > 0) this.start();
  }

  /** Streams open right now. */
  get count(): number {
    return this.sinks.size;
  }

  /** Whether the broker's events are subscribed to and the ticker runs. */
  get subscribed(): boolean {
    return this.stopTicker !== null;
  }

  /** GET /v1/broker/stats/history: the kept samples, oldest first, with `topic`'s row (see stats-history.ts). */
  historyOf(topic?: string): { intervalMs: number; historyMs: number; samples: StatsEvent[] } {
    return { intervalMs: this.intervalMs, historyMs: this.history.capacity * this.intervalMs, samples: this.history.samples(topic) };
  }

  /** Serves one authenticated request; resolves when the stream has closed. */
  serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const q = (req.url ?? '').indexOf('?');
    if (q !== -1 && req.url!.length > q + 1) throw new QueueError('INVALID_ARGUMENT', 'the stats stream takes no query parameters');
    if (this.closed) throw new QueueError('UNAVAILABLE', 'this broker is shutting down; retry on another broker');
    writeSseHead(res);
    return this.stream(res);
  }

  /** The stream on any sink whose headers are sent. */
  stream(sink: StreamSink): Promise<void> {
    const entry = { paused: false };
    this.sinks.set(sink, entry);
    if (!this.subscribed) this.start();
    const done = new Promise<void>((resolve) =>
      sink.once('close', () => {
        this.sinks.delete(sink);
        if (this.sinks.size === 0 && this.history.capacity === 0) this.stop();
        resolve();
      }),
    );
    this.write(sink, entry, 'retry: 1000\n: connected\n\n');
    // As on a tick: a failed snapshot skips this event (the next tick sends one); never an unhandled rejection.
    void this.snapshot()
      .then((e) => this.write(sink, entry, frame(e)))
      .catch(() => undefined);
    return done;
  }

  /** Drain: ends every stream, stops the ticker and refuses new streams. */
  close(): void {
    this.closed = true;
    for (const sink of this.sinks.keys()) endStream(sink);
    this.stop();
  }

  /** The event every stream gets now (exported for tests through the streams). */
  async snapshot(): Promise<StatsEvent> {
    const now = this.clock.now();
    const since = now - this.windowMs;
    const watched = this.sinks.size > 0;
    this.commits = this.commits.filter((c) => c.at > since);
    this.conflicts = this.conflicts.filter((t) => t > since);
    this.ambiguous = this.ambiguous.filter((t) => t > since);
    // Rates over the window, or over the time watched when that is shorter (at least one interval).
    const seconds = Math.max(this.intervalMs, Math.min(this.windowMs, now - this.startedAt)) / 1000;
    const topics: Record<string, TopicStats> = {};
    const totals = emptyTotals(watched ? 0 : null);
    let moves = 0;
    for (const { topic, leading } of this.broker.topicLeases()) {
      if (!leading) continue;
      let st;
      let workers: number | null = null;
      try {
        st = await this.broker.stats(topic);
        if (watched && st.claimed > 0) workers = (await this.broker.workers(topic)).workers.length;
        else if (watched) workers = 0;
      } catch (err) {
        if (isQueueError(err)) continue; // lost the topic (or stopping) since the list: not ours to show
        throw err;
      }
      const c = st.counters;
      const sample: CounterSample = {
        at: now,
        pushed: c.pushed,
        completed: c.completed,
        claimed: c.claimed,
        failed: c.nacked + c.leasesExpired,
        dead: c.dead,
        moves: c.pushed + c.claimed + c.completed + c.nacked + c.dead + c.cancelled + c.retried + c.leasesExpired,
      };
      const samples = (this.counters.get(topic) ?? []).filter((s) => s.at >= since);
      let claim = this.lastClaim.get(topic);
      if (claim?.claimed !== c.claimed) this.lastClaim.set(topic, (claim = { claimed: c.claimed, at: now }));
      samples.push(sample);
      this.counters.set(topic, samples);
      const first = samples[0]!;
      const span = Math.max(this.intervalMs, sample.at - first.at) / 1000;
      const perSec = (field: 'pushed' | 'completed' | 'failed' | 'dead') => round((sample[field] - first[field]) / span);
      moves += sample.moves - first.moves;
      const row: TopicStats = {
        pending: st.pending,
        delayed: st.delayed,
        claimed: st.claimed,
        dead: st.dead,
        completed: c.completed,
        oldestPendingMs: st.oldestPendingMs,
        pushedPerSec: perSec('pushed'),
        ackedPerSec: perSec('completed'),
        failedPerSec: perSec('failed'),
        deadPerSec: perSec('dead'),
        sinceClaimMs: now - claim!.at,
        workers,
        paused: st.paused,
      };
      topics[topic] = row;
      for (const k of ['pending', 'delayed', 'claimed', 'dead', 'completed', 'pushedPerSec', 'ackedPerSec', 'failedPerSec', 'deadPerSec'] as const) totals[k] += row[k];
      totals.oldestPendingMs = Math.max(totals.oldestPendingMs, row.oldestPendingMs);
      if (totals.workers !== null) totals.workers += workers ?? 0;
    }
    for (const k of ['pushedPerSec', 'ackedPerSec', 'failedPerSec', 'deadPerSec'] as const) totals[k] = round(totals[k]);
    for (const topic of this.counters.keys()) {
      if (topic in topics) continue;
      this.counters.delete(topic);
      this.lastClaim.delete(topic);
    }
    const ms = this.commits.map((c) => c.ms).sort((a, b) => a - b);
    return {
      at: now,
      commits: {
        perSec: round(this.commits.length / seconds),
        jobsPerCommit: this.commits.length === 0 ? 0 : round(moves / this.commits.length),
        p50Ms: percentile(ms, 50),
        p99Ms: percentile(ms, 99),
        conflictsPerSec: round(this.conflicts.length / seconds),
        ambiguousPerSec: round(this.ambiguous.length / seconds),
      },
      totals,
      topics,
    };
  }

  // ---------------------------------------------------------------------------------------------

  private start(): void {
    if (this.closed) return;
    this.startedAt = this.clock.now();
    this.broker.events.on('commit', this.onCommit);
    this.broker.events.on('conflict', this.onConflict);
    this.broker.events.on('ambiguous', this.onAmbiguous);
    let ticking = false;
    const tick = () => {
      this.stopTicker = this.clock.setTimer(this.intervalMs, tick);
      if (ticking) return; // the last snapshot still waits for a topic: skip, never pile up
      ticking = true;
      void this.snapshot()
        .then((e) => {
          this.history.push(e);
          if (this.sinks.size === 0) return;
          const text = frame(e);
          for (const [sink, entry] of this.sinks) this.write(sink, entry, text);
        })
        .catch(() => undefined)
        .finally(() => (ticking = false));
    };
    this.stopTicker = this.clock.setTimer(this.intervalMs, tick);
  }

  private stop(): void {
    this.stopTicker?.();
    this.stopTicker = null;
    this.broker.events.off('commit', this.onCommit);
    this.broker.events.off('conflict', this.onConflict);
    this.broker.events.off('ambiguous', this.onAmbiguous);
    this.commits = [];
    this.conflicts = [];
    this.ambiguous = [];
    this.counters.clear();
    this.lastClaim.clear();
  }

  private write(sink: StreamSink, entry: { paused: boolean }, text: string): void {
    if (entry.paused || !this.sinks.has(sink)) return;
    if (sink.write(text)) return;
    entry.paused = true;
    sink.once('drain', () => (entry.paused = false));
  }
}

function frame(e: StatsEvent): string {
  return `event: stats\ndata: ${JSON.stringify(e)}\n\n`;
}
