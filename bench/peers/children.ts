/**
 * The runner's side of bench/peers/worker-protocol.ts, and the teardown of everything the run
 * started: every child process and server registers here and is stopped on the way out, also
 * after a failure or Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = resolve(import.meta.dirname, '../..');

const cleanups = new Set<() => Promise<void>>();

/** Runs `fn` at teardown (or earlier, when the returned function is called). */
export function onTeardown(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | null = null;
  const once = (): Promise<void> => {
    cleanups.delete(once);
    done ??= fn().catch((e: unknown) => void process.stderr.write(`teardown: ${String(e)}\n`));
    return done;
  };
  cleanups.add(once);
  return once;
}

/** Stops everything still registered, newest first. */
export async function teardownAll(): Promise<void> {
  for (const fn of [...cleanups].reverse()) await fn();
}

/** Ctrl-C (or SIGTERM) stops everything registered, then exits. For runners, not worker processes. */
export function teardownOnSignals(): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // A second signal while the servers stop (a Ctrl-C both from the terminal and passed on by a
    // parent, bench/node-lts.ts, or pressed twice) must not end this process half way: the
    // servers and workers it has not stopped yet would be left running.
    process.on(signal, () => {
      if (stopping) return void process.stderr.write(`${signal}: still stopping servers and workers\n`);
      stopping = true;
      process.stderr.write(`\n${signal}: stopping servers and workers\n`);
      void teardownAll().finally(() => process.exit(130));
    });
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolvePort(port));
    });
    s.on('error', reject);
  });
}

/** SIGTERM, then SIGKILL when the process has not exited after `graceMs`. */
export async function stopProcess(proc: ChildProcess, graceMs = 15_000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** A worker process speaking bench/peers/worker-protocol.ts. */
export interface WorkerProcess {
  pid: number | undefined;
  readonly completed: number;
  readonly lastAckAt: number;
  /** Tells the worker to begin consuming. */
  start(): void;
  /** Resolves once `ok()` holds, checked after every message; rejects after `timeoutMs` or when the worker exits. */
  until(ok: () => boolean, timeoutMs: number): Promise<void>;
  /** Calls `fn` after every message and at exit, until the returned function is called. */
  onChange(fn: () => void): () => void;
  /** Why the process exited, once it has. */
  readonly exited: string | null;
  /** When the handler of probe `id` started, once it has. */
  probeStart(id: string): number | undefined;
  stop(): Promise<void>;
}

/** Resolves once `ok()` holds, checked after any of `workers`' messages; rejects when one exits first or after `timeoutMs`. */
export function untilAny(workers: WorkerProcess[], ok: () => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolveOk, reject) => {
    const offs: Array<() => void> = [];
    const timer = setTimeout(() => finish(new Error(`workers: condition not met within ${timeoutMs} ms`)), timeoutMs);
    function finish(error?: Error) {
      clearTimeout(timer);
      for (const off of offs) off();
      if (error) reject(error);
      else resolveOk();
    }
    const check = () => {
      const dead = workers.find((w) => w.exited !== null);
      if (ok()) finish();
      else if (dead) finish(new Error(`a worker ${dead.exited}`));
    };
    for (const w of workers) offs.push(w.onChange(check));
    check();
  });
}

export async function spawnWorker(name: string, argv: string[]): Promise<WorkerProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', ...argv], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const stop = onTeardown(() => stopProcess(proc));
  proc.stdin!.on('error', () => {});
  createInterface({ input: proc.stderr! }).on('line', (l) => process.stderr.write(`[${name}] ${l}\n`));
  let ready = false;
  let completed = 0;
  let lastAckAt = 0;
  let exitedWith: string | null = null;
  const probes = new Map<string, number>();
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let m: { ready?: boolean; completed?: number; lastAckAt?: number; probe?: string; startedAt?: number };
    try {
      m = JSON.parse(line) as typeof m;
    } catch {
      return; // a library's own log line
    }
    if (m.ready === true) ready = true;
    if (m.completed !== undefined) {
      completed = m.completed;
      lastAckAt = m.lastAckAt ?? 0;
    }
    if (m.probe !== undefined && m.startedAt !== undefined) probes.set(m.probe, m.startedAt);
    wake();
  });
  proc.once('exit', (code, signal) => {
    exitedWith = `exited (${code ?? signal})`;
    wake();
  });
  const until = (ok: () => boolean, timeoutMs: number) =>
    new Promise<void>((resolveOk, reject) => {
      const timer = setTimeout(() => finish(new Error(`${name}: condition not met within ${timeoutMs} ms (completed ${completed})`)), timeoutMs);
      const check = () => {
        if (ok()) finish();
        else if (exitedWith !== null) finish(new Error(`${name} ${exitedWith}`));
      };
      function finish(error?: Error) {
        clearTimeout(timer);
        waiters.delete(check);
        if (error) reject(error);
        else resolveOk();
      }
      waiters.add(check);
      check();
    });
  await until(() => ready, 60_000);
  return {
    pid: proc.pid,
    get completed() {
      return completed;
    },
    get lastAckAt() {
      return lastAckAt;
    },
    start: () => proc.stdin!.write('start\n'),
    until,
    onChange(fn) {
      waiters.add(fn);
      return () => waiters.delete(fn);
    },
    get exited() {
      return exitedWith;
    },
    probeStart: (id) => probes.get(id),
    stop,
  };
}
