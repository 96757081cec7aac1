/**
 * The worker process of bench/network.ts: createClient + createWorker with a no-op handler.
 *
 *   BUCKETQ_URL=http://127.0.0.1:PORT tsx bench/network-worker.ts TOPIC CONCURRENCY
 *   BENCH_PREFETCH=N ...   createWorker's prefetch: claim N jobs ahead of free slots
 *
 * Writes JSON lines on stdout, times as ms on CLOCK_MONOTONIC with sub-ms precision
 * (bench/monotonic-ms.ts, the same clock as the bench process on this machine):
 *   {"ready":true}                                  the worker is started
 *   {"completed":N,"lastAckAt":T}                   every 50 ms while the count changes (T: when the
 *                                                   latest ack resolved)
 *   {"probe":ID,"startedAt":T}                      at once, when a job whose payload has `probe` starts
 *   {"probeDone":ID}                                at once, when its ack resolved
 *   {"claims":{calls,jobs,p50Ms,p99Ms}}             on a line "claims" on stdin: the claim requests that
 *                                                   brought jobs since the last one, and their latency
 * SIGTERM closes the worker and the client, then prints {"closed":true,"completed":N} and exits.
 */
import { createInterface } from 'node:readline';
import { createClient } from '../src/client/index.js';
import { createWorker } from '../src/worker/index.js';
import { monotonicMs } from './monotonic-ms.js';

const [topic = 'bench', concurrencyText = '16'] = process.argv.slice(2);
const url = process.env.BUCKETQ_URL;
if (!url) throw new Error('set BUCKETQ_URL');

const now = monotonicMs;
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

interface Payload {
  n?: number;
  probe?: string;
}

const queue = createClient<Payload>({ url, topic });
// Claim requests (as sent to the broker), timed: how many jobs each brings and how long it takes
// shape the worker's rate.
const claims = { calls: 0, jobs: 0, ms: [] as number[] };
const claim = queue.claim.bind(queue);
queue.claim = async (opts) => {
  const t = performance.now();
  const jobs = await claim(opts);
  if (jobs.length > 0) {
    claims.calls++;
    claims.jobs += jobs.length;
    claims.ms.push(performance.now() - t);
  }
  return jobs;
};

const prefetch = Number(process.env.BENCH_PREFETCH ?? 0);

const worker = createWorker(
  queue,
  (job) => {
    if (job.payload?.probe !== undefined) out({ probe: job.payload.probe, startedAt: now() });
    return null;
  },
  { concurrency: Number(concurrencyText), prefetch, waitMs: 30_000 },
);

let completed = 0;
let lastAckAt = 0;
let reported = 0;
worker.on('completed', (job) => {
  completed++;
  lastAckAt = now();
  if (job.payload?.probe !== undefined) out({ probeDone: job.payload.probe });
});
worker.on('error', (e) => process.stderr.write(`worker error: ${e.code} ${e.message}\n`));
const timer = setInterval(() => {
  if (completed === reported) return;
  reported = completed;
  out({ completed, lastAckAt });
}, 50);

/** A line "claims" on stdin: `{"claims":{calls, jobs, p50Ms, p99Ms}}` about claim requests that brought jobs since the last one. */
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'claims') return;
  const ms = claims.ms.sort((a, b) => a - b);
  const at = (p: number) => ms[Math.min(ms.length - 1, Math.ceil((ms.length * p) / 100) - 1)] ?? NaN;
  out({ claims: { calls: claims.calls, jobs: claims.jobs, p50Ms: at(50), p99Ms: at(99) } });
  claims.calls = 0;
  claims.jobs = 0;
  claims.ms = [];
});

process.once('SIGTERM', () => {
  void (async () => {
    clearInterval(timer);
    await worker.close({ timeoutMs: 5000 });
    await queue.close();
    out({ closed: true, completed });
    process.exit(0);
  })();
});

out({ ready: true });
