/**
 * prom-client's default process metrics install process-wide observers that cannot be stopped (an
 * enabled event-loop delay monitor sampling every 10 ms, a GC PerformanceObserver). They must be
 * installed once per process, not once per BrokerServer scraped: otherwise every server a process
 * starts, scrapes and closes (tests, embedded brokers) leaves its observers running forever.
 */
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { LeadershipTracker } from '../../src/server/leadership.js';
import { BrokerMetrics } from '../../src/server/metrics.js';
import { createMemoryStore } from '../../src/storage/memory.js';

// The perf_hooks module object prom-client itself requires.
const perfHooks = createRequire(import.meta.url)('perf_hooks') as typeof import('node:perf_hooks');

const brokers: Broker[] = [];
afterEach(async () => {
  for (const b of brokers.splice(0)) await b.stop();
});

describe('BrokerMetrics process metrics', () => {
  it('are served by every server but their observers are installed once per process', async () => {
    const original = perfHooks.monitorEventLoopDelay;
    let monitors = 0;
    perfHooks.monitorEventLoopDelay = ((o?: Parameters<typeof original>[0]) => {
      monitors++;
      return original(o);
    }) as typeof original;
    try {
      for (let i = 0; i < 3; i++) {
        const broker = new Broker({ store: createMemoryStore(), clock: new FakeClock(), id: `b${i}` });
        brokers.push(broker);
        const metrics = new BrokerMetrics(broker, new LeadershipTracker(broker));
        const { body } = await metrics.scrape();
        expect(body).toMatch(/^process_cpu_user_seconds_total /m);
        expect(body).toMatch(/^nodejs_eventloop_lag_seconds /m);
        expect(body).toMatch(/^# TYPE bucketq_commit_duration_seconds histogram$/m);
      }
    } finally {
      perfHooks.monitorEventLoopDelay = original;
    }
    expect(monitors).toBeLessThanOrEqual(1);
  });
});
