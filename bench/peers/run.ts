/**
 * npm run bench:peers — bucketq beside the queues people would pick instead (issues 7 and 15):
 * the workloads of bench/peers/workloads.ts on bucketq (`file:` and `memory://` stores, one broker
 * process), BullMQ on a throwaway redis-server (default persistence, and with every write
 * fsynced: bullmq-fsync) and pg-boss on a throwaway PostgreSQL cluster, one system after the other
 * in one run on this machine. Missing servers are installed first when we are root on Debian
 * (bench/peers/setup.ts); otherwise a system whose server is not installed is skipped with the
 * reason (and the apt-get line).
 *
 *   npm run bench:peers
 *   npm run bench:peers -- --only bucketq-file,bullmq,bullmq-fsync --workloads 1,1i
 *   npm run bench:peers -- --jobs 2000        # W1 2,000 jobs; W2/W3 5 × that (default 20,000 → 100,000)
 *   npm run bench:peers -- --json             # the results as JSON on stdout, nothing written
 *   npm run bench:peers -- --help
 *
 * Writes bench/results/peers-YYYY-MM-DD.md, bench/results/peers.md (the latest) and
 * bench/results/peers.svg unless --json or --no-write.
 */
import { resolve } from 'node:path';
import { bucketqAdapter, profileBrokers } from './bucketq.js';
import { bullmq, bullmqFsync } from './bullmq.js';
import { teardownAll, teardownOnSignals } from './children.js';
import { pgboss } from './pgboss.js';
import { machine, renderMarkdown, ROWS, writeResults, type PeerResults } from './report.js';
import { runSystem } from './run-system.js';
import { ensureInstalled } from './setup.js';
import { STRACE_REQUIREMENT } from './strace.js';
import type { SystemAdapter } from './types.js';
import { onNodeLts } from '../node-lts.js';
import { benchArgs } from '../bench-args.js';

const HELP = `npm run bench:peers -- [options]

bucketq (file: and memory:// stores) beside BullMQ (Redis default persistence, and
bullmq-fsync: appendonly yes, appendfsync always) and pg-boss, one system after the other.

  --only SYSTEM,…           bucketq-file, bucketq-memory, bullmq, bullmq-fsync, pgboss (default: all)
  --workloads 1,1i,2,3,4    which workloads (default: all)
                              1   16 producers in one process sharing one client, one job per call
                              1i  16 independent producers, one connection each, one job per request
                              2   bulk push   3  drain a backlog with 1, then 4 worker processes
                              4   push → handler start on an idle queue, p50/p99
  --jobs N                  W1/W1i jobs (default 20000); W2/W3 get 5 × N
  --probes N                W4 single jobs (default 200)
  --drain-budget-s N        W3 stops after N s and reports its rate so far (default 180)
  --bucketq-prefetch N      createWorker's prefetch for bucketq's workers (default: left out, i.e. 'auto';
                            the runs before issue 15 used 256)
  --bucketq-broker-flag=FLAG
                            a flag for every \`bucketq broker\` the run starts (repeatable), e.g.
                            --bucketq-broker-flag=--backlog=windowJobs=256,lowWater=128
  --bucketq-client-per-producer
                            W1's bucketq producers get one createClient each (the runs before
                            issue 15) instead of sharing one
  --strace                  after W1, an extra W1 pass (min(N, 5000) jobs) with strace -c -f attached
                            to each bucketq broker: syscalls per commit (needs /usr/bin/strace)
  --no-install              do not apt-get install missing servers (redis-server, postgresql, strace)
  --cpu-prof DIR            bucketq's broker processes write .cpuprofile files there
  --node lts|system         the Node every process of the run uses: lts (default), the LTS
                            .ci/run tests on (scripts/node-versions.sh; installed from the npm
                            registry on first use), or system, the node that started this
  --json                    the results as JSON on stdout, nothing written
  --no-write                print the markdown, write no files
  -h, --help                this text

Writes bench/results/peers.md, a dated copy and bench/results/peers.svg.
`;

const { values: args, usage, integer } = benchArgs('bench:peers', HELP, {
  only: { type: 'string' },
  workloads: { type: 'string', default: '1,1i,2,3,4' },
  jobs: { type: 'string', default: '20000' },
  probes: { type: 'string', default: '200' },
  'drain-budget-s': { type: 'string', default: '180' },
  'bucketq-prefetch': { type: 'string' },
  'bucketq-client-per-producer': { type: 'boolean', default: false },
  'bucketq-broker-flag': { type: 'string', multiple: true },
  strace: { type: 'boolean', default: false },
  'no-install': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  'no-write': { type: 'boolean', default: false },
  'cpu-prof': { type: 'string' },
  node: { type: 'string' },
});
const JOBS = integer(args.jobs, 'jobs', 1);
const workloads = new Set(args.workloads.split(',').map((w) => w.trim()));
for (const w of workloads) if (!['1', '1i', '2', '3', '4'].includes(w)) usage(`--workloads takes 1,1i,2,3,4; got ${JSON.stringify(w)}`);
const bucketqOptions = {
  prefetch: args['bucketq-prefetch'] === undefined ? undefined : integer(args['bucketq-prefetch'], 'bucketq-prefetch', 0),
  clientPerProducer: args['bucketq-client-per-producer'],
  brokerFlags: args['bucketq-broker-flag'] ?? [],
};
const SYSTEMS: SystemAdapter[] = [bucketqAdapter('file', bucketqOptions), bucketqAdapter('memory', bucketqOptions), bullmq, bullmqFsync, pgboss];
const names = args.only?.split(',').map((s) => s.trim());
for (const n of names ?? []) if (!SYSTEMS.some((s) => s.name === n)) usage(`--only: no system ${JSON.stringify(n)}; there are ${SYSTEMS.map((s) => s.name).join(', ')}`);
if (args['cpu-prof'] !== undefined) profileBrokers(resolve(args['cpu-prof']));
const systems = SYSTEMS.filter((s) => !names || names.includes(s.name));
const config = {
  workloads,
  jobs: JOBS,
  bulkJobs: JOBS * 5,
  probes: integer(args.probes, 'probes', 1),
  drainBudgetMs: integer(args['drain-budget-s'], 'drain-budget-s', 1) * 1000,
  straceJobs: args.strace ? Math.min(JOBS, 5000) : 0,
};

// After every check of the arguments, so a bad one is refused before any install.
await onNodeLts(args.node, usage, (line) => process.stderr.write(`bench:peers: ${line}\n`));
teardownOnSignals();
const log = (s: string) => process.stderr.write(`${s}\n`);
if (!args['no-install']) ensureInstalled([...systems.flatMap((s) => s.requires), ...(args.strace ? [STRACE_REQUIREMENT] : [])], log);
const results: PeerResults = {
  date: new Date().toISOString(),
  machine: machine(),
  args: process.argv.slice(2),
  sizes: { w1Jobs: JOBS, bulkJobs: config.bulkJobs, probes: config.probes, drainBudgetS: config.drainBudgetMs / 1000 },
  systems: [],
  figures: Object.fromEntries(ROWS.map((r) => [r.key, {}])) as PeerResults['figures'],
  commits: {},
  strace: {},
};

try {
  for (const s of systems) await runSystem(s, config, results, log);
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
