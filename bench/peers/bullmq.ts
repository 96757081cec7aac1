/**
 * npm run bench:peers — workload 1 of issue 7 on BullMQ, run beside bucketq's own
 * (bench/network.ts) on the same machine: a throwaway redis-server (Debian's, default settings),
 * 16 producers in this process each adding one job per call (`queue.add`, BullMQ's natural API;
 * removeOnComplete so Redis does not grow), one worker process (`new Worker`, concurrency 16,
 * no-op handler). Figures: jobs/s from the first add to the last completion (20,000 jobs after
 * 1,000 warm-up), and add → handler start of single jobs on an idle queue.
 *
 *   npm run bench:peers -- --jobs 20000 --probes 200
 *
 * Only this workload for now; the other workloads, pg-boss and the charts are issue 7.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { startRedis } from './redis-server.js';

const { values: args } = parseArgs({ options: { jobs: { type: 'string', default: '20000' }, probes: { type: 'string', default: '200' } } });
const JOBS = Number(args.jobs);
const PROBES = Number(args.probes);
const PRODUCERS = 16;
const WARMUP = 1000;
const ROOT = resolve(import.meta.dirname, '../..');
const now = () => performance.timeOrigin + performance.now();
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((xs.length * p) / 100) - 1)]!;

const redis = await startRedis();
if (typeof redis === 'string') {
  console.log(`BullMQ skipped: ${redis}`);
  process.exit(0);
}
const connection = { host: '127.0.0.1', port: redis.port };
const queue = new Queue('w1', { connection, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } });

const worker = spawn(process.execPath, ['--import', 'tsx', 'bench/peers/bullmq-worker.ts', String(redis.port), '16'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
let completed = 0;
let lastAckAt = 0;
const probeStarts = new Map<string, number>();
const waiters: Array<() => void> = [];
let ready!: () => void;
const readyP = new Promise<void>((r) => (ready = r));
createInterface({ input: worker.stdout }).on('line', (line) => {
  const m = JSON.parse(line) as { ready?: boolean; completed?: number; lastAckAt?: number; probe?: string; startedAt?: number };
  if (m.ready) ready();
  if (m.completed !== undefined) ({ completed, lastAckAt } = { completed: m.completed, lastAckAt: m.lastAckAt! });
  if (m.probe !== undefined) probeStarts.set(m.probe, m.startedAt!);
  for (const w of waiters.splice(0)) w();
});
const until = async (ok: () => boolean) => {
  while (!ok()) await new Promise<void>((r) => waiters.push(r));
};
await readyP;

async function produce(total: number): Promise<number> {
  let next = 0;
  const first = now();
  await Promise.all(
    Array.from({ length: PRODUCERS }, async () => {
      while (next < total) {
        const n = next++;
        await queue.add('job', { n });
      }
    }),
  );
  return first;
}

await produce(WARMUP);
await until(() => completed >= WARMUP);
const base = completed;
const first = await produce(JOBS);
await until(() => completed >= base + JOBS);
const jobsPerSec = JOBS / ((lastAckAt - first) / 1000);

const lat: number[] = [];
for (let i = 0; i < PROBES; i++) {
  const id = `p${i}`;
  const t = now();
  await queue.add('probe', { probe: id });
  await until(() => probeStarts.has(id));
  lat.push(probeStarts.get(id)! - t);
}

console.log(`BullMQ ${(await import('bullmq/package.json', { with: { type: 'json' } })).default.version} on redis-server ${redis.version} (default settings), node ${process.version}`);
console.log('| measure | value |\n|---|---|');
console.log(`| **jobs/s, first add → last completion** (${JOBS} jobs; 16 producers, one job per add; 1 worker process, concurrency 16) | **${jobsPerSec.toFixed(0)}** |`);
console.log(`| **add → handler start**, idle queue, ${PROBES} single jobs: p50 / p99 ms | **${pct(lat, 50).toFixed(2)} / ${pct(lat, 99).toFixed(2)}** |`);

worker.kill('SIGTERM');
await new Promise((r) => worker.once('exit', r));
await queue.close();
await redis.stop();
