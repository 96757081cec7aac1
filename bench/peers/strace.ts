/**
 * `strace -c -f -p PID` around a window of the peer benchmark (`--strace`): the syscalls a server
 * process made, all its threads counted (a Node broker's file I/O runs on libuv's threadpool).
 * strace slows every syscall down, so the window it watches is a pass of its own, never a timed
 * figure of the main table.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { onTeardown, stopProcess } from './children.js';
import type { Requirement } from './setup.js';

export const STRACE = '/usr/bin/strace';

export interface SyscallCount {
  name: string;
  calls: number;
  errors: number;
}

/** Why strace cannot be used here, or null when it can. */
export function straceMissing(): string | null {
  const probe = spawnSync(STRACE, ['-V'], { encoding: 'utf8' });
  return probe.error ? `${STRACE} is not installed (apt-get install -y strace)` : null;
}

/**
 * The table of `strace -c -U calls,errors,name -S calls`, busiest first, without its total line:
 *
 *        calls    errors syscall
 *    --------- --------- ----------------
 *           40           epoll_pwait
 *           20         3 openat
 */
export function parseStraceSummary(text: string): SyscallCount[] {
  const out: SyscallCount[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim().split(/\s+/);
    if (t.length < 2 || !/^\d+$/.test(t[0]!)) continue;
    const name = t[t.length - 1]!;
    if (name === 'total') continue;
    out.push({ name, calls: Number(t[0]), errors: t.length === 3 ? Number(t[1]) : 0 });
  }
  return out.sort((a, b) => b.calls - a.calls);
}

function threadCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return 1;
  }
}

export interface StraceSession {
  /** Detaches strace and returns what it counted. */
  finish(): Promise<SyscallCount[]>;
}

/** Attaches `strace -c -f` to `pid`; resolves once every thread is attached. */
export async function attachStrace(pid: number): Promise<StraceSession> {
  const dir = mkdtempSync(join(tmpdir(), 'bucketq-peer-strace-'));
  const file = join(dir, 'summary.txt');
  const proc = spawn(STRACE, ['-c', '-f', '-U', 'calls,errors,name', '-S', 'calls', '-o', file, '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  // SIGINT is what makes strace detach and write its summary; SIGTERM at teardown does the same.
  const stop = onTeardown(() => stopProcess(proc, 10_000));
  let said = '';
  let attached = 0;
  const threads = threadCount(pid);
  await new Promise<void>((resolve, reject) => {
    // strace 6 says "Process N attached with K threads" once all of them are; older ones say
    // "Process T attached" once per thread.
    createInterface({ input: proc.stderr }).on('line', (l) => {
      said = l;
      if (/attached with \d+ threads/.test(l) || (/ attached$/.test(l) && ++attached >= threads)) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`strace exited (${code}) before attaching: ${said}`)));
  });
  return {
    async finish() {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGINT');
      await exited;
      await stop();
      try {
        return parseStraceSummary(readFileSync(file, 'utf8'));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** For bench/peers/setup.ts: --strace needs the Debian package `strace`. */
export const STRACE_REQUIREMENT: Requirement = { what: 'strace', debianPackage: 'strace', present: () => straceMissing() === null };
