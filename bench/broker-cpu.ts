/**
 * The broker's own cost per job, without the wire: bench/network.ts's two workloads run against a
 * Broker in this process (no HTTP, no client), so what is measured is the commit loop, the core
 * and the store.
 *
 *   npx tsx bench/broker-cpu.ts                      # file: store in a new temp directory
 *   npx tsx bench/broker-cpu.ts --jobs 20000 --store memory:
 *   node --import tsx --cpu-prof --cpu-prof-dir /tmp/prof bench/broker-cpu.ts --wire   # profile the broker
 *   npx tsx bench/broker-cpu.ts --wire [--store memory:]   # W1 over HTTP, as bench:peers runs it
 *   npx tsx bench/broker-cpu.ts --wire --payload-bytes 1024 # ... with payloads of about 1 KiB of JSON
 *
 * throughput  16 producer loops push one job per call; one consumer at concurrency 16 claims
 *             (long poll, up to its free slots) and acks each job as its no-op handler ends, all
 *             acks of a turn together (as createWorker does). The producers hold back while more
 *             than --backlog jobs are unfinished: without the wire's round trips they would
 *             outrun the consumer, and the figure would be that of a growing queue.json (the
 *             network benchmark's W1 peaks at about 150). CPU µs per job is this process's
 *             user + system time (every thread: the fs threadpool too) ÷ jobs.
 * latency     an idle queue with the consumer's claim parked; single jobs pushed one at a time,
 *             each timed from its push call to its claim's answer (the handler's start), and the
 *             commits each took.
 * --wire      bench:peers's W1 instead, over the wire: the HTTP broker (startBrokerServer) in this
 *             process, the 16 producers (one shared createClient, one job per push) and one
 *             createWorker (defaults, concurrency 16) in a child (bench/broker-cpu-wire-driver.ts).
 *             CPU µs per job is this process's alone: the broker's, HTTP included (bench:peers's
 *             "server CPU per job" row), split into the main thread and the others (Linux), with
 *             the commits it took and what they carried
 *             (pushes and acks together, one round of jobs per commit, or apart).
 *             --child-cpu-prof DIR: the child writes a .cpuprofile there (node --cpu-prof).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fork } from 'node:child_process';
import { Broker } from '../src/broker/broker.js';
import type { ClaimedJob } from '../src/core/ops/claim.js';
import { openStore } from '../src/storage/open.js';
import { mainAndOthers, threadTicks } from './thread-ticks.js';
import { benchArgs } from './bench-args.js';

const HELP = `npx tsx bench/broker-cpu.ts [options]

The broker's own CPU per job: W1's producers and a consumer against a Broker in this process (no
HTTP), or with --wire bench:peers's W1 over HTTP (the clients in a child). See the header of
bench/broker-cpu.ts.

  --jobs N                 throughput jobs (default 10000)
  --probes N               latency jobs (default 200)
  --backlog N              unfinished jobs the producers allow (default 200)
  --store URL              the store (default: file: in a new temp directory)
  --only throughput|latency
                           one half only (without --wire)
  --wire                   over HTTP, as bench:peers's W1
  --archive-window-ms N    the broker's archiveWindowMs
  --payload-bytes N        --wire payloads of about N bytes of JSON (default 0: {n})
  --child-cpu-prof DIR     --wire: the clients' child writes a .cpuprofile there
  -h, --help               this text
`;
const { values: args, usage, integer } = benchArgs('broker-cpu', HELP, {
  jobs: { type: 'string', default: '10000' },
  probes: { type: 'string', default: '200' },
  backlog: { type: 'string', default: '200' },
  store: { type: 'string' },
  only: { type: 'string' },
  wire: { type: 'boolean', default: false },
  'archive-window-ms': { type: 'string' },
  'payload-bytes': { type: 'string', default: '0' },
  'child-cpu-prof': { type: 'string' },
});
const JOBS = integer(args.jobs, 'jobs');
/** --payload-bytes: each --wire job's payload gets a string field of about this many bytes of JSON (0: `{n}` alone, as bench:peers). */
const PAYLOAD_BYTES = integer(args['payload-bytes'], 'payload-bytes', 0);
const PROBES = integer(args.probes, 'probes');
const BACKLOG = integer(args.backlog, 'backlog');
if (args.only !== undefined && args.wire) usage('--only is for the run without --wire');
if (args.only !== undefined && args.only !== 'throughput' && args.only !== 'latency') usage(`--only takes throughput or latency; got ${JSON.stringify(args.only)}`);
const PRODUCERS = 16;
/** --archive-window-ms: the broker's archiveWindowMs (how long finished jobs wait in queue.json for their archive). */
const archiveWindow = args['archive-window-ms'] === undefined ? {} : { archiveWindowMs: integer(args['archive-window-ms'], 'archive-window-ms', 0) };
const CONCURRENCY = 16;
const TOPIC = 'bench';

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((sorted.length * p) / 100) - 1)] ?? NaN;
const line = (s: string): void => void process.stdout.write(`${s}\n`);

if (args.wire) {
  await wire();
  process.exit(0);
}

const dir = args.store === undefined ? await mkdtemp(join(tmpdir(), 'bucketq-broker-cpu-')) : null;
const store = await openStore(args.store ?? `file:${dir}`);
/** How long each write of queue.json took (ms), from the call to its answer. */
let writeMs: number[] = [];
const write = store.write.bind(store);
store.write = async (key, body, cond) => {
  const t = performance.now();
  try {
    return await write(key, body, cond);
  } finally {
    if (key.endsWith('/queue.json')) writeMs.push(performance.now() - t);
  }
};
const broker = new Broker({ store, ...archiveWindow });

/** The consumer: claims while it has room, a no-op handler per job, each turn's acks together. */
function consumer(onStart: (job: ClaimedJob) => void, onDone: () => void) {
  let inFlight = 0;
  let claiming = false;
  let stopped = false;
  let completed = 0;
  let abort = new AbortController();
  const loop = async (): Promise<void> => {
    if (claiming || stopped) return;
    claiming = true;
    while (!stopped && inFlight < CONCURRENCY) {
      let jobs: ClaimedJob[];
      abort = new AbortController(); // one per claim, as each request of the wire has its own
      try {
        jobs = await broker.claim(TOPIC, { workerId: 'w', max: CONCURRENCY - inFlight, waitMs: 5000 }, abort.signal);
      } catch {
        break;
      }
      inFlight += jobs.length;
      for (const job of jobs) {
        onStart(job);
        setImmediate(() => {
          if (stopped) return;
          void broker.ack(TOPIC, { id: job.id, workerId: 'w', lease: job.lease }).then(() => {
            inFlight--;
            completed++;
            onDone();
            void loop();
          });
        });
      }
    }
    claiming = false;
  };
  void loop();
  return {
    get completed() {
      return completed;
    },
    stop() {
      stopped = true;
      abort.abort();
    },
  };
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 2));
}

try {
  await broker.stats(TOPIC); // elect
  const probeStarted = new Map<string, (at: number) => void>();
  let pushed = 0;
  const room: Array<() => void> = [];
  const c = consumer(
    (job) => {
      const p = (job.payload as { probe?: string } | undefined)?.probe;
      if (p !== undefined) probeStarted.get(p)?.(performance.now());
    },
    () => {
      for (const r of room.splice(0)) r();
    },
  );
  const pushAll = async (count: number) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: PRODUCERS }, async () => {
        while (next < count) {
          while (pushed - c.completed > BACKLOG) await new Promise<void>((r) => room.push(r));
          const n = next++;
          pushed++;
          await broker.push(TOPIC, [{ payload: { n } }]);
        }
      }),
    );
  };
  line(`bucketq broker-cpu — node ${process.version}, store ${store.name}`);
  await pushAll(1000); // warm-up
  await until(() => c.completed >= 1000);

  if (args.only !== 'latency') {
    const seq0 = (await broker.stats(TOPIC)).seq;
    const sizes: number[] = [];
    broker.events.on('commit', (c) => sizes.push(c.bytes));
    writeMs = [];
    const cpu0 = process.cpuUsage();
    const threads0 = threadTicks();
    const t0 = performance.now();
    const done0 = c.completed;
    await pushAll(JOBS);
    await until(() => c.completed >= done0 + JOBS);
    const s = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const byThread = threadSplit(threads0);
    const commits = (await broker.stats(TOPIC)).seq - seq0;
    sizes.sort((a, b) => a - b);
    line(`throughput: ${JOBS} jobs in ${s.toFixed(2)} s = ${(JOBS / s).toFixed(0)} jobs/s; ${commits} commits (${((3 * JOBS) / commits).toFixed(1)} job-ops each, p50 ${(pct(sizes, 50) / 1024).toFixed(1)} KiB)`);
    line(`CPU per job: ${((cpu.user + cpu.system) / JOBS).toFixed(1)} µs (user ${(cpu.user / JOBS).toFixed(1)}, system ${(cpu.system / JOBS).toFixed(1)})`);
    if (byThread) line(byThread);
    writeMs.sort((a, b) => a - b);
    line(`queue.json writes: p50 ${pct(writeMs, 50).toFixed(2)} ms, p99 ${pct(writeMs, 99).toFixed(2)} ms`);
  }

  if (args.only !== 'throughput') {
    const ms: number[] = [];
    let commits = 0;
    writeMs = [];
    for (let i = 0; i < PROBES; i++) {
      await new Promise((r) => setTimeout(r, 3)); // the consumer's claim parks again
      const id = `probe-${i}`;
      const started = new Promise<number>((r) => probeStarted.set(id, r));
      const seq0 = (await broker.stats(TOPIC)).seq;
      const t = performance.now();
      await broker.push(TOPIC, [{ id, payload: { probe: id } }]);
      ms.push((await started) - t);
      probeStarted.delete(id);
      await until(() => c.completed >= 1000 + (args.only === 'latency' ? 0 : JOBS) + i + 1);
      commits += (await broker.stats(TOPIC)).seq - seq0;
    }
    ms.sort((a, b) => a - b);
    writeMs.sort((a, b) => a - b);
    line(`queue.json writes during the probes: p50 ${pct(writeMs, 50).toFixed(2)} ms, p99 ${pct(writeMs, 99).toFixed(2)} ms (${writeMs.length})`);
    line(`latency: push → claim answered, idle queue, ${PROBES} jobs: p50 ${pct(ms, 50).toFixed(2)} ms, p99 ${pct(ms, 99).toFixed(2)} ms; ${(commits / PROBES).toFixed(2)} commits per job (push, claim, ack)`);
  }
  c.stop();
} finally {
  await broker.stop();
  await store.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}

/**
 * The CPU per job split into the main thread (the event loop: HTTP, the commit loop, the core) and
 * the others (V8's GC helpers, the file store's commit thread, libuv's pool), from 10 ms ticks.
 */
function threadSplit(before: Map<string, number> | null): string | null {
  const split = mainAndOthers(before);
  if (!split) return null;
  const perJob = (ticks: number) => ((ticks * 10_000) / JOBS).toFixed(0);
  return `  by thread (10 ms ticks): main ${perJob(split.main)} µs/job, other threads ${perJob(split.others)} µs/job (GC helpers, the file store's commit thread, libuv's pool)`;
}

/** --wire: W1 over HTTP against a broker server in this process; the clients in a child. */
async function wire(): Promise<void> {
  const { startBrokerServer } = await import('../src/server/index.js');
  const wdir = args.store === undefined ? await mkdtemp(join(tmpdir(), 'bucketq-broker-cpu-')) : null;
  const server = await startBrokerServer({ store: args.store ?? `file:${wdir}`, listen: '127.0.0.1:0', brokerOptions: archiveWindow });
  try {
    line(`bucketq broker-cpu --wire — node ${process.version}, store ${args.store ?? 'file:'}${PAYLOAD_BYTES > 0 ? `, payloads of ~${PAYLOAD_BYTES} bytes` : ''}`);
    const sizes: number[] = [];
    let counting = false;
    server.broker.events.on('commit', (c) => {
      if (counting) sizes.push(c.bytes);
    });
    // What the commits carried: pushes only, acks only, both (one round of jobs per commit), neither.
    const carried = { pushes: 0, acks: 0, both: 0, neither: 0 };
    server.broker.events.on('batch', (b) => {
      if (!counting) return;
      const pushes = b.requests.some((r) => r.op === 'push');
      const acks = b.requests.some((r) => r.op === 'ack');
      carried[pushes && acks ? 'both' : pushes ? 'pushes' : acks ? 'acks' : 'neither']++;
    });
    const child = fork(join(import.meta.dirname, 'broker-cpu-wire-driver.ts'), [server.url, String(JOBS), '1000', String(PAYLOAD_BYTES)], { execArgv: ['--import', 'tsx', ...(args['child-cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${args['child-cpu-prof']}`] : [])] });
    let cpu0 = process.cpuUsage();
    let threads0: Map<string, number> | null = null;
    let t0 = 0;
    /** HTTP requests answered so far by method and route, and storage calls by op (the server's own metrics). */
    const requests = async (): Promise<Map<string, number>> => {
      const out = new Map<string, number>();
      for (const [name, key] of [
        ['bucketq_http_requests_total', (l: Record<string, unknown>) => `${l.method} ${l.route}`],
        ['bucketq_storage_calls_total', (l: Record<string, unknown>) => `store ${l.op}`],
      ] as const) {
        for (const v of (await server.metrics.getSingleMetric(name)!.get()).values) {
          const k = key(v.labels);
          out.set(k, (out.get(k) ?? 0) + v.value);
        }
      }
      return out;
    };
    let req0 = new Map<string, number>();
    let req1 = new Map<string, number>();
    const result = await new Promise<{ cpu: NodeJS.CpuUsage; s: number; byThread: string | null }>((resolve, reject) => {
      child.on('message', (m: { phase: string }) => {
        if (m.phase === 'start') {
          counting = true;
          cpu0 = process.cpuUsage();
          threads0 = threadTicks();
          t0 = performance.now();
          void requests().then((r) => (req0 = r));
        } else if (m.phase === 'end') {
          counting = false;
          const r = { cpu: process.cpuUsage(cpu0), s: (performance.now() - t0) / 1000, byThread: threadSplit(threads0) };
          void requests().then((m) => {
            req1 = m;
            resolve(r);
          });
        }
      });
      child.on('exit', (code) => reject(new Error(`the driver exited (${code}) before the end`)));
    });
    await new Promise((r) => child.once('exit', r));
    const { cpu, s, byThread } = result;
    sizes.sort((a, b) => a - b);
    line(`throughput: ${JOBS} jobs in ${s.toFixed(2)} s = ${(JOBS / s).toFixed(0)} jobs/s; ${sizes.length} commits (${(JOBS / sizes.length).toFixed(1)} jobs each, p50 ${(pct(sizes, 50) / 1024).toFixed(1)} KiB)`);
    line(`broker CPU per job: ${((cpu.user + cpu.system) / JOBS).toFixed(1)} µs (user ${(cpu.user / JOBS).toFixed(1)}, system ${(cpu.system / JOBS).toFixed(1)})`);
    if (byThread) line(byThread);
    line(`commits carrying pushes and acks: ${carried.both}; pushes only: ${carried.pushes}; acks only: ${carried.acks}; neither: ${carried.neither}`);
    const perJob = [...req1].map(([k, n]) => [k, (n - (req0.get(k) ?? 0)) / JOBS] as const).filter(([, n]) => n > 0);
    line(`HTTP requests and storage calls per job: ${perJob.map(([k, n]) => `${k} ${n.toFixed(3)}`).join(', ')}`);
  } finally {
    await server.close();
    if (wdir) await rm(wdir, { recursive: true, force: true });
  }
}
