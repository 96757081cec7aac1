/** Runs `bucketq` (src/cli/main.ts through tsx) as a child process, the way a user meets it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach } from 'vitest';

export const MAIN = join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');

/** The startup's dashboard line for a broker at `url`: the page, or that this checkout has not built it. */
export function dashboardLine(url: string): string {
  return existsSync(join(import.meta.dirname, '..', 'dist', 'dashboard', 'index.html'))
    ? `dashboard: ${url}/`
    : `dashboard: not built (run npm run build:dashboard; npm start does); ${url}/ answers 503 until then`;
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...process.env, BUCKETQ_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

export interface BrokerProcess {
  child: ChildProcess;
  /** The listening URL from the startup line. */
  url: string;
  stdout: string[];
  stderr: string[];
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /**
   * Resolves with the first stdout line (already seen or to come) that `match` accepts, and when
   * this process received it (Date.now()); rejects if the broker exits first.
   */
  line(match: RegExp | ((line: string) => boolean)): Promise<{ line: string; at: number }>;
}

/**
 * Starts `bucketq broker ARGS` (in `cwd`, default this process's) and resolves once its startup line has named its URL. Its output
 * is the terminal's (BUCKETQ_LOG_FORMAT=pretty: "leading topic T (epoch N)", "drained: ...")
 * unless `env` says otherwise: into a pipe it would be JSON (test/observability/logs.test.ts reads that).
 */
export function startBrokerProcess(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<BrokerProcess> {
  // From another directory `--import tsx` would be looked for there: name this checkout's.
  const tsx = cwd ? import.meta.resolve('tsx') : 'tsx';
  const child = spawn(process.execPath, ['--import', tsx, MAIN, 'broker', ...args], { env: { ...process.env, BUCKETQ_TOKEN: '', BUCKETQ_LOG_FORMAT: 'pretty', ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
  const stdout: string[] = [];
  const stdoutAt: number[] = [];
  const stderr: string[] = [];
  const waiters: Array<{ test: (l: string) => boolean; resolve: (v: { line: string; at: number }) => void }> = [];
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const line = (match: RegExp | ((l: string) => boolean)) => {
    const test = typeof match === 'function' ? match : (l: string) => match.test(l);
    const i = stdout.findIndex(test);
    if (i >= 0) return Promise.resolve({ line: stdout[i]!, at: stdoutAt[i]! });
    return new Promise<{ line: string; at: number }>((resolve, reject) => {
      waiters.push({ test, resolve });
      void exited.then(({ code, signal }) => reject(new Error(`broker exited (${code ?? signal}) before printing the awaited line; stdout:\n${stdout.join('\n')}\nstderr:\n${stderr.join('\n')}`)));
    });
  };
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const at = Date.now();
      stdout.push(l);
      stdoutAt.push(at);
      for (const w of [...waiters]) {
        if (w.test(l)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve({ line: l, at });
        }
      }
      const m = / listening on (\S+) /.exec(l);
      if (m) resolve({ child, url: m[1]!, stdout, stderr, exited, line });
    });
    void exited.then(({ code, signal }) => reject(new Error(`broker exited (${code ?? signal}) before listening: ${stderr.join('\n')}`)));
  });
}

/**
 * For a file whose tests each run `bucketq broker` on a fresh directory store: `dir` is a new
 * temp directory in every test, and the broker a test started with `start` is SIGKILLed after
 * it if it still runs (a test that failed before stopping it), then the directory is removed.
 */
export function brokerPerTest(prefix: string): { readonly dir: string; start(args: string[], env?: NodeJS.ProcessEnv): Promise<BrokerProcess> } {
  let dir = '';
  let proc: BrokerProcess | null = null;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    if (proc && proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
    proc = null;
    await rm(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return dir;
    },
    async start(args, env) {
      proc = await startBrokerProcess(args, env);
      return proc;
    },
  };
}
