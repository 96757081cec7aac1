/**
 * A throwaway redis-server on loopback for the peer benchmarks: Debian's `redis-server`
 * (`apt-get install -y redis-server`), started on a free port in a temp dir, its default
 * persistence (RDB snapshots, no AOF) left as it is, stopped by the caller.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, stopProcess } from './children.js';

export interface RedisServer {
  port: number;
  version: string;
  stop(): Promise<void>;
}

/** Starts redis-server, or says in one line why it cannot. */
export async function startRedis(): Promise<RedisServer | string> {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error) return 'redis-server is not installed (apt-get install -y redis-server)';
  const version = /v=(\S+)/.exec(probe.stdout)?.[1] ?? '?';
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'bucketq-peer-redis-'));
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--protected-mode', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    version,
    stop: async () => {
      await stopProcess(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
