/**
 * The peer comparison's results: one row per figure, one column per system, then bucketq's ratio
 * to each peer (bucketq-file / peer, bucketq-memory / peer); as markdown and as an SVG chart.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, platform, release } from 'node:os';
import { join, resolve } from 'node:path';
import { writeSvg, type VegaLiteSpec } from '../charts.js';
import type { Figure } from './workloads.js';

export const RESULTS_DIR = resolve(import.meta.dirname, '../results');

export type RowKey = 'w1' | 'w2' | 'w3x1' | 'w3x4' | 'w4p50' | 'w4p99';

export interface Row {
  key: RowKey;
  label: (r: PeerResults) => string;
  unit: 'jobs/s' | 'ms';
}

const n = (x: number) => x.toLocaleString('en-US');
export const ROWS: Row[] = [
  { key: 'w1', unit: 'jobs/s', label: (r) => `W1 16 producers × 1 job per call, 1 worker process (c=16), ${n(r.sizes.w1Jobs)} jobs` },
  { key: 'w2', unit: 'jobs/s', label: (r) => `W2 bulk push, ${n(r.sizes.bulkJobs)} jobs` },
  { key: 'w3x1', unit: 'jobs/s', label: (r) => `W3 drain ${n(r.sizes.bulkJobs)} backlog, 1 worker process (c=16)` },
  { key: 'w3x4', unit: 'jobs/s', label: (r) => `W3 drain ${n(r.sizes.bulkJobs)} backlog, 4 worker processes (c=16 each)` },
  { key: 'w4p50', unit: 'ms', label: (r) => `W4 push → handler start, idle queue, p50 (${r.sizes.probes} jobs)` },
  { key: 'w4p99', unit: 'ms', label: (r) => `W4 push → handler start, idle queue, p99 (${r.sizes.probes} jobs)` },
];

export interface PeerResults {
  date: string;
  machine: { cpu: string; cores: number; node: string; os: string };
  sizes: { w1Jobs: number; bulkJobs: number; probes: number; drainBudgetS: number };
  systems: Array<{ name: string; version?: string; skipped?: string; settings: Record<string, string> }>;
  figures: Record<RowKey, Record<string, Figure>>;
}

export function machine(): PeerResults['machine'] {
  const c = cpus();
  return { cpu: c[0]?.model.trim() ?? '?', cores: c.length, node: process.version, os: `${platform()} ${release()}` };
}

const BUCKETQ = ['bucketq-file', 'bucketq-memory'];
const PEERS = ['bullmq', 'pgboss'];

function cell(f: Figure | undefined, unit: Row['unit']): string {
  if (!f) return '–';
  const v = unit === 'ms' ? f.value.toFixed(2) : n(Math.round(f.value));
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
  out.push(`${r.date.slice(0, 16).replace('T', ' ')} UTC — ${r.machine.cores} × ${r.machine.cpu}, Node ${r.machine.node}, ${r.machine.os}. \`npm run bench:peers\`; all systems one after the other on the same machine.`, '');
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  out.push(line(['figure', ...ran, ...ratios.map(([b, p]) => `${b} / ${p}`)]));
  out.push(`|---|${[...ran, ...ratios].map(() => '---:|').join('')}`);
  for (const row of ROWS) {
    const f = r.figures[row.key];
    if (Object.keys(f).length === 0) continue;
    out.push(line([`${row.label(r)}, ${row.unit}`, ...ran.map((s) => cell(f[s], row.unit)), ...ratios.map(([b, p]) => ratio(f[b], f[p]))]));
  }
  out.push('', 'Ratios above 1 mean bucketq is faster for jobs/s rows and slower for ms rows.', '');
  out.push('## Settings', '');
  for (const s of r.systems) {
    out.push(`- **${s.name}**${s.version ? ` (${s.version})` : ''}${s.skipped ? `: skipped — ${s.skipped}` : ''}`);
    for (const [k, v] of Object.entries(s.settings)) out.push(`  - ${k}: ${v}`);
  }
  out.push(`- every system: fresh server in throwaway dirs; W1 after ${Math.min(1000, r.sizes.w1Jobs)} warm-up jobs; payload \`{"n": i}\`; worker processes are real child processes started before timing and told "start" when it begins; W3 stops at ${r.sizes.drainBudgetS} s and reports the rate so far`);
  return `${out.join('\n')}\n`;
}

const SHORT: Record<RowKey, string> = {
  w1: 'W1 one job per call',
  w2: 'W2 bulk push',
  w3x1: 'W3 drain, 1 worker',
  w3x4: 'W3 drain, 4 workers',
  w4p50: 'W4 latency p50',
  w4p99: 'W4 latency p99',
};

/** One small bar chart per figure (each with its own y scale: the figures differ by orders of magnitude). */
export function chartSpec(r: PeerResults): VegaLiteSpec {
  const values = ROWS.flatMap((row) => Object.entries(r.figures[row.key]).map(([system, f]) => ({ figure: `${SHORT[row.key]} (${row.unit})`, system, value: f.value })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `bench:peers ${r.date.slice(0, 10)}, ${r.machine.cores} × ${r.machine.cpu}, Node ${r.machine.node} (jobs/s: higher is better; ms: lower is better)`,
    data: { values },
    facet: { field: 'figure', type: 'nominal', title: null, sort: ROWS.map((row) => `${SHORT[row.key]} (${row.unit})`) },
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
