/**
 * `npm run chaos`: the chaos suite's entry (docs/chaos.md). One run:
 *
 *   1. start      brokers on the faulty file: store, then workers, then producers;
 *   2. nemesis    for --seconds, the seeded plan of kills, freezes and restarts (nemesis.ts);
 *   3. drain      producers stop (their pushes in flight get outcomes); the workers, all up
 *                 again, work the queue empty: queue.json has no live job and nothing waits
 *                 to be archived (polled from the store; it fails after a minute without progress);
 *   4. stop       workers, then brokers, by SIGTERM;
 *   5. check      the history files and the store (archive + queue.json) go to checker.ts;
 *                 the report is printed, the exit status says whether every must-be-0 is 0.
 */
import { setMaxListeners } from 'node:events';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { UsageError } from '../src/cli/command.js';
import { createClient } from '../src/client/index.js';
import { parseChaosArgs, usage, type ChaosOptions } from './args.js';
import { checkHistory } from './checker.js';
import { Cluster } from './cluster.js';
import { manifestOf, readFinalStore, readQueueJson } from './final-store.js';
import { HistoryWriter, readHistory } from './history.js';
import { planNemesis, runNemesis } from './nemesis.js';
import { formatReport, type ChaosReport } from './report.js';
import { SegmentWatch } from './segment-watch.js';

const TOPIC = 'chaos';
/** The drain fails when the number of live jobs has not fallen for this long. */
const DRAIN_STALL_MS = 60_000;
const DRAIN_POLL_MS = 250;

/** A directory the caller named (created, must be empty) or a new temporary one. */
async function directory(given: string | undefined, prefix: string): Promise<string> {
  if (given === undefined) return mkdtemp(join(tmpdir(), prefix));
  const dir = resolve(given);
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length > 0) throw new UsageError(`${dir} is not empty: the checker must see only this run's jobs and history`);
  return dir;
}

/**
 * Polls queue.json until no job is live and none waits to be archived (an external process's
 * state). It gives up only when the count stops falling for DRAIN_STALL_MS: a long run may end
 * with a backlog that takes minutes to work off.
 */
async function drain(store: string, watch: SegmentWatch): Promise<{ ms: number; timedOut: boolean; backlog: number }> {
  const start = Date.now();
  let lastProgress = start;
  let least = Infinity;
  let backlog = -1;
  while (Date.now() - lastProgress < DRAIN_STALL_MS) {
    const q = await readQueueJson(store, TOPIC);
    // Jobs waiting in segments count too (the manifest's counts leave cancelled ones out).
    const m = manifestOf(q, TOPIC);
    if (m) watch.observe(m);
    const inSegments = m ? m.counts.pending + m.counts.delayed : 0;
    const left = q ? q.jobs.length + (q.done ?? []).length + inSegments : Infinity;
    if (backlog < 0) backlog = left;
    if (left === 0) return { ms: Date.now() - start, timedOut: false, backlog };
    if (left < least) [least, lastProgress] = [left, Date.now()];
    await delay(DRAIN_POLL_MS);
  }
  return { ms: Date.now() - start, timedOut: true, backlog };
}

/**
 * The first claim creates the topic, led by b0. Clients find the leader through queue.json
 * alone, so the topic must name one before they start (restarted brokers get new ports).
 */
async function createTopic(url: string): Promise<void> {
  const client = createClient({ url, topic: TOPIC });
  try {
    await client.claim({ workerId: 'chaos-init', max: 1 });
  } finally {
    await client.close();
  }
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const storeDir = await directory(o.store, 'bucketq-chaos-store-');
  const historyDir = await directory(o.history, 'bucketq-chaos-history-');
  const store = `file:${storeDir}`;
  const faults = Object.entries(o.faults).map(([k, v]) => `${k}=${v}`).join('&');
  const cluster = new Cluster({ topic: TOPIC, store, brokerStore: `${store}?${faults}`, historyDir, seed: o.seed, brokerLeaseMs: o.brokerLeaseMs, jobLeaseMs: o.jobLeaseMs, rate: o.rate, backlog: o.backlog });
  const nemesisLog = new HistoryWriter(historyDir, 'nemesis');
  const abort = new AbortController();
  // Every planned fault waits on this signal at once.
  setMaxListeners(1000, abort.signal);
  const interrupted = () => {
    abort.abort();
    cluster.killAll();
    process.stderr.write(`interrupted; history in ${historyDir}, store in ${storeDir}\n`);
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  try {
    const brokers = Array.from({ length: o.brokers }, (_, i) => `b${i}`);
    const workers = Array.from({ length: o.workers }, (_, i) => `w${i}`);
    for (const b of brokers) await cluster.start(b, 'broker');
    await createTopic(cluster.members.get('b0')!.url!);
    for (const w of workers) await cluster.start(w, 'worker');
    for (let i = 0; i < o.producers; i++) await cluster.start(`p${i}`, 'producer');

    const segmentWatch = new SegmentWatch(store, TOPIC);
    segmentWatch.start();
    const plan = planNemesis({ seed: o.seed, periodMs: o.seconds * 1000, brokers, workers, brokerLeaseMs: o.brokerLeaseMs, jobLeaseMs: o.jobLeaseMs });
    const window = { start: Date.now(), end: 0 };
    const period = delay(o.seconds * 1000);
    const { skipped } = await runNemesis(plan, cluster, nemesisLog, abort.signal);
    await period;
    window.end = Date.now();

    await cluster.stop('producer', 30_000);
    segmentWatch.pause(); // the drain reads the head anyway: it reports what it sees
    const drained = await drain(store, segmentWatch);
    const segments = segmentWatch.stop();
    await cluster.stop('worker', 15_000);
    await cluster.stop('broker', 40_000);

    const final = await readFinalStore(store, TOPIC);
    const { events, truncatedLines } = readHistory(historyDir);
    const check = checkHistory({ events, final, window });
    // A run that tested nothing, or never got the queue empty, proves nothing either.
    const broken = [
      ...(check.counts.pushesAcked === 0 ? ['no push was acknowledged'] : []),
      ...(drained.timedOut ? [`the drain made no progress for ${DRAIN_STALL_MS / 1000} s`] : []),
      ...cluster.crashes.map((c) => `${c.name} exited by itself`),
      ...(o.backlog && segments.segments === 0 ? ['no job waited in a segment although the bounds are small (--backlog): the run did not exercise segmented topics'] : []),
    ];
    const ok = check.ok && broken.length === 0;
    const kept = !ok || o.store !== undefined || o.history !== undefined;
    const report: ChaosReport = {
      ok,
      run: {
        seed: o.seed, seconds: o.seconds, brokers: o.brokers, producers: o.producers, workers: o.workers, faults: o.faults,
        storeDir, historyDir, kept, drainMs: drained.ms, drainTimedOut: drained.timedOut, drainBacklog: drained.backlog, truncatedLines, backlog: o.backlog ?? 'default', segments,
        archiveObjects: final.archiveObjects, faultsPlanned: plan.length, faultsSkipped: skipped, crashes: cluster.crashes, broken,
      },
      check,
    };
    if (!kept) await Promise.all([rm(storeDir, { recursive: true, force: true }), rm(historyDir, { recursive: true, force: true })]);
    return report;
  } catch (err) {
    abort.abort();
    cluster.killAll();
    throw new Error(`${(err as Error).message} (history in ${historyDir}, store in ${storeDir})`, { cause: err });
  } finally {
    process.off('SIGINT', interrupted);
    nemesisLog.close();
    cluster.close();
  }
}

async function main(argv: string[]): Promise<number> {
  let options: ChaosOptions;
  try {
    options = parseChaosArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`chaos: ${err.message} (see --help)\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(usage);
    return 0;
  }
  let report: ChaosReport;
  try {
    report = await runChaos(options);
  } catch (err) {
    process.stderr.write(`chaos: ${err instanceof UsageError ? '' : 'the run broke: '}${(err as Error).message}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
  process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.ok ? 0 : 1;
}

if (import.meta.filename === process.argv[1] || process.argv[1]?.endsWith('chaos/run.ts')) {
  process.exitCode = await main(process.argv.slice(2));
}
