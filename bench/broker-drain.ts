/**
 * W3 without the wire: the broker's own CPU per job while one consumer drains a backlog, in this
 * process (no HTTP, no client), so what is measured is the commit loop, the core and the store.
 * bench:peers's W3 drains over HTTP and its figures move ±15% between runs on a shared machine;
 * the main thread's CPU per job here moves a few percent, which is what an A/B of a change to the
 * drain's path needs.
 *
 *   npx tsx bench/broker-drain.ts                       # 100,000 jobs on a file: store in a temp dir
 *   npx tsx bench/broker-drain.ts --jobs 20000 --store memory:
 *   node --import tsx --cpu-prof --cpu-prof-dir /tmp/prof bench/broker-drain.ts
 *
 * The backlog is built with pushMany-sized pushes (10,000 jobs a call, untimed). The consumer
 * claims up to `--ahead` jobs beyond its 16 slots (createWorker's 'auto' claim-ahead reaches 256
 * on a deep queue; like it, it tops up once half of that room is free), runs a no-op handler per
 * job and acks each turn's finished jobs together, as createWorker does. A failed claim or ack
 * ends the run with its error. Printed: jobs/s, the commits, and CPU per job split into the main thread and
 * the others (Linux: from /proc/self/task, 10 ms ticks).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../src/broker/broker.js';
import { openStore } from '../src/storage/open.js';
import { mainAndOthers, threadTicks } from './thread-ticks.js';
import { benchArgs } from './bench-args.js';

const HELP = `npx tsx bench/broker-drain.ts [options]

W3 without the wire: one consumer (16 slots) drains a backlog from a Broker in this process.
jobs/s, the commits, and CPU per job on the main thread and the others.

  --jobs N        the backlog, at least 1000 (default 100000)
  --ahead N       jobs claimed beyond the free slots (default 256)
  --store URL     the store (default: file: in a new temp directory)
  -h, --help      this text
`;
const { values: args, integer } = benchArgs('broker-drain', HELP, { jobs: { type: 'string', default: '100000' }, ahead: { type: 'string', default: '256' }, store: { type: 'string' } });
const JOBS = integer(args.jobs, 'jobs', 1000);
const AHEAD = integer(args.ahead, 'ahead', 0);
const SLOTS = 16;
const TOPIC = 'drain';
const BULK = 10_000;

const dir = args.store === undefined ? await mkdtemp(join(tmpdir(), 'bucketq-broker-drain-')) : null;
const store = await openStore(args.store ?? `file:${dir}`);
const broker = new Broker({ store });
try {
  for (let n = 0; n < JOBS; n += BULK) {
    await broker.push(TOPIC, Array.from({ length: Math.min(BULK, JOBS - n) }, (_, i) => ({ payload: { n: n + i } })));
  }
  const seq0 = (await broker.stats(TOPIC)).seq;
  const ticks0 = threadTicks();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();

  let completed = 0;
  let claimed = 0;
  let held: Array<{ id: string; lease: string }> = [];
  let running = 0;
  let acks: Array<{ id: string; workerId: string; lease: string }> = [];
  let ackQueued = false;
  let finish!: () => void;
  let fail!: (err: unknown) => void;
  const done = new Promise<void>((resolve, reject) => ((finish = resolve), (fail = reject)));
  const flushAcks = (): void => {
    ackQueued = false;
    const batch = acks;
    acks = [];
    // One call per ack, submitted in one pass: they share a commit, as a settle request's items do.
    void Promise.all(batch.map((a) => broker.ack(TOPIC, a))).then(() => {
      completed += batch.length;
      if (completed >= JOBS) finish();
      else startJobs();
    }, fail);
  };
  const startJobs = (): void => {
    while (running < SLOTS && held.length > 0) {
      const job = held.shift()!;
      running++;
      setImmediate(() => {
        running--;
        acks.push({ id: job.id, workerId: 'w', lease: job.lease });
        if (!ackQueued) {
          ackQueued = true;
          setImmediate(flushAcks);
        }
        startJobs();
      });
    }
    claimMore().catch(fail);
  };
  let claiming = false;
  const claimMore = async (): Promise<void> => {
    const room = SLOTS - running + AHEAD - held.length;
    // As createWorker: with jobs held, top up only once half the claim-ahead room is free.
    const worthIt = held.length === 0 ? 1 : Math.max(1, Math.ceil(AHEAD / 2));
    if (claiming || room < worthIt || claimed >= JOBS) return;
    claiming = true;
    const jobs = await broker.claim(TOPIC, { workerId: 'w', max: Math.min(room, 1000) });
    claiming = false;
    claimed += jobs.length;
    held = held.concat(jobs.map((j) => ({ id: j.id, lease: j.lease })));
    startJobs();
  };
  startJobs();
  await done;

  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
    const commits = (await broker.stats(TOPIC)).seq - seq0;
  const perJob = (us: number): string => (us / JOBS).toFixed(1);
  process.stdout.write(`bucketq broker-drain — node ${process.version}, store ${store.name}, ${JOBS} jobs, ${SLOTS} slots + ${AHEAD} ahead\n`);
  process.stdout.write(`drain: ${(JOBS / s).toFixed(0)} jobs/s, ${commits} commits (archive windows' included; ${(JOBS / commits).toFixed(1)} jobs each)\n`);
  process.stdout.write(`CPU per job: ${perJob(cpu.user + cpu.system)} µs (user ${perJob(cpu.user)}, system ${perJob(cpu.system)})\n`);
  const split = mainAndOthers(ticks0);
  if (split) process.stdout.write(`  by thread (10 ms ticks): main ${perJob(split.main * 10_000)} µs/job, other threads ${perJob(split.others * 10_000)} µs/job\n`);
} finally {
  await broker.stop();
  await store.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}
