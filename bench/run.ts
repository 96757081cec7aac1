/**
 * npm run bench — every benchmark, one after the other: bench/embedded.ts, then bench/network.ts,
 * each in its own process. Each option goes to the benchmark that knows it:
 *
 *   --seconds N, --batch N                                   embedded
 *   --jobs N, --producers N, --concurrency N, --probes N,
 *   --store URL, --cpu-prof DIR, --prefetch N                network
 *   --only nolatency|latency|worker|backlog                  that embedded scenario only
 *   --only network | network-throughput | network-latency    the network benchmark only (or one half of it)
 *
 *   npm run bench -- --seconds 2 --jobs 5000
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const EMBEDDED = ['seconds', 'batch'] as const;
const NETWORK = ['jobs', 'producers', 'concurrency', 'probes', 'store', 'cpu-prof', 'prefetch'] as const;
const { values } = parseArgs({
  options: Object.fromEntries([...EMBEDDED, ...NETWORK, 'only'].map((k) => [k, { type: 'string' as const }])),
});

const flags = (names: readonly string[]) => names.flatMap((k) => (values[k] !== undefined ? [`--${k}`, String(values[k])] : []));
const only = values.only as string | undefined;
const runs: Array<[string, string[]]> = [];
if (only === undefined || !only.startsWith('network')) runs.push(['embedded.ts', [...flags(EMBEDDED), ...(only !== undefined ? ['--only', only] : [])]]);
if (only === undefined || only.startsWith('network')) {
  const half = only === 'network-throughput' ? ['--only', 'throughput'] : only === 'network-latency' ? ['--only', 'latency'] : [];
  if (only !== undefined && only !== 'network' && half.length === 0) throw new Error(`--only ${only}: the network benchmark has network, network-throughput, network-latency`);
  runs.push(['network.ts', [...flags(NETWORK), ...half]]);
}

for (const [i, [script, args]] of runs.entries()) {
  if (i > 0) process.stdout.write('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', resolve(import.meta.dirname, script), ...args], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
