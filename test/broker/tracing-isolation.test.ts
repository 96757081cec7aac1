/**
 * A tracing SDK that throws (a span processor's bug) must change nothing in the queue: a push that
 * landed resolves, and the broker's other 'commit' listeners (event feed, metrics, stats) still
 * see every commit. Kept apart from test/observability/traces.test.ts: it registers its own provider.
 */
import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { useGlobalTracerProvider } from '../tracer-provider.js';

const ended: string[] = [];
const throwing: SpanProcessor = {
  onStart: () => {},
  onEnd: (span: ReadableSpan) => {
    ended.push(span.name);
    throw new Error('span processor bug');
  },
  forceFlush: async () => {},
  shutdown: async () => {},
};
const provider = new BasicTracerProvider({ spanProcessors: [throwing] });
let broker: Broker | undefined;

useGlobalTracerProvider(provider);
afterEach(async () => {
  await broker?.stop();
});

describe('tracing with a failing SDK', () => {
  it('neither fails a landed request nor hides the commit from later listeners', async () => {
    broker = new Broker({ store: createMemoryStore(), id: 'b1' });
    const commits: number[] = [];
    broker.events.on('commit', (e: { seq: number }) => commits.push(e.seq));
    const out = await broker.push('t', [{ id: 'a', payload: 1 }]);
    expect(out).toMatchObject([{ id: 'a', created: true }]);
    expect(ended).toContain('bucketq.commit');
    expect(ended).toContain('bucketq.push');
    expect(commits.length).toBeGreaterThanOrEqual(1);
    expect((await broker.get('t', 'a')).state).toBe('pending');
  });
});
