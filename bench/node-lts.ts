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
import { spawn, spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
/** Set in the run on the LTS: it never starts another (whatever its execPath looks like). */
const ON_LTS = 'BUCKETQ_BENCH_ON_LTS';

/**
 * `runtime` is the --node option: 'lts' (the default) or 'system'; anything else goes to `usage`
 * (the benchmark's own: one line, exit 2), before any install. On 'lts', when this process is not the LTS, this installs it if needed, runs the same command line
 * on it and exits as it did (it never returns; SIGINT and SIGTERM are passed on to it, and its
 * end by a signal is this process's too); otherwise it returns and the benchmark runs here.
 */
export async function onNodeLts(runtime: string | undefined, usage: (message: string) => never, log: (line: string) => void): Promise<void> {
  if (runtime !== undefined && runtime !== 'lts' && runtime !== 'system') usage(`--node takes lts or system, got ${JSON.stringify(runtime)}`);
  if (runtime === 'system' || process.env[ON_LTS] === '1') return;
  const found = spawnSync('bash', [join(ROOT, 'scripts', 'node-versions.sh'), 'bin', 'lts'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const [bin, version] = found.stdout.trim().split('\n');
  if (found.status !== 0 || !bin || !version) {
    log(`could not get the Node LTS (scripts/node-versions.sh); run with --node system to measure on ${process.version}`);
    process.exit(1);
  }
  if (process.version === version) return;
  const node = join(bin, 'node');
  log(`running on the Node LTS, ${version} (${node}); --node system runs on this machine's ${process.version}`);
  // execArgv carries tsx's loader (`npm run` starts the script through the tsx command).
  const child = spawn(node, [...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, [ON_LTS]: '1' } });
  // The child is in this process group, so a Ctrl-C reaches it anyway; a signal sent to this
  // process alone (kill, a supervisor, the tsx command passing one on) is passed on here.
  const pass = (signal: NodeJS.Signals) => () => child.kill(signal);
  process.on('SIGINT', pass('SIGINT')).on('SIGTERM', pass('SIGTERM'));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((done) => {
    child.on('error', (err) => {
      log(`could not start ${node}: ${err.message}`);
      done([1, null]);
    });
    child.on('exit', (c, s) => done([c, s]));
  });
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
  process.exit(code ?? 1);
}
