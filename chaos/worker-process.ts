/**
 * A chaos worker: createWorker over createClient, with every claim, heartbeat, ack and nack
 * recorded as the worker saw it, and the releases of prefetched jobs (the queue handed to createWorker is the client wrapped by
 * `recorded`). The handler does what the job's payload asks (child-config.ts ChaosPayload).
 * SIGTERM closes the worker (running handlers finish or are nacked "worker closed") and exits 0.
 * The nemesis SIGKILLs and SIGSTOPs these processes.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { createClient } from '../src/client/index.js';
import { isQueueError, QueueError } from '../src/errors.js';
import type { ItemOutcome, LeaseHandle, Queue } from '../src/api.js';
import { createWorker } from '../src/worker/index.js';
import { onTerm, readChildConfig, type ChaosPayload } from './child-config.js';
import { HistoryWriter, monoNow } from './history.js';

const cfg = readChildConfig();
const history = new HistoryWriter(cfg.historyDir, cfg.name);
const leaseMs = cfg.leaseMs ?? 2000;
const client = createClient<ChaosPayload>({ store: cfg.store, topic: cfg.topic, retry: { deadlineMs: 20_000 } });

const codeOf = (err: unknown) => (isQueueError(err) ? err.code : 'INTERNAL');
const retriedOf = (err: unknown) => isQueueError(err) && err.details?.retried === true;

/** Records the outcome of each item of an ackMany / nackMany (or of the single call). */
function settled(op: 'ack' | 'nack', items: ReadonlyArray<LeaseHandle>, st: number, sm: number, outcomes: Array<ItemOutcome<unknown>>): void {
  outcomes.forEach((o, i) => {
    const job = items[i]!;
    const state = o.ok ? (o.value as { state?: string }).state : undefined;
    history.record({
      op, id: job.id, lease: job.lease, st, sm, ok: o.ok,
      ...(state ? { state } : {}),
      ...(o.ok ? {} : { code: o.error.code, retried: retriedOf(o.error) }),
    });
  });
}

function many<I extends LeaseHandle, V>(op: 'ack' | 'nack', call: (items: ReadonlyArray<I>) => Promise<Array<ItemOutcome<V>>>) {
  return async (items: ReadonlyArray<I>) => {
    const st = Date.now();
    const sm = monoNow();
    try {
      const outcomes = await call(items);
      settled(op, items, st, sm, outcomes);
      return outcomes;
    } catch (err) {
      const error = isQueueError(err) ? err : new QueueError('INTERNAL', String(err));
      settled(op, items, st, sm, items.map((i) => ({ id: i.id, ok: false as const, error })));
      throw err;
    }
  };
}

/** The client, recording what the worker sees of it. */
const recorded: Queue<ChaosPayload> = new Proxy(client, {
  get(target, prop, receiver) {
    if (prop === 'claim') {
      return async (opts: Parameters<Queue['claim']>[0]) => {
        const jobs = await target.claim(opts);
        for (const j of jobs) history.record({ op: 'deliver', id: j.id, attempt: j.attempt, maxAttempts: j.maxAttempts, lease: j.lease, until: j.leaseUntil, worker: j.workerId });
        return jobs;
      };
    }
    if (prop === 'heartbeat') {
      return async (job: LeaseHandle, ms?: number) => {
        try {
          const r = await target.heartbeat(job, ms);
          history.record({ op: 'hb', id: job.id, lease: job.lease, ok: true, until: r.leaseUntil });
          return r;
        } catch (err) {
          history.record({ op: 'hb', id: job.id, lease: job.lease, ok: false, code: codeOf(err) });
          throw err;
        }
      };
    }
    if (prop === 'release') {
      return async (jobs: ReadonlyArray<LeaseHandle>) => {
        const sm = monoNow();
        try {
          const r = await target.release(jobs);
          for (const j of jobs) history.record({ op: 'release', id: j.id, lease: j.lease, sm, ok: true });
          return r;
        } catch (err) {
          for (const j of jobs) history.record({ op: 'release', id: j.id, lease: j.lease, sm, ok: false, code: codeOf(err) });
          throw err;
        }
      };
    }
    if (prop === 'ackMany') return many('ack', (items) => target.ackMany(items));
    if (prop === 'nackMany') return many('nack', (items) => target.nackMany(items));
    if (prop === 'ack' || prop === 'nack') throw new Error(`the worker was expected to settle through ${String(prop)}Many`);
    return Reflect.get(target, prop, receiver) as unknown;
  },
});

const worker = createWorker<ChaosPayload, { by: string }>(
  recorded,
  async (job, signal) => {
    if (job.payload.kind === 'poison') throw new Error(`poison ${job.id}`);
    if (job.payload.kind === 'flaky' && job.attempt === 1) throw new Error(`flaky ${job.id} attempt 1`);
    // The work itself: a handler that takes time (a slow one needs its heartbeats), aborted with its lease.
    await delay(job.payload.ms, undefined, { signal }).catch(() => {});
    return { by: cfg.name };
  },
  // Some workers claim ahead (prefetch): their held jobs' heartbeats and the release at close are
  // under the nemesis too.
  { concurrency: 8, prefetch: cfg.prefetch ?? 0, leaseMs, heartbeatMs: Math.floor(leaseMs / 4), waitMs: 1000, workerId: cfg.name, closeTimeoutMs: 5000 },
);
// Transient errors are expected under the nemesis; the history has what matters.
worker.on('error', () => {});

onTerm(async () => {
  await worker.close();
  await client.close();
  history.close();
});
