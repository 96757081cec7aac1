/**
 * npm run bench — every benchmark, one after the other: bench/embedded.ts, then bench/network.ts,
 * each in its own process, each option passed to the one that knows it (HELP below, or
 * `npm run bench -- --help`).
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { benchArgs } from './bench-args.js';

const EMBEDDED = ['seconds', 'batch'] as const;
const NETWORK = ['jobs', 'producers', 'concurrency', 'probes', 'store', 'cpu-prof', 'prefetch'] as const;
const HELP = `npm run bench -- [options]

Every benchmark, one after the other, each in its own process: bench:embedded (a Broker in
process on file:), then bench:network (a broker process, a worker process and 16 producers).
Each option goes to the benchmark that knows it; \`npm run bench:embedded -- --help\` and
\`npm run bench:network -- --help\` say what they do.

  --seconds N, --batch N                      bench:embedded
  --jobs N, --producers N, --concurrency N,
  --probes N, --store URL, --cpu-prof DIR,
  --prefetch N                                bench:network
  --only nolatency|latency|worker|backlog     that embedded scenario only
  --only network|network-throughput|network-latency
                                              the network benchmark only (or one half of it)
  -h, --help                                  this text

  npm run bench -- --seconds 2 --jobs 5000
`;
const { values, usage, integer, positive } = benchArgs('bench', HELP, Object.fromEntries([...EMBEDDED, ...NETWORK, 'only'].map((k) => [k, { type: 'string' as const }])));
// Checked here too, so that a bad number is refused before the first benchmark has run.
if (values.seconds !== undefined) positive(values.seconds, 'seconds');
for (const k of ['batch', 'jobs', 'producers', 'concurrency', 'probes'] as const) if (values[k] !== undefined) integer(values[k], k);
if (values.prefetch !== undefined) integer(values.prefetch, 'prefetch', 0);
const SCENARIOS = ['nolatency', 'latency', 'worker', 'backlog', 'network', 'network-throughput', 'network-latency'];
if (values.only !== undefined && !SCENARIOS.includes(values.only)) usage(`--only takes ${SCENARIOS.join(', ')}; got ${JSON.stringify(values.only)}`);
const flags = (names: readonly string[]) => names.flatMap((k) => (values[k] !== undefined ? [`--${k}`, String(values[k])] : []));
const only = values.only as string | undefined;
const runs: Array<[string, string[]]> = [];
if (only === undefined || !only.startsWith('network')) runs.push(['embedded.ts', [...flags(EMBEDDED), ...(only !== undefined ? ['--only', only] : [])]]);
if (only === undefined || only.startsWith('network')) {
  const half = only === 'network-throughput' ? ['--only', 'throughput'] : only === 'network-latency' ? ['--only', 'latency'] : [];
  runs.push(['network.ts', [...flags(NETWORK), ...half]]);
}

for (const [i, [script, args]] of runs.entries()) {
  if (i > 0) process.stdout.write('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', resolve(import.meta.dirname, script), ...args], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
