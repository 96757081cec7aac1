/**
 * npm run bench:embedded (npm run bench runs it, then bench/network.ts) — embedded mode on `file:`,
 * full cycles (push, claim, ack) per second: HELP below, or `npm run bench:embedded -- --help`.
 * Every call is acknowledged only after its commit landed (fsync of file and directory), so the
 * figure is durable jobs/s. The `worker` scenario runs the same jobs through `createWorker` at
 * concurrency 16 with a no-op handler: at most 16 jobs are in flight, so it measures per-job round
 * trips, not bulk throughput.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../src/broker/broker.js';
import { createQueue } from '../src/queue.js';
import { createWorker } from '../src/worker/worker.js';
import { openStore } from '../src/storage/open.js';
import { benchArgs } from './bench-args.js';

const SCENARIOS = ['nolatency', 'latency', 'worker', 'backlog'] as const;
const HELP = `npm run bench:embedded -- [options]

Embedded mode (a Broker in this process) on \`file:\` in a temp dir: full cycles (push, claim,
ack) per second, each call acknowledged only after its commit landed. 16 producers push batches of
--batch jobs, 16 consumers claim up to --batch jobs and ack them together, the backlog capped at
16 × --batch. Scenarios:
  nolatency   the store as it is
  latency     the store with 50 ms added to every call (?latency=50)
  worker      createWorker, concurrency 16, no-op handler (per-job round trips)
  backlog     one push's commit with 100,000 jobs waiting

  --seconds N       the measuring window of each scenario, in seconds (default 5)
  --batch N         jobs per push and claim call (default 512)
  --only SCENARIO   one scenario: ${SCENARIOS.join(' | ')}
  --store URL       the cycle scenarios on another store URL (default: a temp file: dir)
  -h, --help        this text
`;
const { values: args, usage, integer, positive } = benchArgs('bench:embedded', HELP, {
  seconds: { type: 'string', default: '5' },
  only: { type: 'string' },
  batch: { type: 'string', default: '512' },
  store: { type: 'string' },
});
const SECONDS = positive(args.seconds, 'seconds');
const BATCH = integer(args.batch, 'batch');
if (args.only !== undefined && !(SCENARIOS as readonly string[]).includes(args.only)) usage(`--only takes ${SCENARIOS.join(', ')}; got ${JSON.stringify(args.only)}`);
const CONCURRENCY = 16;

interface CycleResult {
  jobsPerSec: number;
  commits: number;
  jobsPerCommit: number;
  commitMsP50: number;
  commitMsP99: number;
  commitKiBP50: number;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'bucketq-bench-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function cycles(query: string): Promise<CycleResult> {
  return withDir(async (dir) => {
    const store = await openStore(`${args.store ?? `file:${dir}`}${query}`);
    const broker = new Broker({ store });
    const commitMs: number[] = [];
    let commits = 0;
    const commitBytes: number[] = [];
    broker.events.on('commit', (e: { ms: number; topic: string; bytes: number }) => {
      if (e.topic !== 'bench') return;
      commits++;
      commitMs.push(e.ms);
      commitBytes.push(e.bytes);
    });
    await broker.push('bench', [{ payload: 'warm' }]);
    let stop = false;
    let completed = 0;
    let n = 0;
    const producers = Array.from({ length: CONCURRENCY }, async () => {
      while (!stop) {
        const st = broker.loop('bench').counts;
        // Keep the backlog bounded so the measure is cycles, not an ever-growing queue.
        if (st && st.pending > CONCURRENCY * BATCH) {
          await new Promise((r) => setImmediate(r));
          continue;
        }
        await broker.push('bench', Array.from({ length: BATCH }, () => ({ payload: { n: n++, kind: 'email', to: 'user@example.com' } })));
      }
    });
    const consumers = Array.from({ length: CONCURRENCY }, async (_, w) => {
      const workerId = `w${w}`;
      while (!stop) {
        const jobs = await broker.claim('bench', { workerId, max: BATCH, waitMs: 100 });
        await Promise.all(jobs.map((j) => broker.ack('bench', { id: j.id, workerId, lease: j.lease })));
        completed += jobs.length;
      }
    });
    const started = performance.now();
    const c0 = completed;
    const k0 = commits;
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const elapsed = (performance.now() - started) / 1000;
    const done = completed - c0;
    const k = commits - k0;
    stop = true;
    await Promise.all([...producers, ...consumers]);
    await broker.stop();
    await store.close();
    const sorted = commitMs.slice(k0).sort((a, b) => a - b);
    const bytesSorted = commitBytes.slice(k0).sort((a, b) => a - b);
    return { commitKiBP50: pct(bytesSorted, 50) / 1024, jobsPerSec: done / elapsed, commits: k, jobsPerCommit: (done * 3) / Math.max(1, k), commitMsP50: pct(sorted, 50), commitMsP99: pct(sorted, 99) };
  });
}

async function backlog(count: number): Promise<{ bytes: number; commitMs: number; serializeMs: number }> {
  return withDir(async (dir) => {
    const store = await openStore(`file:${dir}`);
    const broker = new Broker({ store });
    for (let i = 0; i < count; i += 10_000) {
      await broker.push('backlog', Array.from({ length: Math.min(10_000, count - i) }, (_, k) => ({ payload: { n: i + k, kind: 'email' } })));
    }
    const samples: Array<{ bytes: number; ms: number }> = [];
    broker.events.on('commit', (e: { ms: number; bytes: number }) => samples.push({ bytes: e.bytes, ms: e.ms }));
    for (let i = 0; i < 10; i++) await broker.push('backlog', [{ payload: { one: i } }]);
    const { serializeState } = await import('../src/core/codec.js');
    const st = broker.loop('backlog').committed!;
    const t = performance.now();
    serializeState(st);
    const serializeMs = performance.now() - t;
    await broker.stop();
    await store.close();
    samples.sort((a, b) => a.ms - b.ms);
    return { bytes: samples.at(-1)!.bytes, commitMs: samples[Math.floor(samples.length / 2)]!.ms, serializeMs };
  });
}

async function workerCycles(): Promise<{ rate: number; jobsPerCommit: number }> {
  return withDir(async (dir) => {
    const queue = createQueue<{ n: number }>({ store: `file:${dir}`, topic: 'bench' });
    let stop = false;
    let n = 0;
    const producer = (async () => {
      while (!stop) {
        const st = queue.broker.loop('bench').counts;
        if (st && st.pending > 256) {
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
        await queue.pushMany(Array.from({ length: 64 }, () => ({ payload: { n: n++ } })));
      }
    })();
    let completed = 0;
    let commits = 0;
    queue.broker.events.on('commit', () => commits++);
    const worker = createWorker(queue, () => null, { concurrency: CONCURRENCY, waitMs: 100 });
    worker.on('completed', () => completed++);
    await new Promise((r) => setTimeout(r, 500)); // warm up
    const c0 = completed;
    const k0 = commits;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const rate = (completed - c0) / ((performance.now() - t0) / 1000);
    const jobsPerCommit = (completed - c0) / Math.max(1, commits - k0);
    stop = true;
    await producer;
    await worker.close();
    await queue.close();
    return { rate, jobsPerCommit };
  });
}

const line = (s: string) => process.stdout.write(`${s}\n`);
line(`bucketq embedded benchmark — node ${process.version}, ${SECONDS}s per scenario, concurrency ${CONCURRENCY}, batch ${BATCH}`);
const want = (name: string) => !args.only || args.only === name;
const table: string[] = ['| scenario | jobs/s (push+claim+ack) | commits | job-ops/commit | commit p50 ms | commit p99 ms | queue.json p50 KiB |', '|---|---|---|---|---|---|---|'];
if (want('nolatency')) {
  const r = await cycles('');
  table.push(`| ${args.store ?? 'file:'}, no added latency | ${r.jobsPerSec.toFixed(0)} | ${r.commits} | ${r.jobsPerCommit.toFixed(0)} | ${r.commitMsP50.toFixed(1)} | ${r.commitMsP99.toFixed(1)} | ${r.commitKiBP50.toFixed(0)} |`);
}
if (want('latency')) {
  const r = await cycles('?latency=50');
  table.push(`| ${args.store ?? 'file:'}?latency=50 | ${r.jobsPerSec.toFixed(0)} | ${r.commits} | ${r.jobsPerCommit.toFixed(0)} | ${r.commitMsP50.toFixed(1)} | ${r.commitMsP99.toFixed(1)} | ${r.commitKiBP50.toFixed(0)} |`);
}
for (const l of table) line(l);
if (want('worker')) {
  const { rate, jobsPerCommit } = await workerCycles();
  line(`\ncreateWorker, concurrency ${CONCURRENCY}, no-op handler, file: store, backlog ~256: ${rate.toFixed(0)} jobs/s, ${jobsPerCommit.toFixed(1)} jobs completed per commit`);
}
if (want('backlog')) {
  const r = await backlog(100_000);
  line(`\nwith 100,000 jobs waiting: queue.json ${(r.bytes / 1024 / 1024).toFixed(1)} MiB, commit of one push p50 ${r.commitMs.toFixed(1)} ms (serialise ${r.serializeMs.toFixed(1)} ms)`);
}
