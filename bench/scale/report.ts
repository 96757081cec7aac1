/** bench:scale's results as markdown tables and two SVG charts (throughput vs store latency; commit time vs backlog). */
import type { VegaLiteSpec } from '../charts.js';
import { fmt } from './common.js';
import type { ScaleResults } from './run.js';

const row = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
const rule = (n: number) => `|${'---:|'.repeat(n)}`;

export function renderScale(r: ScaleResults): string {
  const out: string[] = ['# bucketq scale limits', ''];
  out.push(`${r.date.slice(0, 16).replace('T', ' ')} UTC — ${r.machine.cores} × ${r.machine.cpu}, Node ${r.machine.node}, ${r.machine.os}. \`${['npm run bench:scale', ...(r.args.length > 0 ? ['--', ...r.args] : [])].join(' ')}\`; one broker process per part on a fresh ${r.storeDescription}.`, '');
  if (r.latency.length > 0) {
    const base = new Map(r.latency.filter((c) => c.latencyMs === 0).map((c) => [c.producers, c.jobsPerSec]));
    out.push('## Workload 1 with injected store latency', '', 'Producers push one job per call; one worker process at concurrency 16 with prefetch 256 (it claims up to 272 jobs per request); `?latency=MS` on the store URL adds MS to every store call.', '');
    out.push(row(['store latency ms', 'producers', 'jobs', 'jobs/s', 'of 0 ms', 'push p50 ms', 'push p99 ms']), rule(7));
    for (const c of r.latency) {
      const b = base.get(c.producers);
      out.push(row([c.latencyMs, c.producers, fmt(c.jobs), fmt(c.jobsPerSec), b ? `${((100 * c.jobsPerSec) / b).toFixed(0)}%` : '–', fmt(c.pushP50, 1), fmt(c.pushP99, 1)]));
    }
    out.push('');
  }
  if (r.backlog.length > 0) {
    out.push('## Backlog', '', 'Pending jobs built with `pushMany` (10,000 per call); then single pushes one at a time, each its own commit.', '');
    out.push(row(['pending jobs', 'build s', 'probes', 'commit p50 ms', 'commit p99 ms', 'queue.json KiB', 'push p50 ms', 'push p99 ms', 'broker RSS MiB', 'broker peak MiB']), rule(10));
    for (const c of r.backlog) {
      out.push(row([fmt(c.pending), fmt(c.buildSeconds, 1), c.probes, fmt(c.commitP50Ms), fmt(c.commitP99Ms), fmt(c.commitMiB * 1024), fmt(c.pushP50Ms, 1), fmt(c.pushP99Ms, 1), fmt(c.rssMiB), fmt(c.peakMiB)]));
    }
    out.push('');
    const t = r.backlog.filter((c) => c.takeover);
    if (t.length > 0) {
      out.push('Takeover: a standby broker process on the same store, running long enough to have probed the leader\'s URL; the leader killed with SIGKILL; a claim sent to the standby every 20 ms until it hands out a job. A standby takes the topic once the dead leader\'s URL refuses connections (docs/operations.md, "Failover"), or once its lease ran out (--lease-ms, default 10 s): "after stale" counts from then, "–" when the job came before.', '');
      out.push(row(['pending jobs', 'lease left at kill ms', 'kill → job ms', 'after stale → job ms']), rule(4));
      for (const c of t) out.push(row([fmt(c.pending), fmt(c.takeover!.leaseLeftMs), fmt(c.takeover!.fromKillMs), c.takeover!.fromStaleMs < 0 ? '–' : fmt(c.takeover!.fromStaleMs)]));
      out.push('');
    }
  }
  if (r.build.length > 0) {
    out.push('## Building a backlog embedded', '', `\`createQueue\` on a fresh ${r.storeDescription}, default options; \`pushMany\` of 10,000 jobs, one call at a time. CPU seconds are this process's (user + system): on a shared machine jobs per CPU second is the steadier figure.`, '');
    out.push(row(['pending jobs', 'seconds', 'jobs/s', 'CPU s', 'jobs per CPU s', 'RSS MiB']), rule(6));
    for (const c of r.build) out.push(row([fmt(c.pending), fmt(c.seconds, 1), fmt(c.jobsPerSec), fmt(c.cpuSeconds, 1), fmt(c.jobsPerCpuSec), fmt(c.rssMiB)]));
    out.push('');
  }
  if (r.topics.length > 0) {
    out.push('## Topics on one broker', '', '64 producer loops over 100 clients (one job per call), all on one topic or one client per topic; pushes only.', '');
    out.push(row(['topics', 'pushes', 'pushes/s', 'push p50 ms', 'push p99 ms']), rule(5));
    for (const c of r.topics) out.push(row([c.topics, fmt(c.pushed), fmt(c.jobsPerSec), fmt(c.pushP50Ms, 1), fmt(c.pushP99Ms, 1)]));
    out.push('');
  }
  if (r.payload.length > 0) {
    out.push('## Payload size', '', 'Workload 1 (16 producers, one worker process at concurrency 16 with prefetch 256); payloads above 64 KiB live in their own objects.', '');
    out.push(row(['payload', 'jobs', 'jobs/s', 'MiB/s', 'push p50 ms', 'push p99 ms']), rule(6));
    const size = (b: number) => (b >= 1048576 ? `${b / 1048576} MiB` : b >= 1024 ? `${b / 1024} KiB` : `${b} B`);
    for (const c of r.payload) out.push(row([size(c.bytes), fmt(c.jobs), fmt(c.jobsPerSec), fmt(c.mibPerSec, 1), fmt(c.pushP50Ms, 1), fmt(c.pushP99Ms, 1)]));
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

export function latencyChart(r: ScaleResults): VegaLiteSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `workload 1 throughput vs store latency (${r.store}, ${r.date.slice(0, 10)}, ${r.machine.cores} × ${r.machine.cpu})`,
    width: 460,
    height: 240,
    data: { values: r.latency.map((c) => ({ latency: c.latencyMs, jobsPerSec: c.jobsPerSec, producers: `${c.producers} producers` })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'latency', type: 'quantitative', title: 'injected store latency, ms' },
      y: { field: 'jobsPerSec', type: 'quantitative', title: 'jobs/s (first push → last ack)' },
      color: { field: 'producers', type: 'nominal', title: null },
    },
  };
}

export function backlogChart(r: ScaleResults): VegaLiteSpec {
  const values = r.backlog.flatMap((c) => [
    { pending: c.pending, ms: c.commitP50Ms, what: 'commit p50' },
    { pending: c.pending, ms: c.pushP50Ms, what: 'push round trip p50' },
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `commit time vs backlog (${r.store}, ${r.date.slice(0, 10)}, ${r.machine.cores} × ${r.machine.cpu})`,
    width: 460,
    height: 240,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'pending', type: 'quantitative', scale: { type: 'log' }, title: 'jobs pending (log)' },
      y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'ms (log)' },
      color: { field: 'what', type: 'nominal', title: null },
    },
  };
}
