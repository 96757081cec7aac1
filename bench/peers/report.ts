/**
 * The peer comparison's results: one row per figure, one column per system, then bucketq's ratio
 * to each peer (bucketq-file / peer, bucketq-memory / peer); then the bucketq brokers' commits
 * during workload 1 and, with --strace, their syscalls per commit (bench/peers/report-tables.ts);
 * as markdown and as an SVG chart.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, platform, release } from 'node:os';
import { join, resolve } from 'node:path';
import { writeSvg, type VegaLiteSpec } from '../charts.js';
import { commitsTable, straceTable, type CommitWindow, type CommitWindowName, type StraceResult } from './report-tables.js';
import type { Figure } from './workloads.js';

export const RESULTS_DIR = resolve(import.meta.dirname, '../results');

export type RowKey = 'w1' | 'w1i' | 'w2' | 'w3x1' | 'w3x4' | 'w4p50' | 'w4p99' | 'cpuW1' | 'cpuW1i' | 'cpuW3x1' | 'cpuW3x4';

export interface Row {
  key: RowKey;
  label: (r: PeerResults) => string;
  unit: 'jobs/s' | 'ms' | 'µs/job';
  /** Label in the chart. */
  short: string;
}

const n = (x: number) => x.toLocaleString('en-US');
const CPU = 'server CPU per job (bucketq broker / redis-server process)';
export const ROWS: Row[] = [
  { key: 'w1', unit: 'jobs/s', short: 'W1 one job per call', label: (r) => `W1 16 producers in one process sharing one client object × 1 job per call, 1 worker process (c=16), ${n(r.sizes.w1Jobs)} jobs` },
  { key: 'w1i', unit: 'jobs/s', short: 'W1i independent producers', label: (r) => `W1i 16 independent producers (one connection each) × 1 job per request, same worker, ${n(r.sizes.w1Jobs)} jobs` },
  { key: 'w2', unit: 'jobs/s', short: 'W2 bulk push', label: (r) => `W2 bulk push, ${n(r.sizes.bulkJobs)} jobs` },
  { key: 'w3x1', unit: 'jobs/s', short: 'W3 drain, 1 worker', label: (r) => `W3 drain ${n(r.sizes.bulkJobs)} backlog, 1 worker process (c=16)` },
  { key: 'w3x4', unit: 'jobs/s', short: 'W3 drain, 4 workers', label: (r) => `W3 drain ${n(r.sizes.bulkJobs)} backlog, 4 worker processes (c=16 each)` },
  { key: 'w4p50', unit: 'ms', short: 'W4 latency p50', label: (r) => `W4 push → handler start, idle queue, p50 (${r.sizes.probes} jobs)` },
  { key: 'w4p99', unit: 'ms', short: 'W4 latency p99', label: (r) => `W4 push → handler start, idle queue, p99 (${r.sizes.probes} jobs)` },
  { key: 'cpuW1', unit: 'µs/job', short: 'CPU per job, W1', label: () => `W1: ${CPU}` },
  { key: 'cpuW1i', unit: 'µs/job', short: 'CPU per job, W1i', label: () => `W1i: ${CPU}` },
  { key: 'cpuW3x1', unit: 'µs/job', short: 'CPU per job, W3 1 worker', label: () => `W3 1 worker process: ${CPU}` },
  { key: 'cpuW3x4', unit: 'µs/job', short: 'CPU per job, W3 4 workers', label: () => `W3 4 worker processes: ${CPU}` },
];

export interface SystemEntry {
  name: string;
  version?: string;
  skipped?: string;
  /** One line of the options that set it apart (the report's header). */
  options: string;
  settings: Record<string, string>;
  /** Figures it does not give, and why: "W1i: …". */
  unmeasured?: string[];
}

export interface PeerResults {
  date: string;
  machine: { cpu: string; cores: number; node: string; os: string };
  /** The arguments the run was given (after `npm run bench:peers --`). */
  args: string[];
  sizes: { w1Jobs: number; bulkJobs: number; probes: number; drainBudgetS: number };
  systems: SystemEntry[];
  figures: Record<RowKey, Record<string, Figure>>;
  /** A bucketq broker's commits during W1, W1i and W3, by system. */
  commits: Record<string, Partial<Record<CommitWindowName, CommitWindow>>>;
  /** --strace: a bucketq broker's syscalls during an extra W1 pass, by system. */
  strace: Record<string, StraceResult>;
}

export function machine(): PeerResults['machine'] {
  const c = cpus();
  return { cpu: c[0]?.model.trim() ?? '?', cores: c.length, node: process.version, os: `${platform()} ${release()}` };
}

const BUCKETQ = ['bucketq-file', 'bucketq-memory'];
const PEERS = ['bullmq', 'bullmq-fsync', 'pgboss'];

function cell(f: Figure | undefined, unit: Row['unit']): string {
  if (!f) return '–';
  const v = unit === 'ms' ? f.value.toFixed(2) : unit === 'µs/job' && f.value < 100 ? f.value.toFixed(1) : n(Math.round(f.value));
  return f.note ? `${v} (${f.note})` : v;
}

function ratio(a: Figure | undefined, b: Figure | undefined): string {
  if (!a || !b || !(b.value > 0)) return '–';
  return `${(a.value / b.value).toFixed(2)}×`;
}

export function renderMarkdown(r: PeerResults): string {
  const ran = r.systems.filter((s) => !s.skipped).map((s) => s.name);
  const ratios = BUCKETQ.filter((b) => ran.includes(b)).flatMap((b) => PEERS.filter((p) => ran.includes(p)).map((p) => [b, p] as const));
  const out: string[] = [];
  out.push(`# bucketq beside BullMQ and pg-boss`, '');
  const command = ['npm run bench:peers', ...(r.args.length > 0 ? ['--', ...r.args] : [])].join(' ');
  out.push(`${r.date.slice(0, 16).replace('T', ' ')} UTC — ${r.machine.cores} × ${r.machine.cpu}, Node ${r.machine.node}, ${r.machine.os}. \`${command}\`; all systems one after the other on the same machine.`, '');
  for (const s of r.systems) out.push(`- **${s.name}**: ${s.skipped ? `skipped — ${s.skipped}` : s.options}`);
  out.push('');
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  out.push(line(['figure', ...ran, ...ratios.map(([b, p]) => `${b} / ${p}`)]));
  out.push(`|---|${[...ran, ...ratios].map(() => '---:|').join('')}`);
  for (const row of ROWS) {
    const f = r.figures[row.key];
    if (Object.keys(f).length === 0) continue;
    out.push(line([`${row.label(r)}, ${row.unit}`, ...ran.map((s) => cell(f[s], row.unit)), ...ratios.map(([b, p]) => ratio(f[b], f[p]))]));
  }
  out.push('', 'Ratios are bucketq ÷ peer: above 1 bucketq is faster on jobs/s rows, slower on ms rows and spends more server CPU per job on µs/job rows. CPU per job is the server process\'s utime+stime over the timed window (from /proc/PID/stat, 10 ms ticks) ÷ jobs completed in it.', '');
  const unmeasured = r.systems.flatMap((s) => (s.unmeasured ?? []).map((u) => `- ${s.name}: ${u}`));
  if (unmeasured.length > 0) out.push(...unmeasured, '');
  out.push(...commitsTable(r.commits), ...straceTable(r.strace));
  out.push('## Settings', '');
  for (const s of r.systems) {
    out.push(`- **${s.name}**${s.version ? ` (${s.version})` : ''}${s.skipped ? `: skipped — ${s.skipped}` : ''}`);
    for (const [k, v] of Object.entries(s.settings)) out.push(`  - ${k}: ${v}`);
  }
  out.push(`- every system: fresh server in throwaway dirs; W1 and W1i each after ${Math.min(1000, r.sizes.w1Jobs)} warm-up jobs of their own producers; payload \`{"n": i}\`; worker processes are real child processes started before timing and told "start" when it begins; W3 stops at ${r.sizes.drainBudgetS} s and reports the rate so far`);
  return `${out.join('\n')}\n`;
}

/** One small bar chart per figure (each with its own y scale: the figures differ by orders of magnitude). */
export function chartSpec(r: PeerResults): VegaLiteSpec {
  const title = (row: Row) => `${row.short} (${row.unit})`;
  const values = ROWS.flatMap((row) => Object.entries(r.figures[row.key]).map(([system, f]) => ({ figure: title(row), system, value: f.value })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `bench:peers ${r.date.slice(0, 10)}, ${r.machine.cores} × ${r.machine.cpu}, Node ${r.machine.node} (jobs/s: higher is better; ms, µs/job: lower is better)`,
    data: { values },
    facet: { field: 'figure', type: 'nominal', title: null, sort: ROWS.map(title) },
    columns: 3,
    spec: {
      width: 200,
      height: 160,
      layer: [
        { mark: { type: 'bar' } },
        { mark: { type: 'text', dy: -6, fontSize: 10 }, encoding: { text: { field: 'value', type: 'quantitative', format: ',.3~r' } } },
      ],
      encoding: {
        x: { field: 'system', type: 'nominal', title: null, axis: { labelAngle: -30 } },
        y: { field: 'value', type: 'quantitative', title: null },
        color: { field: 'system', type: 'nominal', legend: null },
      },
    },
    resolve: { scale: { y: 'independent' } },
  } as VegaLiteSpec;
}

/** Writes peers-DATE.md, peers.md and peers.svg; returns their paths. */
export async function writeResults(r: PeerResults, markdown: string): Promise<string[]> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const dated = join(RESULTS_DIR, `peers-${r.date.slice(0, 10)}.md`);
  const latest = join(RESULTS_DIR, 'peers.md');
  await writeFile(dated, markdown);
  await writeFile(latest, markdown);
  return [dated, latest, await writeSvg(join(RESULTS_DIR, 'peers.svg'), chartSpec(r))];
}
