/**
 * A throwaway PostgreSQL cluster on loopback for the pg-boss peer benchmark: Debian's server
 * binaries (package `postgresql`, installed by bench/peers/setup.ts; found under
 * /usr/lib/postgresql/VERSION/bin), `initdb` into a temp dir, `postgres` on a free port, trust auth for loopback only. Durability
 * settings are left at their defaults (fsync on, synchronous_commit on: one WAL flush per
 * committed transaction, as bucketq's file: store does one fsync per commit).
 *
 * PostgreSQL refuses to run as root: when this process is root, the cluster's dir is handed to
 * the `postgres` user (created by the Debian package) and both binaries run as that user.
 */
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { freePort, stopProcess } from './children.js';
import type { Requirement } from './setup.js';

export interface PostgresServer {
  port: number;
  version: string;
  connectionString: string;
  stop(): Promise<void>;
}

const APT = 'apt-get install -y postgresql';

function findBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).filter((v) => existsSync(path.join(base, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(base, versions[0], 'bin') : null;
}

export const POSTGRES: Requirement = { what: 'PostgreSQL server binaries', debianPackage: 'postgresql', present: () => findBinDir() !== null };

/** uid/gid of the `postgres` user when we are root (postgres will not run as root), else nothing. */
function runAs(): { uid: number; gid: number } | string | null {
  if (userInfo().uid !== 0) return null;
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (id.status !== 0 || gid.status !== 0) return 'running as root and there is no `postgres` user to run the server as';
  return { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * Whether the server takes sessions: `pg_isready` exits 0 only once startup is over (a TCP accept
 * alone comes earlier: connecting then fails with "the database system is starting up").
 */
async function ready(bin: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = spawn(path.join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port), '-t', '2'], { stdio: 'ignore' });
    probe.once('error', () => resolve(false));
    probe.once('exit', (code) => resolve(code === 0));
  });
}

/** Starts a cluster, or says in one line why it cannot. */
export async function startPostgres(): Promise<PostgresServer | string> {
  const bin = findBinDir();
  if (!bin) return `PostgreSQL server binaries are not installed (${APT})`;
  const user = runAs();
  if (typeof user === 'string') return user;
  const as: SpawnOptions = user ?? {};
  const dir = mkdtempSync(path.join(tmpdir(), 'bucketq-peer-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = path.join(dir, 'data');
  const init = spawnSync(path.join(bin, 'initdb'), ['-D', data, '-U', 'bench', '--auth=trust', '-E', 'UTF8', '--no-instructions'], { ...as, encoding: 'utf8' });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return `initdb failed: ${(init.stderr || init.stdout || String(init.error)).trim().split('\n').slice(-1)[0]}`;
  }
  const version = /\d+(\.\d+)*/.exec(spawnSync(path.join(bin, 'postgres'), ['--version'], { encoding: 'utf8' }).stdout)?.[0] ?? '?';
  const port = await freePort();
  const proc = spawn(path.join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'], { ...as, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-2000)));
  const stop = async () => {
    await stopProcess(proc, 20_000);
    rmSync(dir, { recursive: true, force: true });
  };
  // An external process: ask pg_isready for up to 30 s.
  const deadline = Date.now() + 30_000;
  while (!(await ready(bin, port))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      return `postgres did not start: ${log.trim().split('\n').slice(-1)[0] ?? ''}`;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, version, connectionString: `postgres://bench@127.0.0.1:${port}/postgres`, stop };
}
