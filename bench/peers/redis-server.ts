/**
 * A throwaway redis-server on loopback for the peer benchmarks: Debian's `redis-server`
 * (bench/peers/setup.ts installs it), started on a free port in a temp dir, stopped by the
 * caller. With no extra arguments its default persistence (RDB snapshots, no AOF) is left as it
 * is; `bullmq-fsync` passes `--appendonly yes --appendfsync always`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, stopProcess } from './children.js';
import type { Requirement } from './setup.js';

export interface RedisServer {
  port: number;
  pid: number;
  version: string;
  stop(): Promise<void>;
}

export const REDIS: Requirement = {
  what: 'redis-server',
  debianPackage: 'redis-server',
  present: () => !spawnSync('redis-server', ['--version']).error,
};

/** Starts redis-server with `extraArgs` (e.g. `--appendonly yes`), or says in one line why it cannot. */
export async function startRedis(extraArgs: string[] = []): Promise<RedisServer | string> {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error) return 'redis-server is not installed (apt-get install -y redis-server)';
  const version = /v=(\S+)/.exec(probe.stdout)?.[1] ?? '?';
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'bucketq-peer-redis-'));
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--protected-mode', 'yes', ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out.slice(-300)}`)));
  });
  return {
    port,
    pid: proc.pid!,
    version,
    stop: async () => {
      await stopProcess(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
