/**
 * A real S3 server for tests and benchmarks: Ceph's radosgw as a throw-away single-node cluster.
 *
 * Why Ceph: the fakes (s3rver, fauxqs, ...) ignore conditional headers, and MinIO is not in
 * Debian. radosgw from Debian's packages honours If-Match / If-None-Match on PutObject, so the
 * S3 driver's compare-and-swap is proven against a server that really enforces it.
 *
 * Layout: one monitor, one OSD on the `memstore` object store (RAM, nothing on disk but logs),
 * pools of size 1, cephx off, the beast frontend on 127.0.0.1 at a free port, one S3 user made
 * with radosgw-admin and one bucket. Everything lives in a mktemp directory and every daemon runs
 * in the foreground as our child, so stop() kills exactly them (by pid) and removes the directory.
 *
 * The Debian packages are installed when missing (CI runs the suite as root on a fresh machine);
 * when that is impossible {@link ensureCeph} says why and the S3 tests skip with that reason.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { freePort } from '../client/proxy.js';
import { aptInstall, onPath, runToEnd } from './apt.js';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface S3Server {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  /** Kills the daemons and removes their directory. Idempotent. */
  stop(): Promise<void>;
}

const PACKAGES = ['ceph-mon', 'ceph-osd', 'radosgw', 'ceph-common'];
const BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'monmaptool'];

/** Installs Ceph from Debian's packages if needed. Resolves to null when ready, else the reason it cannot be. */
export async function ensureCeph(log: (line: string) => void = () => {}): Promise<string | null> {
  if (BINARIES.every(onPath)) return null;
  const failed = await aptInstall(PACKAGES, {
    what: `Ceph (${PACKAGES.join(', ')})`,
    recommends: true,
    onStart: () => log(`installing ${PACKAGES.join(' ')} with apt-get (about 20 s, once per machine)`),
  });
  if (failed) return failed;
  const missing = BINARIES.filter((b) => !onPath(b));
  return missing.length === 0 ? null : `apt-get installed Ceph but ${missing.join(', ')} is still missing`;
}

async function must(cmd: string, args: string[]): Promise<string> {
  const { code, output } = await runToEnd(cmd, args);
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${code}): ${output.trim()}`);
  return output;
}

function config(dir: string, fsid: string, monPort: number, rgwPort: number, memstoreBytes: number): string {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
# Without cephx a "secure" connection mode cannot be negotiated; radosgw asks for it by default.
ms mon client mode = crc
keyring = /dev/null
osd objectstore = memstore
memstore device bytes = ${memstoreBytes}
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd crush chooseleaf type = 0
run dir = ${dir}/run
log file = ${dir}/log/$name.log
admin socket = ${dir}/run/$name.asok
mon data = ${dir}/mon/$id
osd data = ${dir}/osd/$id

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
`;
}

/** Resolves once `url` answers any HTTP status, rejects after `timeoutMs` or when `died` settles first. */
async function waitForHttp(url: string, timeoutMs: number, died: Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead: string | null = null;
  void died.then((why) => (dead = why));
  for (;;) {
    if (dead) throw new Error(dead);
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`radosgw did not answer on ${url} within ${timeoutMs} ms`);
      // radosgw is still creating its pools; there is no event to wait for but its port.
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export interface RadosgwOptions {
  bucket?: string;
  /** Capacity of the RAM-backed OSD (default 1 GiB, enough for the tests; a deep benchmark backlog needs more). Only what is stored uses RAM. */
  memstoreBytes?: number;
}

/** Boots a fresh cluster (13–18 s observed) and an S3 user and bucket in it. Call {@link ensureCeph} first. */
export async function startRadosgw(options: RadosgwOptions = {}): Promise<S3Server> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bucketq-ceph-'));
  const children: ChildProcess[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off('exit', killAll);
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  };
  // If the test process exits without calling stop(), do not leave daemons behind.
  const killAll = (): void => {
    for (const child of children) child.kill('SIGKILL');
  };
  process.on('exit', killAll);

  try {
    const [monPort, rgwPort] = [await freePort(), await freePort()];
    const conf = path.join(dir, 'ceph.conf');
    const fsid = randomUUID();
    const osdUuid = randomUUID();
    for (const sub of ['run', 'log', 'mon', 'osd/0']) await mkdir(path.join(dir, sub), { recursive: true });
    await writeFile(conf, config(dir, fsid, monPort, rgwPort, options.memstoreBytes ?? 1024 ** 3));

    let reportDeath!: (why: string) => void;
    const died = new Promise<string>((resolve) => (reportDeath = resolve));
    const daemon = (cmd: string, args: string[]): void => {
      const child = spawn(cmd, ['-c', conf, ...args, '-f'], { stdio: 'ignore' });
      children.push(child);
      child.on('exit', (code, signal) => {
        if (!stopped) reportDeath(`${cmd} exited early (${signal ?? code}); logs in ${dir}/log`);
      });
    };

    await must('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, path.join(dir, 'monmap')]);
    await must('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', path.join(dir, 'monmap')]);
    daemon('ceph-mon', ['-i', 'a']);
    // The ceph CLI waits for the monitor itself (up to its connect timeout).
    await must('ceph', ['-c', conf, '--connect-timeout', '30', 'osd', 'new', osdUuid]);
    // The OSD must be made with the uuid the monitor knows, or its boot message is ignored.
    await must('ceph-osd', ['-c', conf, '-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
    daemon('ceph-osd', ['-i', '0']);
    daemon('radosgw', ['-n', 'client.rgw']);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await waitForHttp(endpoint, 90_000, died);

    const accessKeyId = `bq${randomUUID().replace(/-/g, '').slice(0, 18)}`.toUpperCase();
    const secretAccessKey = randomUUID().replace(/-/g, '');
    await must('radosgw-admin', ['-c', conf, 'user', 'create', '--uid', 'bucketq', '--display-name', 'bucketq tests', '--access-key', accessKeyId, '--secret', secretAccessKey]);
    const bucket = options.bucket ?? 'bucketq-test';
    await createBucket(endpoint, accessKeyId, secretAccessKey, bucket);
    return { endpoint, region: 'us-east-1', accessKeyId, secretAccessKey, bucket, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function createBucket(endpoint: string, accessKeyId: string, secretAccessKey: string, bucket: string): Promise<void> {
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
}
