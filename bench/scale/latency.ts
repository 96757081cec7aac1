/**
 * Workload 1 (producers pushing one job per call, one worker process at concurrency 16 with
 * prefetch 256, as in bench:peers; no-op handler) on the run's store (`--store`, default `file:`) with injected latency on every store call (`?latency=MS`, the fault
 * decorator of src/storage/faulty.ts): jobs/s from the first push to the last ack, and the push
 * round trip under that load. Each case pushes until `jobs` or `seconds` is reached, whichever
 * comes first, so slow cases stay short.
 */
import { createClient } from '../../src/client/index.js';
import { WORKER_PREFETCH } from '../peers/bucketq.js';
import { spawnWorker } from '../peers/children.js';
import type { BenchPayload } from '../peers/types.js';
import { now } from '../peers/worker-protocol.js';
import { closedLoop, pct, scaleBroker } from './common.js';
import { fileStore, type ScaleStore } from './store.js';

export interface LatencyCase {
  latencyMs: number;
  producers: number;
  jobs: number;
  jobsPerSec: number;
  pushP50: number;
  pushP99: number;
}

export async function latencyCase(latencyMs: number, producers: number, maxJobs: number, seconds: number, store: ScaleStore = fileStore()): Promise<LatencyCase> {
  const broker = await scaleBroker(store, latencyMs > 0 ? `latency=${latencyMs}` : '');
  const clients = Array.from({ length: producers }, () => createClient<BenchPayload>({ url: broker.url, topic: 'w1' }));
  try {
    const worker = await spawnWorker(`worker (latency ${latencyMs})`, ['bench/peers/bucketq-worker.ts', broker.url, 'w1', '16', String(WORKER_PREFETCH)]);
    worker.start();
    const warmup = await closedLoop(producers, (n, p) => clients[p]!.push({ n }), Math.max(100, producers * 4), 60_000);
    await worker.until(() => worker.completed >= warmup.pushed, 120_000);
    const base = worker.completed;
    const t0 = now();
    const run = await closedLoop(producers, (n, p) => clients[p]!.push({ n }), maxJobs, seconds * 1000);
    await worker.until(() => worker.completed >= base + run.pushed, 300_000);
    const elapsed = (worker.lastAckAt - t0) / 1000;
    await worker.stop();
    return { latencyMs, producers, jobs: run.pushed, jobsPerSec: run.pushed / elapsed, pushP50: pct(run.rtt, 50), pushP99: pct(run.rtt, 99) };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await broker.stop();
  }
}
