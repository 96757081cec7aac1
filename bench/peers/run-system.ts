/**
 * One system's turn in bench:peers: start its server, run the chosen workloads on it (with the
 * server's CPU and, for bucketq, its commits measured over the timed windows), stop it.
 */
import { scrapeMetrics, type MetricsScrape } from './broker-metrics.js';
import type { PeerResults, RowKey, SystemEntry } from './report.js';
import type { CommitWindowName, StraceResult } from './report-tables.js';
import { attachStrace, straceMissing, type StraceSession, type SyscallCount } from './strace.js';
import type { RunningSystem, SystemAdapter } from './types.js';
import { windowMeter, type WindowReadings } from './window-meter.js';
import { payloads, PRODUCERS, setupW1, workload1, workload2, workload3, workload4, type Figure, type TimedWindow, type W1Setup } from './workloads.js';

export interface RunConfig {
  /** Of '1', '1i', '2', '3', '4'. */
  workloads: Set<string>;
  jobs: number;
  bulkJobs: number;
  probes: number;
  drainBudgetMs: number;
  /** Jobs of the extra W1 pass under strace; 0: no such pass. */
  straceJobs: number;
}

/** The extra W1 pass of --strace on a bucketq broker: its syscalls ÷ its commits. */
async function stracePass(sys: RunningSystem, w1: W1Setup, jobs: number): Promise<StraceResult> {
  const missing = straceMissing();
  if (missing) return { skipped: missing };
  if (!('pid' in sys.server) || !sys.brokerUrl) return { skipped: 'no broker process' };
  const { pid } = sys.server;
  const url = sys.brokerUrl;
  let session: StraceSession | null = null;
  let before: MetricsScrape | null = null;
  let counted: SyscallCount[] = [];
  let commits = 0;
  const window: TimedWindow = {
    async start() {
      before = await scrapeMetrics(url);
      session = await attachStrace(pid);
    },
    async finish() {
      counted = await session!.finish();
      commits = (await scrapeMetrics(url)).commits - before!.commits;
    },
  };
  try {
    const f = await workload1(w1.worker, w1.producers, jobs, 0, window);
    return { jobs, jobsPerS: f.value, commits, syscalls: counted.reduce((s, c) => s + c.calls, 0), top: counted.slice(0, 8) };
  } catch (e) {
    await (session as StraceSession | null)?.finish().catch(() => []);
    return { skipped: e instanceof Error ? e.message : String(e) };
  }
}

export async function runSystem(adapter: SystemAdapter, cfg: RunConfig, results: PeerResults, log: (line: string) => void): Promise<void> {
  log(`— ${adapter.name}: starting`);
  const sys = await adapter.start();
  const entry: SystemEntry = { name: adapter.name, options: adapter.options, settings: adapter.settings };
  results.systems.push(entry);
  if (typeof sys === 'string') {
    log(`— ${adapter.name}: skipped: ${sys}`);
    entry.skipped = sys;
    return;
  }
  entry.version = sys.version;
  const unmeasured = (what: string) => {
    log(`  ${what}`);
    (entry.unmeasured ??= []).push(what);
  };
  if ('unmeasured' in sys.server) unmeasured(`CPU per job not measured: ${sys.server.unmeasured}`);
  const put = (key: RowKey, f: Figure) => {
    results.figures[key][adapter.name] = f;
    log(`  ${key}: ${f.value.toFixed(f.value < 100 ? 2 : 0)}${f.note ? ` (${f.note})` : ''}`);
  };
  /** Runs a timed workload with a meter on its window; puts its CPU per job under `cpuKey`. */
  const metered = async (cpuKey: RowKey, run: (window: TimedWindow) => Promise<Figure>): Promise<{ figure: Figure; readings: WindowReadings }> => {
    const meter = windowMeter(sys);
    const figure = await run(meter);
    const readings = meter.readings();
    if (readings.cpuPerJob) put(cpuKey, readings.cpuPerJob);
    return { figure, readings };
  };
  const keepCommits = (w: CommitWindowName, r: WindowReadings) => {
    if (r.commits) (results.commits[adapter.name] ??= {})[w] = { ...r.commits, jobs: r.jobs };
  };
  const has = (w: string) => cfg.workloads.has(w);
  const warmup = Math.min(1000, cfg.jobs);
  try {
    let w1: W1Setup | null = null;
    const strace = cfg.straceJobs > 0 && sys.brokerUrl !== undefined;
    if (has('1') || has('1i') || has('4') || strace) w1 = await setupW1(sys, adapter.name);
    if (has('1')) {
      const { figure, readings } = await metered('cpuW1', (window) => workload1(w1!.worker, w1!.producers, cfg.jobs, warmup, window));
      put('w1', figure);
      keepCommits('w1', readings);
    }
    if (has('1i')) {
      const producers = await sys.independentProducers('w1', PRODUCERS);
      if (typeof producers === 'string') unmeasured(`W1i not run: ${producers}`);
      else {
        const { figure, readings } = await metered('cpuW1i', (window) => workload1(w1!.worker, producers, cfg.jobs, warmup, window));
        put('w1i', figure);
        keepCommits('w1i', readings);
      }
    }
    if (has('4')) {
      const { p50, p99 } = await workload4(w1!, cfg.probes);
      put('w4p50', p50);
      put('w4p99', p99);
    }
    if (strace) {
      log(`  strace: an extra W1 pass of ${cfg.straceJobs} jobs with strace attached to the broker`);
      const s = await stracePass(sys, w1!, cfg.straceJobs);
      results.strace[adapter.name] = s;
      log(`  strace: ${'skipped' in s ? `skipped: ${s.skipped}` : `${s.syscalls} syscalls, ${s.commits} commits`}`);
    }
    await w1?.worker.stop();
    if (has('2')) put('w2', await workload2(sys, 'w3a', cfg.bulkJobs));
    if (has('3')) {
      if (!has('2')) await sys.pushBulk('w3a', payloads(cfg.bulkJobs));
      const x1 = await metered('cpuW3x1', (window) => workload3(sys, adapter.name, 'w3a', cfg.bulkJobs, 1, cfg.drainBudgetMs, window));
      put('w3x1', x1.figure);
      keepCommits('w3x1', x1.readings);
      await sys.pushBulk('w3b', payloads(cfg.bulkJobs));
      const x4 = await metered('cpuW3x4', (window) => workload3(sys, adapter.name, 'w3b', cfg.bulkJobs, 4, cfg.drainBudgetMs, window));
      put('w3x4', x4.figure);
      keepCommits('w3x4', x4.readings);
    }
  } finally {
    await sys.stop();
  }
}
