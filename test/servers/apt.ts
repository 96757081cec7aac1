/**
 * Installing a Debian package a test server needs, shared by the Ceph, redis-cli and chromium
 * harnesses: the suite runs as root on a fresh CI machine, so what is missing is installed
 * rather than left to a hand step; elsewhere the caller gets the reason and its tests skip.
 */
import { spawn, spawnSync } from 'node:child_process';

export function onPath(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

/** Runs CMD ARGS to its end; never rejects (a spawn failure is code -1 with the error as output). */
export function runToEnd(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (err) => resolve({ code: -1, output: err.message }));
    child.on('close', (code) => resolve({ code, output }));
  });
}

export interface AptInstallOptions {
  /** Named in the reasons returned, e.g. "Ceph" or "redis-cli (package redis-tools)". */
  what: string;
  /** Also install the packages' Recommends (Ceph's daemons want theirs); default false. */
  recommends?: boolean;
  /** Called once the install really starts (after the root and apt-get checks), to say it may take a while. */
  onStart?: () => void;
}

/**
 * `apt-get update` then `apt-get install PACKAGES`. Resolves to null when both succeeded, else
 * the reason nothing could be installed (not root, no apt-get, apt-get's last lines).
 */
export async function aptInstall(packages: string[], options: AptInstallOptions): Promise<string | null> {
  if (process.getuid?.() !== 0) return `${options.what} is not installed and installing it needs root`;
  if (!onPath('apt-get')) return `${options.what} is not installed and there is no apt-get to install it with`;
  options.onStart?.();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Another harness's apt-get (they start in parallel) may hold the lock: wait for it rather than fail.
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  const install = ['install', '-y', '-qq', ...(options.recommends ? [] : ['--no-install-recommends']), ...packages];
  for (const args of [[...lock, 'update', '-qq'], [...lock, ...install]]) {
    const r = await runToEnd('apt-get', args, env);
    if (r.code !== 0) return `apt-get ${args.slice(lock.length).join(' ')} failed (exit ${r.code}): ${r.output.trim().split('\n').slice(-3).join(' | ')}`;
  }
  return null;
}
