/**
 * Payload size: workload 1 (16 producers, one job per call; one worker process at concurrency
 * 16, no-op handler) on the run's store (`--store`, default `file:`) with payloads of 100 B, 10 KiB and 1 MiB. Payloads above
 * the broker's threshold (64 KiB) are written to their own objects, so a 1 MiB job costs one
 * payload write at push and one read at claim besides its entry in queue.json.
 */
import { createClient } from '../../src/client/index.js';
import { WORKER_PREFETCH } from '../peers/bucketq.js';
import { spawnWorker } from '../peers/children.js';
import { now } from '../peers/worker-protocol.js';
import { closedLoop, pct, scaleBroker } from './common.js';
import { fileStore, type ScaleStore } from './store.js';

export interface PayloadCase {
  bytes: number;
  jobs: number;
  jobsPerSec: number;
  mibPerSec: number;
  pushP50Ms: number;
  pushP99Ms: number;
}

const PRODUCERS = 16;

export async function payloadCase(bytes: number, maxJobs: number, seconds: number, store: ScaleStore = fileStore()): Promise<PayloadCase> {
  const broker = await scaleBroker(store);
  // A JSON string of `bytes` characters: the payload's size on the wire and in storage.
  const pad = 'x'.repeat(Math.max(0, bytes - 16));
  const clients = Array.from({ length: PRODUCERS }, () => createClient<{ n: number; pad: string }>({ url: broker.url, topic: 'p', timeoutMs: 60_000 }));
  try {
    const worker = await spawnWorker(`worker (${bytes} B)`, ['bench/peers/bucketq-worker.ts', broker.url, 'p', '16', String(WORKER_PREFETCH)]);
    worker.start();
    const warm = await closedLoop(PRODUCERS, (n, p) => clients[p]!.push({ n, pad }), PRODUCERS * 2, 60_000);
    await worker.until(() => worker.completed >= warm.pushed, 120_000);
    const base = worker.completed;
    const t0 = now();
    const run = await closedLoop(PRODUCERS, (n, p) => clients[p]!.push({ n, pad }), maxJobs, seconds * 1000);
    await worker.until(() => worker.completed >= base + run.pushed, 300_000);
    const elapsed = (worker.lastAckAt - t0) / 1000;
    await worker.stop();
    const jobsPerSec = run.pushed / elapsed;
    return { bytes, jobs: run.pushed, jobsPerSec, mibPerSec: (jobsPerSec * bytes) / 1048576, pushP50Ms: pct(run.rtt, 50), pushP99Ms: pct(run.rtt, 99) };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await broker.stop();
  }
}
