/**
 * The stats stream's arithmetic and lifecycle on a fake clock: one event at once and one per
 * interval, rates over the window, commit percentiles, lazy subscription, no timer left after the
 * last reader or close().
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock, settle } from '../../src/clock.js';
import { createMemoryStore } from '../../src/storage/memory.js';
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

function setup() {
  const clock = new FakeClock();
  broker = new Broker({ store: createMemoryStore(), clock, id: 'b1' });
  const stats = new StatsStreams(broker, { clock, intervalMs: 1000, windowMs: 5000 });
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
