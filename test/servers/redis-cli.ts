/**
 * Debian's `redis-cli` (package redis-tools), a Redis client bucketq did not write. Installed with
 * apt-get when missing and we are root; otherwise the tests that need it skip with the reason.
 */
import { spawn, spawnSync } from 'node:child_process';

function onPath(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (err) => resolve({ code: -1, output: err.message }));
    child.on('close', (code) => resolve({ code, output }));
  });
}

let ensured: Promise<string | null> | null = null;

/** null when redis-cli is on the PATH (installing it if needed), else why it is not. */
export function ensureRedisCli(): Promise<string | null> {
  ensured ??= (async () => {
    if (onPath('redis-cli')) return null;
    if (process.getuid?.() !== 0) return 'redis-cli (package redis-tools) is not installed and installing it needs root';
    if (!onPath('apt-get')) return 'redis-cli is not installed and there is no apt-get to install it with';
    console.log('[redis-cli] installing redis-tools with apt-get (once per machine)');
    // Another apt-get (the Ceph harness) may hold the lock: wait for it rather than fail.
    const lock = ['-o', 'DPkg::Lock::Timeout=120'];
    for (const args of [[...lock, 'update', '-qq'], [...lock, 'install', '-y', '-qq', '--no-install-recommends', 'redis-tools']]) {
      const r = await run('apt-get', args);
      if (r.code !== 0) return `apt-get ${args.slice(2).join(' ')} failed (exit ${r.code}): ${r.output.trim().split('\n').slice(-3).join(' | ')}`;
    }
    return onPath('redis-cli') ? null : 'apt-get installed redis-tools but redis-cli is still missing';
  })();
  return ensured;
}

/** Runs `redis-cli ARGS` (stdin optional) to its end. */
export function redisCli(args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (child.stdin) {
      // redis-cli may exit before reading all of it (an AUTH failure): EPIPE then, which the exit code tells.
      child.stdin.on('error', () => {});
      child.stdin.end(stdin);
    }
  });
}
