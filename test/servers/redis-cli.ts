/**
 * Debian's `redis-cli` (package redis-tools), a Redis client bucketq did not write. Installed with
 * apt-get when missing and we are root; otherwise the tests that need it skip with the reason.
 */
import { spawn } from 'node:child_process';
import { aptInstall, onPath } from './apt.js';


let ensured: Promise<string | null> | null = null;

/** null when redis-cli is on the PATH (installing it if needed), else why it is not. */
export function ensureRedisCli(): Promise<string | null> {
  ensured ??= (async () => {
    if (onPath('redis-cli')) return null;
    const failed = await aptInstall(['redis-tools'], {
      what: 'redis-cli (package redis-tools)',
      onStart: () => console.log('[redis-cli] installing redis-tools with apt-get (once per machine)'),
    });
    if (failed) return failed;
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
