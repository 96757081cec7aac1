/**
 * Runs a benchmark on the Node LTS that the project is tested on (scripts/node-versions.sh, the
 * same binary .ci/run installs from the npm registry), unless it already runs there or was told
 * `--node system`. Every process a benchmark starts uses `process.execPath`, so the brokers, the
 * workers and the peers' clients (BullMQ's, pg-boss's) all run on that one Node.
 *
 * Why: a user runs bucketq on a supported Node (package.json's engines: >=22.12), and the machine
 * a benchmark happens to run on may have another one (Node 20, end of life, here). The runtime
 * moves the figures by more than this machine's noise: Node 20 makes an AbortSignal in ~4 µs,
 * Node 22 and 24 in ~0.2 (each of createWorker's jobs gets one), and on 2026-12-07 a one-worker
 * drain's worker process spent 36–38 µs of CPU a job on Node 20 and 17–21 on Node 24.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

/**
 * `runtime` is the --node option, checked by the caller: 'lts' (the default) or 'system'. On 'lts', when this process is
 * not the LTS, this installs it if needed, runs the same command line on it and exits with its
 * status (it never returns); otherwise it returns and the benchmark runs here.
 */
export function onNodeLts(runtime: string | undefined, log: (line: string) => void): void {
  if (runtime === 'system') return;
  const found = spawnSync('bash', [join(ROOT, 'scripts', 'node-versions.sh'), 'bin', 'lts'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (found.status !== 0) {
    log(`could not get the Node LTS (scripts/node-versions.sh); run with --node system to measure on ${process.version}`);
    process.exit(1);
  }
  const node = join(found.stdout.trim(), 'node');
  if (resolve(dirname(process.execPath)) === resolve(dirname(node))) return;
  log(`running on the Node LTS (${node}); --node system runs on this machine's ${process.version}`);
  // execArgv carries tsx's loader (`npm run` starts the script through the tsx command).
  const child = spawnSync(node, [...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}
