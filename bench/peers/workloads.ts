/**
 * The workloads of issues 7 and 15, written once against {@link RunningSystem} so every system is
 * timed by the same code:
 *
 *   1  16 producers in one process sharing what the library gives one process (bucketq: one
 *      client; BullMQ: one Queue; pg-boss: one PgBoss), one job per call, N jobs (default 20,000)
 *      after 1,000 warm-up, one worker process at concurrency 16, no-op handler: jobs/s from the
 *      first push to the last completion
 *   1i the same with 16 independent producers: one connection each, nothing shared, as from 16
 *      processes; same worker process, same job count
 *   2  bulk push of M jobs (default 100,000) with the library's bulk API, one caller: jobs/s
 *   3  draining a backlog of M jobs (the one workload 2 left, else pushed in bulk first), one
 *      worker process at concurrency 16, then a fresh backlog and 4 such processes: jobs/s from
 *      "start" to the last completion. A drain that outlasts its budget reports the rate so far.
 *   4  single jobs pushed one at a time on an idle queue: push → handler start, p50 and p99
 *
 * Workloads 1 and 3 take a {@link TimedWindow}: started right before their clock starts and
 * finished when the last job completed, with the number of jobs done (the runner measures server
 * CPU and commits over it).
 */
import { spawnWorker, untilAny, type WorkerProcess } from './children.js';
import { now } from './worker-protocol.js';
import type { BenchPayload, PushOne, RunningSystem } from './types.js';

export const CONCURRENCY = 16;
export const PRODUCERS = 16;

export function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((sorted.length * p) / 100) - 1)]!;
}

/** One figure of one system; `note` says when it is partial. */
export interface Figure {
  value: number;
  note?: string;
}

/** What is measured over a workload's timed part. */
export interface TimedWindow {
  start(): Promise<void>;
  finish(jobs: number): Promise<void>;
}

const NO_WINDOW: TimedWindow = { start: async () => {}, finish: async () => {} };

async function pushAll(producers: PushOne[], count: number, start = 0): Promise<void> {
  let next = 0;
  await Promise.all(
    producers.map(async (push) => {
      while (next < count) {
        const n = start + next++;
        await push({ n });
      }
    }),
  );
}

export const payloads = (count: number): BenchPayload[] => Array.from({ length: count }, (_, n) => ({ n }));

/** The worker and producers of workloads 1, 1i and 4, shared by them (queue "w1"). */
export interface W1Setup {
  worker: WorkerProcess;
  producers: PushOne[];
}

export async function setupW1(sys: RunningSystem, name: string): Promise<W1Setup> {
  const worker = await spawnWorker(`${name} worker`, sys.workerArgv('w1', CONCURRENCY));
  worker.start();
  return { worker, producers: await sys.producers('w1', PRODUCERS) };
}

/** Workload 1 (or 1i, given independent producers) on `worker`. */
export async function workload1(worker: WorkerProcess, producers: PushOne[], jobs: number, warmup = 1000, window = NO_WINDOW): Promise<Figure> {
  // From what the worker has done so far: workload 1i runs on the worker workload 1 used.
  const before = worker.completed;
  await pushAll(producers, warmup);
  await worker.until(() => worker.completed >= before + warmup, 120_000);
  await window.start();
  const base = worker.completed;
  const t0 = now();
  await pushAll(producers, jobs, warmup);
  await worker.until(() => worker.completed >= base + jobs, 600_000);
  await window.finish(worker.completed - base);
  return { value: jobs / ((worker.lastAckAt - t0) / 1000) };
}

export async function workload2(sys: RunningSystem, queue: string, jobs: number): Promise<Figure> {
  const list = payloads(jobs);
  const t0 = now();
  await sys.pushBulk(queue, list);
  return { value: jobs / ((now() - t0) / 1000) };
}

/** Drains `jobs` already waiting on `queue` with `processes` worker processes. */
export async function workload3(sys: RunningSystem, name: string, queue: string, jobs: number, processes: number, budgetMs: number, window = NO_WINDOW): Promise<Figure> {
  const workers = await Promise.all(Array.from({ length: processes }, (_, i) => spawnWorker(`${name} drain ${i + 1}/${processes}`, sys.workerArgv(queue, CONCURRENCY))));
  try {
    const total = () => workers.reduce((s, w) => s + w.completed, 0);
    await window.start();
    const t0 = now();
    for (const w of workers) w.start();
    const outcome = await untilAny(workers, () => total() >= jobs, budgetMs).then(
      () => 'done' as const,
      (e: unknown) => {
        if (workers.some((w) => w.exited !== null)) throw e;
        return 'budget' as const;
      },
    );
    await window.finish(total());
    if (outcome === 'done') return { value: jobs / ((Math.max(...workers.map((w) => w.lastAckAt)) - t0) / 1000) };
    const completed = total();
    return { value: completed / ((now() - t0) / 1000), note: `partial: ${completed.toLocaleString('en-US')} of ${jobs.toLocaleString('en-US')} in ${budgetMs / 1000} s` };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

/** `probes` single jobs, one at a time, each waited for: push → handler start in ms. */
export async function workload4(setup: W1Setup, probes: number): Promise<{ p50: Figure; p99: Figure }> {
  const { worker, producers } = setup;
  const push = producers[0]!;
  const latency: number[] = [];
  const run = `${process.pid}-${Date.now()}`;
  const base = worker.completed;
  for (let i = 0; i < probes; i++) {
    const id = `probe-${run}-${i}`;
    const t = now();
    await push({ probe: id });
    await worker.until(() => worker.probeStart(id) !== undefined, 30_000);
    latency.push(worker.probeStart(id)! - t);
    // Let the finished probe's completion land so the next one meets an idle queue.
    await worker.until(() => worker.completed >= base + i + 1, 30_000);
  }
  return { p50: { value: pct(latency, 50) }, p99: { value: pct(latency, 99) } };
}
