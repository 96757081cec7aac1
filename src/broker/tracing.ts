/**
 * OpenTelemetry spans, when `@opentelemetry/api` is installed (an optional peer dependency). It is
 * loaded once, when this module loads. Spans are made only while an SDK's tracer provider is
 * registered; otherwise (no API, or no SDK) every helper here is a null check and nothing else.
 *
 * It is loaded with require, not a top-level `await import()`: no bucketq module may have a
 * top-level await, or CommonJS code could not `require('bucketq')` (Node's require of ES modules
 * refuses such a graph). Node loads the same file either way (the API's exports give import and
 * require one CommonJS build), and the API keeps its registered provider on globalThis in any case.
 *
 * Spans (docs/operations.md):
 * - `bucketq.push`: from the push request to its commit landing; topic, job count, commit seq.
 * - `bucketq.claim`: from the claim request (long-poll wait included) to its commit; the claimed
 *   job ids. `bucketq.ack` / `bucketq.nack`: one job's settle, request to commit. Claim and settle
 *   are separate spans joined by the job id attribute, not one span from claim to ack: the ack may
 *   reach another broker after a failover, or never come (an expired lease), and a span held open
 *   in memory per claimed job would be lost or leak there.
 * - `bucketq.commit`: one group commit of a topic (conflicts included): seq, requests, bytes. The
 *   request spans carry the same `bucketq.commit.seq`, so a batch's requests can be found.
 * Attribute names follow the messaging conventions where they apply (`messaging.system`,
 * `messaging.destination.name`) and are `bucketq.*` otherwise.
 */
import { createRequire } from 'node:module';
import type { BrokerEvents } from './broker-events.js';

type Api = typeof import('@opentelemetry/api');
type Attributes = Record<string, string | number | boolean | string[]>;

const api = ((): Api | null => {
  try {
    return createRequire(import.meta.url)('@opentelemetry/api') as Api;
  } catch {
    return null;
  }
})();

const TRACER_NAME = 'bucketq';
const apiTracer = api ? api.trace.getTracer(TRACER_NAME) : null;
/** What the API's provider hands out while no SDK is registered. */
const NOOP_PROVIDER = api ? new api.ProxyTracerProvider().getDelegate() : null;

/**
 * The tracer, or null while there is nothing to record into: without the API, or with the API
 * but no SDK registered (it comes with prom-client, so it is nearly always installed). No-op spans
 * cost an object and a few closures per request on the hot path; this check costs a global read.
 * A provider registered later is picked up at the next request.
 */
function activeTracer(): typeof apiTracer {
  if (!api) return null;
  const provider = api.trace.getTracerProvider() as { getDelegate?: () => unknown };
  return (provider.getDelegate ? provider.getDelegate() : provider) === NOOP_PROVIDER ? null : apiTracer;
}

/** Whether `@opentelemetry/api` could be imported (spans are made only once an SDK is registered too). */
export const tracingAvailable = api !== null;

/** A running request span: the broker learns the commit seq, then the outcome. */
export interface RequestSpan {
  /** The request's commit landed as commit `seq`. */
  landed(seq: number): void;
  /** Adds attributes (only computed by the caller when the span records). */
  readonly recording: boolean;
  set(attributes: Attributes): void;
  end(error?: unknown): void;
}

/** Starts a request span in the active context, or returns null when the API is absent. */
export function startRequestSpan(name: string, topic: string, attributes: Attributes): RequestSpan | null {
  const tracer = activeTracer();
  if (!tracer) return null;
  const span = tracer.startSpan(name, {
    kind: api!.SpanKind.INTERNAL,
    attributes: { 'messaging.system': 'bucketq', 'messaging.destination.name': topic, 'bucketq.topic': topic, ...attributes },
  });
  const recording = span.isRecording();
  return {
    recording,
    landed: (seq) => {
      try {
        if (recording) span.setAttribute('bucketq.commit.seq', seq);
      } catch {
        // called by the commit loop: a tracing SDK's failure must not break it
      }
    },
    // set and end run after the request's commit landed: an SDK's failure there must not turn
    // the caller's success into an error (a client would retry a push that is in).
    set: (a) => {
      try {
        if (recording) span.setAttributes(a);
      } catch {
        // the request's outcome stands
      }
    },
    end: (error) => {
      try {
        if (error !== undefined && recording) {
          const code = (error as { code?: unknown }).code;
          span.setAttribute('bucketq.error.code', typeof code === 'string' ? code : 'UNKNOWN');
          span.setStatus({ code: api!.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        }
        span.end();
      } catch {
        // the request's outcome stands
      }
    },
  };
}

/** Runs `call` inside a request span (or bare when the API is absent), ending it with the outcome. */
export function traced<T>(
  name: string,
  topic: string,
  attributes: Attributes,
  call: (span: RequestSpan | null) => Promise<T>,
  after?: (value: T) => Attributes,
): Promise<T> {
  // Without a tracer: the call itself, not even one more promise.
  return activeTracer() ? tracedCall(name, topic, attributes, call, after) : call(null);
}

// The same signature as traced (typed from it, not repeated); async so the span ends on a throw too.
const tracedCall: typeof traced = async (name, topic, attributes, call, after) => {
  const span = startRequestSpan(name, topic, attributes);
  if (!span) return call(null);
  try {
    const value = await call(span);
    if (after && span.recording) span.set(after(value));
    span.end();
    return value;
  } catch (err) {
    span.end(err);
    throw err;
  }
};

/**
 * Records a `bucketq.commit` span for every landed commit, from the broker's 'commit' event (the
 * loop itself knows nothing of tracing). The span is dated from the commit's measured duration.
 */
export function traceCommits(events: BrokerEvents): void {
  if (!api) return;
  events.on('commit', (e) => {
    const tracer = activeTracer();
    if (!tracer) return;
    // The SDK dates a span it times itself by performance.now() since the span was made, and reads
    // a number no larger than performance.now() on that scale too. Dated so, the commit span keeps
    // the request spans' clock to within the SDK's own anchoring (whole milliseconds per span);
    // Date.now() arithmetic here would add that clock's drift and rounding on top.
    const end = performance.now();
    // This listener is registered first: a throw here would keep every later 'commit' listener
    // (the event feed, metrics, stats) from seeing the commit.
    try {
      const span = tracer.startSpan('bucketq.commit', {
        startTime: end - e.ms,
        attributes: {
          'messaging.system': 'bucketq',
          'messaging.destination.name': e.topic,
          'bucketq.topic': e.topic,
          'bucketq.commit.seq': e.seq,
          'bucketq.commit.requests': e.requests,
          'bucketq.commit.bytes': e.bytes,
          'bucketq.commit.conflicts': e.conflicts,
        },
      });
      span.end(end);
    } catch {
      // tracing is best effort
    }
  });
}
