/**
 * npm run bench:peers — bucketq beside the queues people would pick instead (issue 7): the four
 * workloads of bench/peers/workloads.ts on bucketq (`file:` and `memory://` stores, one broker
 * process), BullMQ on a throwaway redis-server and pg-boss on a throwaway PostgreSQL cluster, one
 * system after the other in one run on this machine. A system whose server is not installed is
 * skipped with the reason (and the apt-get line).
 *
 *   npm run bench:peers
 *   npm run bench:peers -- --only bucketq-file,bullmq --workloads 1,4
 *   npm run bench:peers -- --jobs 2000        # W1 2,000 jobs; W2/W3 5 × that (default 20,000 → 100,000)
 *   npm run bench:peers -- --json             # the results as JSON on stdout, nothing written
 *   --probes N (W4 single jobs, default 200), --drain-budget-s N (W3, default 180), --no-write
 *   --cpu-prof DIR                            bucketq's broker processes write .cpuprofile files there
 *
 * Writes bench/results/peers-YYYY-MM-DD.md, bench/results/peers.md (the latest) and
 * bench/results/peers.svg unless --json or --no-write.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { bucketqFile } from './bucketq-file.js';
import { bucketqMemory } from './bucketq-memory.js';
import { profileBrokers } from './bucketq.js';
import { bullmq } from './bullmq.js';
import { teardownAll, teardownOnSignals } from './children.js';
import { pgboss } from './pgboss.js';
import { machine, renderMarkdown, ROWS, writeResults, type PeerResults, type RowKey } from './report.js';
import type { SystemAdapter } from './types.js';
import { payloads, setupW1, workload1, workload2, workload3, workload4, type Figure, type W1Setup } from './workloads.js';

const SYSTEMS: SystemAdapter[] = [bucketqFile, bucketqMemory, bullmq, pgboss];

function usage(message: string): never {
  process.stderr.write(`bench:peers: ${message}\n`);
  process.exit(2);
}

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    workloads: { type: 'string', default: '1,2,3,4' },
    jobs: { type: 'string', default: '20000' },
    probes: { type: 'string', default: '200' },
    'drain-budget-s': { type: 'string', default: '180' },
    json: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
  },
});
const positive = (text: string, name: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) usage(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
};
const JOBS = positive(args.jobs, 'jobs');
const BULK = JOBS * 5;
const PROBES = positive(args.probes, 'probes');
const DRAIN_BUDGET_MS = positive(args['drain-budget-s'], 'drain-budget-s') * 1000;
const workloads = new Set(args.workloads.split(',').map((w) => w.trim()));
for (const w of workloads) if (!['1', '2', '3', '4'].includes(w)) usage(`--workloads takes 1,2,3,4; got ${JSON.stringify(w)}`);
const names = args.only?.split(',').map((s) => s.trim());
for (const n of names ?? []) if (!SYSTEMS.some((s) => s.name === n)) usage(`--only: no system ${JSON.stringify(n)}; there are ${SYSTEMS.map((s) => s.name).join(', ')}`);
if (args['cpu-prof'] !== undefined) profileBrokers(resolve(args['cpu-prof']));
const systems = SYSTEMS.filter((s) => !names || names.includes(s.name));

teardownOnSignals();
const log = (s: string) => process.stderr.write(`${s}\n`);
const results: PeerResults = {
  date: new Date().toISOString(),
  machine: machine(),
  sizes: { w1Jobs: JOBS, bulkJobs: BULK, probes: PROBES, drainBudgetS: DRAIN_BUDGET_MS / 1000 },
  systems: [],
  figures: Object.fromEntries(ROWS.map((r) => [r.key, {}])) as PeerResults['figures'],
};

async function runSystem(adapter: SystemAdapter): Promise<void> {
  log(`— ${adapter.name}: starting`);
  const sys = await adapter.start();
  if (typeof sys === 'string') {
    log(`— ${adapter.name}: skipped: ${sys}`);
    results.systems.push({ name: adapter.name, skipped: sys, settings: adapter.settings });
    return;
  }
  results.systems.push({ name: adapter.name, version: sys.version, settings: adapter.settings });
  const put = (key: RowKey, f: Figure) => {
    results.figures[key][adapter.name] = f;
    log(`  ${key}: ${f.value.toFixed(f.value < 100 ? 2 : 0)}${f.note ? ` (${f.note})` : ''}`);
  };
  try {
    let w1: W1Setup | null = null;
    if (workloads.has('1') || workloads.has('4')) w1 = await setupW1(sys, adapter.name);
    if (workloads.has('1')) put('w1', await workload1(w1!, JOBS, Math.min(1000, JOBS)));
    if (workloads.has('4')) {
      const { p50, p99 } = await workload4(w1!, PROBES);
      put('w4p50', p50);
      put('w4p99', p99);
    }
    await w1?.worker.stop();
    if (workloads.has('2')) put('w2', await workload2(sys, 'w3a', BULK));
    if (workloads.has('3')) {
      if (!workloads.has('2')) await sys.pushBulk('w3a', payloads(BULK));
      put('w3x1', await workload3(sys, adapter.name, 'w3a', BULK, 1, DRAIN_BUDGET_MS));
      await sys.pushBulk('w3b', payloads(BULK));
      put('w3x4', await workload3(sys, adapter.name, 'w3b', BULK, 4, DRAIN_BUDGET_MS));
    }
  } finally {
    await sys.stop();
  }
}

try {
  for (const s of systems) await runSystem(s);
} finally {
  await teardownAll();
}

if (args.json) {
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
} else {
  const md = renderMarkdown(results);
  process.stdout.write(md);
  if (!args['no-write']) for (const path of await writeResults(results, md)) log(`wrote ${path}`);
}
