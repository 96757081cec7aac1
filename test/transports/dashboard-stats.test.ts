/**
 * The stats stream's arithmetic and lifecycle on a fake clock: one event at once and one per
 * interval, rates over the window, commit percentiles, lazy subscription without a history, no
 * timer left after the last reader or close(); with a history (the default), samples kept from
 * the start whether watched or not, bounded, failure rates, totals, time since the last claim.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock, settle } from '../../src/clock.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { MAX_TOPICS_PER_SAMPLE } from '../../src/transports/http/dashboard-server/stats-history.js';
import { StatsStreams, type StatsEvent } from '../../src/transports/http/dashboard-server/stats-stream.js';
import type { StreamSink } from '../../src/transports/http/events/event-streams.js';
import { redactStoreUrl } from '../../src/storage/redact-url.js';

/** A socket stand-in that keeps the stats events written to it. */
class FakeSink implements StreamSink {
  events: StatsEvent[] = [];
  ended = false;
  private onClose: Array<() => void> = [];
  write(chunk: string): boolean {
    for (const m of chunk.matchAll(/^event: stats\ndata: (.*)$/gm)) this.events.push(JSON.parse(m[1]!) as StatsEvent);
    return true;
  }
  end(): void {
    this.ended = true;
    this.close();
  }
  destroy(): void {
    this.close();
  }
  close(): void {
    for (const fn of this.onClose.splice(0)) fn();
  }
  once(event: 'drain' | 'close', fn: () => void): this {
    if (event === 'close') this.onClose.push(fn);
    return this;
  }
}

let broker: Broker;
afterEach(async () => {
  await broker?.stop();
});

/** Stats streams on a fake clock; `historyMs: 0` (no history) unless given. */
function setup(historyMs = 0) {
  const clock = new FakeClock();
  broker = new Broker({ store: createMemoryStore(), clock, id: 'b1' });
  const stats = new StatsStreams(broker, { clock, intervalMs: 1000, windowMs: 5000, historyMs });
  return { clock, stats };
}

describe('StatsStreams', () => {
  it('sends an event at once and one per interval, with rates over the window', async () => {
    const { clock, stats } = setup();
    await broker.push('t', [{ payload: 0 }]);
    const timersBefore = clock.pendingTimers;
    const sink = new FakeSink();
    void stats.stream(sink);
    await settle();
    expect(sink.events).toHaveLength(1);
    expect(sink.events[0]!.topics.t).toMatchObject({ pending: 1, pushedPerSec: 0, paused: false });
    for (let second = 0; second < 4; second++) {
      await broker.push('t', Array.from({ length: 10 }, (_, i) => ({ payload: i })));
      await clock.advance(1000);
    }
    expect(sink.events).toHaveLength(5);
    const last = sink.events[4]!;
    expect(last.at).toBe(clock.now());
    // 40 jobs in 4 commits over the 4 s since the first sample.
    expect(last.topics.t).toMatchObject({ pending: 41, pushedPerSec: 10, ackedPerSec: 0 });
    expect(last.commits.perSec).toBe(1);
    expect(last.commits.jobsPerCommit).toBe(10);
    expect(last.commits.p99Ms).toBeGreaterThanOrEqual(last.commits.p50Ms);
    sink.close();
    expect(stats.count).toBe(0);
    expect(stats.subscribed).toBe(false);
    expect(clock.pendingTimers).toBe(timersBefore);
  });

  it('subscribes to the broker only while someone watches', async () => {
    const { stats } = setup();
    const base = broker.events.listenerCount('commit');
    const a = new FakeSink();
    const b = new FakeSink();
    void stats.stream(a);
    void stats.stream(b);
    expect(broker.events.listenerCount('commit')).toBe(base + 1);
    a.close();
    expect(stats.subscribed).toBe(true);
    b.close();
    expect(broker.events.listenerCount('commit')).toBe(base);
  });

  it('close() ends every stream, stops the ticker and refuses new streams', async () => {
    const { clock, stats } = setup();
    const timersBefore = clock.pendingTimers;
    const sink = new FakeSink();
    const done = stats.stream(sink);
    stats.close();
    await done;
    expect(sink.ended).toBe(true);
    expect(clock.pendingTimers).toBe(timersBefore);
    expect(() => stats.serve({ url: '/v1/broker/stats/stream' } as never, {} as never)).toThrow(/shutting down/);
  });

  it('a failing first snapshot leaves no unhandled rejection (it would end the process)', async () => {
    const { stats } = setup();
    await broker.push('t', [{ payload: 0 }]);
    broker.stats = () => Promise.reject(new Error('a bug in stats'));
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      const sink = new FakeSink();
      void stats.stream(sink);
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
      sink.close();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });
});

describe('StatsStreams with a history', () => {
  it('samples from the start, watched or not, and keeps the last historyMs of samples', async () => {
    const { clock, stats } = setup(5000);
    const commitListeners = broker.events.listenerCount('commit');
    expect(stats.subscribed).toBe(true);
    await broker.push('t', [{ payload: 0 }]);
    for (let i = 0; i < 8; i++) await clock.advance(1000);
    const h = stats.historyOf('t');
    expect(h).toMatchObject({ intervalMs: 1000, historyMs: 5000 });
    expect(h.samples.map((s) => s.at)).toEqual([4, 5, 6, 7, 8].map((n) => clock.now() - 8000 + n * 1000));
    expect(h.samples.at(-1)!.topics.t).toMatchObject({ pending: 1, workers: null });
    expect(stats.historyOf().samples.at(-1)!.topics).toEqual({});
    // A stream that opens and closes does not stop the ticker the history needs.
    const sink = new FakeSink();
    void stats.stream(sink);
    sink.close();
    expect(stats.subscribed).toBe(true);
    const timers = clock.pendingTimers;
    stats.close();
    expect(clock.pendingTimers).toBe(timers - 1);
    expect(broker.events.listenerCount('commit')).toBe(commitListeners - 1);
  });

  it('reports failures and deaths a second, totals over the topics, the time since the last claim, and workers while watched', async () => {
    const { clock, stats } = setup(60_000);
    await broker.push('t', Array.from({ length: 4 }, (_, i) => ({ id: `j${i}`, payload: i, maxAttempts: 1 })));
    await broker.push('u', [{ payload: 'waits' }]);
    await clock.advance(1000);
    const claimed = await broker.claim('t', { workerId: 'w1', max: 3, leaseMs: 60_000 });
    for (const j of claimed.slice(0, 2)) await broker.nack('t', { id: j.id, workerId: 'w1', lease: j.lease, error: 'no' });
    const sink = new FakeSink();
    void stats.stream(sink);
    await clock.advance(1000);
    const last = sink.events.at(-1)!;
    // Two nacks that spent the last attempt, in the second since the first sample.
    expect(last.topics.t).toMatchObject({ pending: 1, claimed: 1, dead: 2, failedPerSec: 2, deadPerSec: 2, sinceClaimMs: 1000, workers: 1 });
    // Never claimed: since the first sample of it (the first tick, at 1 s).
    expect(last.topics.u).toMatchObject({ pending: 1, sinceClaimMs: 1000, workers: 0 });
    expect(last.totals).toMatchObject({ pending: 2, claimed: 1, dead: 2, failedPerSec: 2, deadPerSec: 2, workers: 1 });
    await broker.claim('u', { workerId: 'w2', max: 1, leaseMs: 60_000 });
    for (let i = 0; i < 9; i++) await clock.advance(1000);
    expect(sink.events.at(-1)!.topics.t!.sinceClaimMs).toBe(10_000);
    expect(sink.events.at(-1)!.topics.u!.sinceClaimMs).toBe(8000);
    expect(sink.events.at(-1)!.topics.t!.failedPerSec).toBe(0); // out of the 5 s window
    sink.close();
    await clock.advance(1000);
    expect(stats.historyOf('t').samples.at(-1)!.topics.t!.workers).toBeNull(); // nobody watches: not counted
    stats.close();
  });

  it('keeps at most MAX_TOPICS_PER_SAMPLE topics in a kept sample; the totals count them all', async () => {
    const { clock, stats } = setup(2000);
    const names = Array.from({ length: MAX_TOPICS_PER_SAMPLE + 5 }, (_, i) => `t${String(i).padStart(3, '0')}`);
    for (const name of names) await broker.push(name, [{ payload: 0 }]);
    await clock.advance(1000);
    const samples = stats.historyOf('t104').samples;
    expect(samples.at(-1)!.topics).toEqual({}); // past the cap
    expect(samples.at(-1)!.totals.pending).toBe(names.length);
    expect(Object.keys(stats.historyOf('t000').samples.at(-1)!.topics)).toEqual(['t000']);
    stats.close();
  });
});

describe('redactStoreUrl', () => {
  it('hides userinfo, secret query parameters and connection-string keys, keeps the rest', () => {
    expect(redactStoreUrl('memory://')).toBe('memory://');
    expect(redactStoreUrl('file:./data')).toBe('file:./data');
    expect(redactStoreUrl('s3://AKIA:wJalr@bucket/prefix?region=eu-west-1')).toBe('s3://***@bucket/prefix?region=eu-west-1');
    expect(redactStoreUrl('s3://bucket/p?region=us-east-1&accessKeyId=AKIA&secretAccessKey=wJalr&sessionToken=abc')).toBe(
      's3://bucket/p?region=us-east-1&accessKeyId=***&secretAccessKey=***&sessionToken=***',
    );
    expect(redactStoreUrl('s3://bucket?endpoint=http%3A%2F%2Fminio%3Aminio123%40localhost%3A9000')).not.toContain('minio123');
    expect(redactStoreUrl('azure://c?sv=2024&sig=abcdef&se=x')).toBe('azure://c?sv=***&sig=***&se=***');
    const conn = redactStoreUrl('azure:DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net');
    expect(conn).toContain('AccountName=acct');
    expect(conn).not.toContain('c2VjcmV0');
  });
});
