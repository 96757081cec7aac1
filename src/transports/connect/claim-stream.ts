/**
 * ClaimStream: jobs pushed to one consumer as they become due, at most `max_in_flight` unsettled.
 *
 * Credits. Server streaming only (bidi cannot run over Connect or gRPC-Web on HTTP/1.1), so the
 * consumer grants its window once, in the request, and returns credit by settling jobs through
 * the ordinary calls: a delivered job stops counting when an ack, nack or unclaim of its lease
 * lands (from any surface: HTTP, Connect, another connection; learned from the broker's landed
 * batches) or when its lease expires (a heartbeat moves that moment). The stream never holds more
 * than the window leased, so a slow consumer costs the queue nothing but its own leases.
 *
 * Loop: with c > 0 credits, a long-poll claim of up to c jobs (wait as long as the broker allows);
 * jobs are yielded one message each; with no credit, wait for one. The claim is aborted when the
 * client leaves or the broker drains; jobs claimed in the commit that raced with that are handed
 * back at once (by the broker: see Broker.claim). A job yielded to a client that then disappears stays leased until it expires
 * (at-least-once, as for a lost claim answer).
 */
import { create } from '@bufbuild/protobuf';
import type { HandlerContext } from '@connectrpc/connect';
import type { Broker } from '../../broker/broker.js';
import type { LandedBatch } from '../../broker/broker-events.js';
import { QueueError } from '../../errors.js';
import { checkTopic } from '../../protocol.js';
import { ClaimStreamResponseSchema, type ClaimStreamRequest, type ClaimStreamResponse } from '../../gen/bucketq/v1/queue_pb.js';
import { claimedJob } from './convert.js';
import type { TopicDirectory } from '../shared/topic-directory.js';

/** The jobs one stream has delivered and not seen settled: lease token → expiry timer. */
class Window {
  private readonly held = new Map<string, { token: string; timer: NodeJS.Timeout }>();
  private wake: (() => void) | null = null;

  constructor(readonly size: number) {}

  get credits(): number {
    return this.size - this.held.size;
  }

  hold(id: string, token: string, leaseUntil: number): void {
    this.release(id);
    this.held.set(id, { token, timer: this.expiry(id, token, leaseUntil) });
  }

  /** A heartbeat of our lease landed: it now expires later. */
  extend(id: string, token: string, leaseUntil: number): void {
    const h = this.held.get(id);
    if (!h || h.token !== token) return;
    clearTimeout(h.timer);
    h.timer = this.expiry(id, token, leaseUntil);
  }

  settled(id: string, token: string): void {
    if (this.held.get(id)?.token === token) this.release(id);
  }

  /** Resolves when a credit returns, or at once when one is free or `signal` fired. */
  available(signal: AbortSignal): Promise<void> {
    if (this.credits > 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        this.wake = null;
        resolve();
      };
      this.wake = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  clear(): void {
    for (const h of this.held.values()) clearTimeout(h.timer);
    this.held.clear();
  }

  private expiry(id: string, token: string, leaseUntil: number): NodeJS.Timeout {
    // The broker's clock decides expiry; Date.now() is the same clock for a network broker.
    const t = setTimeout(() => this.settled(id, token), Math.max(0, leaseUntil - Date.now()));
    t.unref();
    return t;
  }

  private release(id: string): void {
    const h = this.held.get(id);
    if (!h) return;
    clearTimeout(h.timer);
    this.held.delete(id);
    this.wake?.();
  }
}

/** Returns credit to `window` for the settles of `topic` in a landed batch. */
function watchSettles(broker: Broker, topic: string, window: Window): () => void {
  const onBatch = (b: LandedBatch) => {
    if (b.topic !== topic) return;
    for (let i = 0; i < b.requests.length; i++) {
      const r = b.requests[i]!;
      const result = b.results[i];
      if (!result?.ok) continue;
      if (r.op === 'ack' || r.op === 'nack') {
        const input = r.input as { id: string; token: string };
        window.settled(input.id, input.token);
      } else if (r.op === 'heartbeat') {
        const input = r.input as { id: string; token: string };
        window.extend(input.id, input.token, (result.value as { leaseUntil: number }).leaseUntil);
      } else if (r.op === 'unclaim') {
        for (const j of (r.input as { jobs: Array<{ id: string; token: string }> }).jobs) window.settled(j.id, j.token);
      }
    }
  };
  broker.events.on('batch', onBatch);
  return () => broker.events.off('batch', onBatch);
}

export async function* claimStream(
  broker: Broker,
  topics: TopicDirectory,
  drain: AbortSignal,
  req: ClaimStreamRequest,
  ctx: HandlerContext,
): AsyncGenerator<ClaimStreamResponse> {
  const topic = checkTopic(req.topic);
  const max = broker.limits.maxClaim;
  if (!Number.isInteger(req.maxInFlight) || req.maxInFlight < 1 || req.maxInFlight > max) {
    throw new QueueError('INVALID_ARGUMENT', `max_in_flight must be an integer from 1 to ${max}, got ${req.maxInFlight}`);
  }
  const signal = AbortSignal.any([ctx.signal, drain]);
  const window = new Window(req.maxInFlight);
  const unwatch = watchSettles(broker, topic, window);
  try {
    while (!signal.aborted) {
      await window.available(signal);
      if (signal.aborted) break;
      const claim: { workerId: string; max: number; waitMs: number; leaseMs?: number } = { workerId: req.workerId, max: window.credits, waitMs: broker.limits.maxWaitMs };
      if (req.leaseMs !== undefined) claim.leaseMs = req.leaseMs;
      let jobs;
      try {
        // Ended (client gone, drain) before the answer: CLOSED, and the broker hands the jobs back.
        jobs = await broker.claim(topic, claim, signal);
      } catch (err) {
        if (signal.aborted) break; // the broker refuses work once it drains: just end the stream
        throw err;
      }
      topics.add(topic);
      // Held before yielding: an ack may land before the generator resumes.
      for (const j of jobs) window.hold(j.id, j.lease, j.leaseUntil);
      for (const j of jobs) yield create(ClaimStreamResponseSchema, { job: claimedJob(j) });
    }
  } finally {
    unwatch();
    window.clear();
  }
}
