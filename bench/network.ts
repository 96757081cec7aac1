/**
 * npm run bench:network — the network broker under a common peer workload, in three processes
 * (HELP below, or `npm run bench:network -- --help`): a `bucketq broker` on `file:`, a worker
 * process (bench/network-worker.ts: createClient + createWorker, concurrency 16, no-op handler)
 * and this one, whose 16 producer loops push one job per request. Both processes read the same
 * monotonic clock for the latency (bench/monotonic-ms.ts). CPU seconds are read from /proc
 * (Linux) for the broker and the worker, and from process.cpuUsage() for this process; all three
 * share the machine's cores.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createClient } from '../src/client/index.js';
import type { Queue } from '../src/api.js';
import { monotonicMs } from './monotonic-ms.js';
import { benchArgs } from './bench-args.js';

const HELP = `npm run bench:network -- [options]

The network broker under a common peer workload, in three processes:
  broker    \`bucketq broker --store file:TMPDIR --listen 127.0.0.1:0\`
  worker    createClient + createWorker (--concurrency, no-op handler)
  this one  --producers loops, each pushing one job per request with a createClient of its own

Throughput: --jobs jobs from the first push to the last ack, after 1,000 jobs of warm-up.
Latency: on an idle queue, single jobs pushed one at a time, each timed from just before its push
request to the start of its handler in the worker process.

  --jobs N            throughput jobs (default 20000)
  --producers N       producer loops (default 16)
  --concurrency N     the worker's concurrency (default 16)
  --probes N          latency jobs (default 200)
  --only throughput|latency
                      one half only
  --store URL         the broker's store (default: file: in a temp dir), e.g. 'file:/tmp/x?latency=20'
  --prefetch N        createWorker's prefetch: jobs claimed ahead of free slots (default 0: none)
  --cpu-prof DIR      the broker and the worker write .cpuprofile files there
  --broker-flag=FLAG  any \`bucketq broker\` flag, repeatable, e.g. --broker-flag=--recent-max-ids=0
  -h, --help          this text
`;
const { values: args, usage, integer } = benchArgs('bench:network', HELP, {
  jobs: { type: 'string', default: '20000' },
  producers: { type: 'string', default: '16' },
  concurrency: { type: 'string', default: '16' },
  probes: { type: 'string', default: '200' },
  store: { type: 'string' },
  only: { type: 'string' },
  'cpu-prof': { type: 'string' },
  prefetch: { type: 'string' },
  'broker-flag': { type: 'string', multiple: true },
});
const JOBS = integer(args.jobs, 'jobs');
const PRODUCERS = integer(args.producers, 'producers');
const CONCURRENCY = integer(args.concurrency, 'concurrency');
const PROBES = integer(args.probes, 'probes');
const PREFETCH = args.prefetch === undefined ? 0 : integer(args.prefetch, 'prefetch', 0);
if (args.only !== undefined && args.only !== 'throughput' && args.only !== 'latency') usage(`--only takes throughput or latency; got ${JSON.stringify(args.only)}`);
const WARMUP = 1000;
const TOPIC = 'bench';
const ROOT = resolve(import.meta.dirname, '..');

const now = monotonicMs;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((sorted.length * p) / 100) - 1)]!;
}

/** utime + stime of a process in seconds (Linux), NaN elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks; USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

const parse = (l: string): Record<string, unknown> | null => {
  try {
    return JSON.parse(l) as Record<string, unknown>;
  } catch {
    return null;
  }
};

/** A child process whose stdout lines can be awaited. */
interface Child {
  proc: ChildProcess;
  /** Resolves with the first line from now on that `match` accepts. */
  next(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  onLine(fn: (line: string) => void): void;
  exited: Promise<number | null>;
}

function child(name: string, argv: string[], env: NodeJS.ProcessEnv = {}): Child {
  const proc = spawn(process.execPath, argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const listeners = new Set<(line: string) => void>();
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    for (const fn of [...listeners]) fn(l);
  });
  createInterface({ input: proc.stderr! }).on('line', (l) => process.stderr.write(`[${name}] ${l}\n`));
  proc.stdin!.on('error', () => {});
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return {
    proc,
    exited,
    onLine: (fn) => listeners.add(fn),
    next(match, timeoutMs = 60_000) {
      return new Promise((resolveLine, reject) => {
        const fn = (l: string) => {
          if (!match(l)) return;
          clearTimeout(timer);
          listeners.delete(fn);
          resolveLine(l);
        };
        const timer = setTimeout(() => {
          listeners.delete(fn);
          reject(new Error(`${name}: no awaited line within ${timeoutMs} ms`));
        }, timeoutMs);
        listeners.add(fn);
        void exited.then((code) => {
          if (!listeners.delete(fn)) return;
          clearTimeout(timer);
          reject(new Error(`${name} exited (${code}) before the awaited line`));
        });
      });
    },
  };
}

/** SIGTERM (both drain and exit), SIGKILL after 20 s. */
async function stop(c: Child, name: string): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.kill('SIGTERM');
  const timer = setTimeout(() => {
    process.stderr.write(`${name} did not exit within 20 s: SIGKILL\n`);
    c.proc.kill('SIGKILL');
  }, 20_000);
  await c.exited;
  clearTimeout(timer);
}

const dir = await mkdtemp(join(tmpdir(), 'bucketq-netbench-'));
const store = args.store ?? `file:${dir}`;
const prof = args['cpu-prof'] !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${resolve(args['cpu-prof'])}`] : [];
const line = (s: string) => process.stdout.write(`${s}\n`);

const broker = child('broker', [...prof, '--import', 'tsx', 'src/cli/main.ts', 'broker', '--store', store, '--listen', '127.0.0.1:0', ...(args['broker-flag'] ?? [])]);
let worker: Child | null = null;
const clients: Array<Queue<{ n?: number; probe?: string }>> = [];
try {
  const startup = await broker.next((l) => l.includes(' listening on '), 30_000); // the startup line, or in JSON its record
  const url = /listening on (\S+)/.exec(startup)?.[1];
  if (!url) throw new Error(`cannot read the broker URL from: ${startup}`);

  worker = child('worker', [...prof, '--import', 'tsx', 'bench/network-worker.ts', TOPIC, String(CONCURRENCY)], {
    BUCKETQ_URL: url,
    ...(PREFETCH > 0 ? { BENCH_PREFETCH: String(PREFETCH) } : {}),
  });
  const w = worker;
  await w.next((l) => parse(l)?.ready === true, 30_000);
  let completed = 0;
  let lastAckAt = 0;
  const started = new Map<string, number>();
  const probeStarted = new Map<string, (at: number) => void>();
  const probeDone = new Map<string, () => void>();
  w.onLine((l) => {
    const e = parse(l);
    if (!e) return;
    if (typeof e.completed === 'number') {
      completed = e.completed;
      lastAckAt = e.lastAckAt as number;
    }
    if (typeof e.probe === 'string') {
      started.set(e.probe, e.startedAt as number);
      probeStarted.get(e.probe)?.(e.startedAt as number);
    }
    if (typeof e.probeDone === 'string') probeDone.get(e.probeDone)?.();
  });
  const completedAtLeast = async (n: number, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (completed < n) {
      if (Date.now() > deadline) throw new Error(`the worker completed ${completed} of ${n} jobs within ${timeoutMs} ms`);
      await sleep(5);
    }
  };
  const claimStats = async () => {
    const reply = w.next((l) => parse(l)?.claims !== undefined, 10_000);
    w.proc.stdin!.write('claims\n');
    return parse(await reply)!.claims as { calls: number; jobs: number; p50Ms: number; p99Ms: number };
  };

  for (let i = 0; i < PRODUCERS; i++) clients.push(createClient({ url, topic: TOPIC }));
  const observer = createClient<{ n?: number; probe?: string }>({ url, topic: TOPIC });
  clients.push(observer);
  const producers = clients.slice(0, PRODUCERS);

  /** `count` jobs, every producer pushing one job per request, as fast as answers come; each push's latency in ms. */
  const pushAll = async (count: number): Promise<number[]> => {
    let next = 0;
    const rtt: number[] = [];
    await Promise.all(
      producers.map(async (q) => {
        while (next < count) {
          const n = next++;
          const t = performance.now();
          await q.push({ n });
          rtt.push(performance.now() - t);
        }
      }),
    );
    return rtt;
  };

  const cpu = cpus();
  line(`bucketq network benchmark — node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? '?'}`);
  line('');
  line('| setting | value |');
  line('|---|---|');
  line(`| store | ${args.store ?? 'file:<tmpdir>'} |`);
  line(`| broker | one process: bucketq broker --store … --listen 127.0.0.1:0 (HTTP, keep-alive) |`);
  line(`| producers | ${PRODUCERS} loops in the bench process, one createClient each, one job per push request |`);
  line(`| worker | one process: createClient + createWorker, concurrency ${CONCURRENCY}, no-op handler${PREFETCH > 0 ? `, prefetch ${PREFETCH}` : ''} |`);
  const measured = [args.only !== 'latency' ? `throughput: ${JOBS} jobs` : '', args.only !== 'throughput' ? `latency: ${PROBES} single jobs on an idle queue` : ''].filter(Boolean);
  line(`| jobs | ${WARMUP} warm-up; ${measured.join('; ')} |`);

  await pushAll(WARMUP);
  await completedAtLeast(WARMUP, 120_000);

  const rows: Array<[string, string]> = [];
  if (args.only !== 'latency') {
    await claimStats(); // counts from here on
    const c0 = completed;
    const before = await observer.stats();
    const cpu0 = { broker: cpuSeconds(broker.proc.pid), worker: cpuSeconds(w.proc.pid), self: process.cpuUsage() };
    let maxBacklog = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const s = await observer.stats().catch(() => null);
        if (s) maxBacklog = Math.max(maxBacklog, s.pending + s.claimed);
        await sleep(100);
      }
    })();
    const t0 = now();
    const rtt = await pushAll(JOBS);
    const pushedAt = now();
    await completedAtLeast(c0 + JOBS, 600_000);
    const elapsed = (lastAckAt - t0) / 1000;
    const cpuBroker = cpuSeconds(broker.proc.pid) - cpu0.broker;
    const cpuWorker = cpuSeconds(w.proc.pid) - cpu0.worker;
    const self = process.cpuUsage(cpu0.self);
    sampling = false;
    await sampler;
    const after = await observer.stats();
    const claims = await claimStats();
    const commits = after.seq - before.seq;
    rtt.sort((a, b) => a - b);
    rows.push(
      [`**jobs/s, first push → last ack** (${JOBS} jobs)`, `**${(JOBS / elapsed).toFixed(0)}**`],
      ['elapsed s', elapsed.toFixed(2)],
      ['pushes/s while pushing', (JOBS / ((pushedAt - t0) / 1000)).toFixed(0)],
      ['push request under load: p50 / p99 ms', `${pct(rtt, 50).toFixed(1)} / ${pct(rtt, 99).toFixed(1)}`],
      ['claim requests of the worker: jobs per claim; p50 / p99 ms', `${(claims.jobs / Math.max(1, claims.calls)).toFixed(1)}; ${claims.p50Ms.toFixed(1)} / ${claims.p99Ms.toFixed(1)}`],
      ['commits of queue.json; job-ops (push, claim, ack) per commit', `${commits}; ${((JOBS * 3) / Math.max(1, commits)).toFixed(1)}`],
      ['largest backlog seen (pending + claimed)', String(maxBacklog)],
      ['CPU s: broker / worker / producers', `${cpuBroker.toFixed(1)} / ${cpuWorker.toFixed(1)} / ${((self.user + self.system) / 1e6).toFixed(1)}`],
    );
  }

  if (args.only !== 'throughput') {
    await sleep(300); // idle: everything acked, the worker's claim parked in a long poll
    const q = producers[0]!;
    const latency: number[] = [];
    const pushMs: number[] = [];
    const run = `${process.pid}-${Date.now()}`;
    for (let i = 0; i < PROBES; i++) {
      const id = `probe-${run}-${i}`;
      const startedP = new Promise<number>((r) => probeStarted.set(id, r));
      const doneP = new Promise<void>((r) => probeDone.set(id, r));
      const t = now();
      await q.push({ probe: id }, { id });
      pushMs.push(now() - t);
      const at = started.get(id) ?? (await Promise.race([startedP, sleep(30_000).then(() => NaN)]));
      if (Number.isNaN(at)) throw new Error(`probe ${id} did not start within 30 s`);
      latency.push(at - t);
      await doneP;
      probeStarted.delete(id);
      probeDone.delete(id);
      started.delete(id);
      await sleep(5); // the worker's next claim parks again
    }
    latency.sort((a, b) => a - b);
    pushMs.sort((a, b) => a - b);
    rows.push(
      [`**push → handler start**, idle queue, ${PROBES} single jobs: p50 / p99 ms`, `**${pct(latency, 50).toFixed(1)} / ${pct(latency, 99).toFixed(1)}**`],
      ['… of which the push request (answered after its commit): p50 / p99 ms', `${pct(pushMs, 50).toFixed(1)} / ${pct(pushMs, 99).toFixed(1)}`],
    );
  }

  line('');
  line('| measure | value |');
  line('|---|---|');
  for (const [k, v] of rows) line(`| ${k} | ${v} |`);
} finally {
  await Promise.all(clients.map((q) => q.close()));
  if (worker) await stop(worker, 'worker');
  await stop(broker, 'broker');
  await rm(dir, { recursive: true, force: true });
}
