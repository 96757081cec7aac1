/**
 * OpenTelemetry spans with a real SDK in-process (BasicTracerProvider + InMemorySpanExporter):
 * bucketq.push (request to commit, with the commit seq), bucketq.commit (same seq), bucketq.claim
 * (claimed job ids) and bucketq.ack / bucketq.nack joined to the claim by job id; failures are
 * error spans with the QueueError code.
 */
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { startRequestSpan, traced, tracingAvailable } from '../../src/broker/tracing.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { useGlobalTracerProvider } from '../tracer-provider.js';
import { codeOf } from '../codes.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let broker: Broker;

useGlobalTracerProvider(provider);

afterEach(async () => {
  await broker?.stop();
  exporter.reset();
});

const spans = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.name === name);

describe('tracing', () => {
  it('is on: @opentelemetry/api is installed here; without a registered SDK no span is made at all', async () => {
    expect(tracingAvailable).toBe(true);
    trace.disable();
    try {
      expect(startRequestSpan('bucketq.push', 't', {})).toBeNull();
      let seen: unknown = 'not called';
      await traced('bucketq.push', 't', {}, async (span) => void (seen = span));
      expect(seen).toBeNull();
    } finally {
      trace.setGlobalTracerProvider(provider);
    }
    const later = startRequestSpan('bucketq.push', 't', {}); // a provider registered later is picked up at once
    expect(later).not.toBeNull();
    later!.end();
    exporter.reset();
  });

  it('records push, commit, claim, ack and nack spans joined by commit seq and job id', async () => {
    broker = new Broker({ store: createMemoryStore(), id: 'tr' });
    await broker.push('orders', [{ id: 'a', payload: 1 }, { id: 'b', payload: 2 }]);
    const [push] = spans('bucketq.push');
    expect(push!.attributes).toMatchObject({ 'messaging.system': 'bucketq', 'messaging.destination.name': 'orders', 'bucketq.topic': 'orders', 'bucketq.jobs': 2, 'bucketq.jobs.created': 2 });
    const seq = push!.attributes['bucketq.commit.seq'];
    expect(seq).toEqual(expect.any(Number));
    const commit = spans('bucketq.commit').find((s) => s.attributes['bucketq.commit.seq'] === seq);
    expect(commit?.attributes).toMatchObject({ 'bucketq.topic': 'orders', 'bucketq.commit.requests': 1, 'bucketq.commit.conflicts': 0, 'bucketq.commit.bytes': expect.any(Number) });
    expect(push!.status.code).not.toBe(SpanStatusCode.ERROR);

    const claimed = await broker.claim('orders', { workerId: 'w1', max: 2 });
    const [claim] = spans('bucketq.claim');
    expect(claim!.attributes).toMatchObject({ 'bucketq.worker': 'w1', 'bucketq.claim.max': 2, 'bucketq.jobs': 2, 'bucketq.job.ids': ['a', 'b'] });
    expect(claim!.attributes['bucketq.commit.seq']).toBeGreaterThan(seq as number);

    const [a, b] = claimed;
    await broker.ack('orders', { id: a!.id, workerId: 'w1', lease: a!.lease });
    await broker.nack('orders', { id: b!.id, workerId: 'w1', lease: b!.lease, error: 'boom' });
    expect(spans('bucketq.ack')[0]!.attributes).toMatchObject({ 'bucketq.job.id': 'a', 'bucketq.worker': 'w1', 'bucketq.commit.seq': expect.any(Number) });
    expect(spans('bucketq.nack')[0]!.attributes).toMatchObject({ 'bucketq.job.id': 'b', 'bucketq.commit.seq': expect.any(Number) });
    // Every request span ended after the commit that carried it started. The SDK dates each span
    // from Date.now() (whole milliseconds) taken when the span is made, plus performance.now()
    // since: two spans' clocks may differ by up to a millisecond, so the order is checked to that
    // precision (the commit span is made only after the write landed, dated back by its duration).
    const MS = 1_000_000;
    for (const s of [push!, claim!]) {
      const c = spans('bucketq.commit').find((x) => x.attributes['bucketq.commit.seq'] === s.attributes['bucketq.commit.seq'])!;
      expect(hr(s.endTime)).toBeGreaterThanOrEqual(hr(c.startTime) - MS);
    }
  });

  it('marks a failed request as an error span with its code, and gives it no commit seq', async () => {
    broker = new Broker({ store: createMemoryStore(), id: 'tr2' });
    await broker.push('t', [{ id: 'j', payload: 1 }]);
    const [job] = await broker.claim('t', { workerId: 'w', max: 1 });
    expect(await codeOf(broker.ack('t', { id: job!.id, workerId: 'w', lease: 'not-the-lease' }))).toBe('LEASE_LOST');
    const [ack] = spans('bucketq.ack');
    expect(ack!.status.code).toBe(SpanStatusCode.ERROR);
    expect(ack!.attributes['bucketq.error.code']).toBe('LEASE_LOST');
    expect(ack!.attributes['bucketq.commit.seq']).toBeUndefined();
  });

  it('records an empty claim without a commit (nothing was written)', async () => {
    broker = new Broker({ store: createMemoryStore(), id: 'tr3' });
    await broker.push('t', [{ payload: 1 }]);
    await broker.claim('t', { workerId: 'w', max: 1 });
    exporter.reset();
    expect(await broker.claim('t', { workerId: 'w', max: 1 })).toEqual([]);
    expect(spans('bucketq.claim')[0]!.attributes).toMatchObject({ 'bucketq.jobs': 0 });
    expect(spans('bucketq.claim')[0]!.attributes['bucketq.commit.seq']).toBeUndefined();
    expect(spans('bucketq.commit')).toEqual([]);
  });
});

function hr([s, ns]: [number, number]): number {
  return s * 1e9 + ns;
}
