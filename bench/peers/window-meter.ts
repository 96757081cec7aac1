/**
 * What the runner measures over a workload's timed window (bench/peers/workloads.ts TimedWindow):
 * the server process's CPU time per job processed (bench/peers/process-cpu.ts) and, for a bucketq
 * broker, its commits (bench/peers/broker-metrics.ts).
 */
import { commitStats, scrapeMetrics, type CommitStats, type MetricsScrape } from './broker-metrics.js';
import { cpuMicros } from './process-cpu.js';
import type { RunningSystem } from './types.js';
import type { Figure, TimedWindow } from './workloads.js';

export interface WindowReadings {
  /** Server CPU µs per job; absent when the system has no one server process (pg-boss). */
  cpuPerJob?: Figure;
  commits?: CommitStats;
  jobs: number;
}

export interface WindowMeter extends TimedWindow {
  /** What was measured, once `finish` has run. */
  readings(): WindowReadings;
}

export function windowMeter(sys: RunningSystem): WindowMeter {
  const pid = 'pid' in sys.server ? sys.server.pid : null;
  let cpuBefore: number | null = null;
  let scrapeBefore: MetricsScrape | null = null;
  let out: WindowReadings | null = null;
  return {
    async start() {
      if (sys.brokerUrl) scrapeBefore = await scrapeMetrics(sys.brokerUrl);
      cpuBefore = pid === null ? null : cpuMicros(pid);
    },
    async finish(jobs) {
      const cpuAfter = pid === null ? null : cpuMicros(pid);
      out = { jobs };
      if (cpuBefore !== null && cpuAfter !== null && jobs > 0) out.cpuPerJob = { value: (cpuAfter - cpuBefore) / jobs };
      if (sys.brokerUrl && scrapeBefore) out.commits = commitStats(scrapeBefore, await scrapeMetrics(sys.brokerUrl));
    },
    readings() {
      if (!out) throw new Error('window meter read before its window finished');
      return out;
    },
  };
}
