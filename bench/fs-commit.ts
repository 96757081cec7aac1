/**
 * What one conditional write of the `file:` store costs, next to the floor any durable write pays:
 * writing the same bytes to a file and fdatasyncing it.
 *
 *   npx tsx bench/fs-commit.ts                       # 4 KiB, 2,000 commits, in a new directory under the OS tmpdir
 *   npx tsx bench/fs-commit.ts --bytes 65536 --commits 500 --dir /var/tmp
 *   npx tsx bench/fs-commit.ts --gap-ms 3            # an idle pause before each call, as on a quiet topic (W4)
 *   strace -c -f -o /tmp/trace npx tsx bench/fs-commit.ts --only store   # syscalls per commit: divide by --commits
 *
 * Rows (each timed one after another, p50 / p99 in ms, and this process's CPU time per call, every
 * thread counted: the fs threadpool's system time is most of a commit's):
 *   write+fdatasync   pwrite of the bytes into one open file, then fdatasync (synchronous calls)
 *   fresh file        open(O_CREAT|O_EXCL) + write + fdatasync + close of a new file (synchronous)
 *   protocol          the system calls of store.write, made inline in this thread (no commit thread,
 *                     no verify logic): pre-check readdir, open O_EXCL|O_DSYNC, write, close, link,
 *                     fsync of the key directory, verify readdir, unlink of the staging name; with the
 *                     p50 of each step. What the store pays beyond it is the trip to its thread and
 *                     the JavaScript around the calls; what it pays beyond `fresh file` is the
 *                     second durable step (the directory entry), which no link(2) protocol can skip.
 *   store.write       createFileStore(...).write(key, bytes, {ifMatch}): the broker's commit
 * `--only store` runs the store alone (for strace), `--only floor` the three others.
 */
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createFileStore } from '../src/storage/fs.js';
import { benchArgs } from './bench-args.js';

const HELP = `npx tsx bench/fs-commit.ts [options]

One conditional write of the file: store beside the floor any durable write pays (rows: see the
header of bench/fs-commit.ts). p50 / p99 ms and this process's CPU per call.

  --bytes N       the body's size (default 4096)
  --commits N     calls per row, at least 10 (default 2000)
  --gap-ms N      an idle pause before each call, as on a quiet topic (default 0: back to back)
  --dir DIR       where the temp directory is made (default: the OS tmpdir)
  --only store|floor
                  the store alone (for strace), or the three other rows
  -h, --help      this text
`;
const { values: args, usage, integer, positive } = benchArgs('fs-commit', HELP, {
  bytes: { type: 'string', default: '4096' },
  commits: { type: 'string', default: '2000' },
  dir: { type: 'string' },
  only: { type: 'string' },
  'gap-ms': { type: 'string' },
});
const BYTES = integer(args.bytes, 'bytes');
const COMMITS = integer(args.commits, 'commits', 10);
/** --gap-ms: an idle pause before each timed call, as between the commits of a quiet topic (W4): the threads and the disk go idle. */
const GAP_MS = args['gap-ms'] === undefined ? 0 : positive(args['gap-ms'], 'gap-ms', true);
const gap = (): Promise<void> | void => (GAP_MS > 0 ? new Promise((r) => setTimeout(r, GAP_MS)) : undefined);
if (args.only !== undefined && args.only !== 'store' && args.only !== 'floor') usage(`--only takes store or floor; got ${JSON.stringify(args.only)}`);

const dir = await mkdtemp(path.join(args.dir ?? tmpdir(), 'bucketq-fs-commit-'));
const body = Buffer.alloc(BYTES, 'x');

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((sorted.length * p) / 100) - 1)]!;
}
/** p50 / p99 of `ms`, and this process's CPU time (all threads) per call since `cpu0`. */
function row(name: string, ms: number[], cpu0: NodeJS.CpuUsage): void {
  const cpu = process.cpuUsage(cpu0);
  ms.sort((a, b) => a - b);
  const per = (us: number) => (us / ms.length).toFixed(0).padStart(4);
  process.stdout.write(
    `${name.padEnd(16)} p50 ${pct(ms, 50).toFixed(3)} ms   p99 ${pct(ms, 99).toFixed(3)} ms   CPU ${per(cpu.user + cpu.system)} µs (user ${per(cpu.user)}, system ${per(cpu.system)})   ${ms.length} × ${BYTES} B\n`,
  );
}

/** The store's commit as bare system calls (see the header), timed per step. */
async function protocol(): Promise<void> {
  const { O_WRONLY, O_CREAT, O_EXCL } = fs.constants;
  // As the store's thread does (fs-thread-main.ts): O_DSYNC on Linux only, fdatasync elsewhere.
  const dsync = process.platform === 'linux' ? (fs.constants.O_DSYNC ?? 0) : 0;
  const keyDir = path.join(dir, 'protocol.v');
  const staging = path.join(dir, 'protocol-staging');
  fs.mkdirSync(keyDir);
  fs.mkdirSync(staging);
  const dirFd = fs.openSync(keyDir, 'r');
  const steps = ['pre-check readdir', 'open', 'write', 'close', 'link', 'fsync dir', 'verify readdir', 'unlink'];
  const times = steps.map(() => [] as number[]);
  const total: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 1; i <= COMMITS; i++) {
    await gap();
    body[0] = i & 0xff;
    const file = path.join(staging, String(i));
    const at = [performance.now()];
    fs.readdirSync(keyDir, { withFileTypes: true });
    at.push(performance.now());
    const fd = fs.openSync(file, O_WRONLY | O_CREAT | O_EXCL | dsync, 0o666);
    at.push(performance.now());
    fs.writeSync(fd, body, 0, body.length, 0);
    if (!dsync) fs.fdatasyncSync(fd);
    at.push(performance.now());
    fs.closeSync(fd);
    at.push(performance.now());
    fs.linkSync(file, path.join(keyDir, String(i)));
    at.push(performance.now());
    fs.fsyncSync(dirFd);
    at.push(performance.now());
    fs.readdirSync(keyDir);
    at.push(performance.now());
    fs.unlinkSync(file);
    at.push(performance.now());
    steps.forEach((_, k) => times[k]!.push(at[k + 1]! - at[k]!));
    total.push(at.at(-1)! - at[0]!);
    if (i > 8) fs.unlinkSync(path.join(keyDir, String(i - 8))); // the KEEP rule's collection, off the clock as in the store
  }
  fs.closeSync(dirFd);
  row('protocol', total, cpu0);
  const p50s = steps.map((name, k) => `${name} ${pct(times[k]!.sort((a, b) => a - b), 50).toFixed(3)}`);
  process.stdout.write(`${''.padEnd(16)} p50 by step, ms: ${p50s.join(', ')}\n`);
}

try {
  process.stdout.write(`${dir} (node ${process.version})\n`);
  if (args.only !== 'store') {
    const fd = fs.openSync(path.join(dir, 'floor'), 'w');
    const floor: number[] = [];
    let cpu0 = process.cpuUsage();
    for (let i = 0; i < COMMITS; i++) {
      await gap();
      body[0] = i & 0xff; // different bytes each time, as a commit's
      const t = performance.now();
      fs.writeSync(fd, body, 0, body.length, 0);
      fs.fdatasyncSync(fd);
      floor.push(performance.now() - t);
    }
    fs.closeSync(fd);
    row('write+fdatasync', floor, cpu0);
    cpu0 = process.cpuUsage();

    const fresh: number[] = [];
    for (let i = 0; i < COMMITS; i++) {
      await gap();
      const file = path.join(dir, `fresh-${i}`);
      const t = performance.now();
      const f = fs.openSync(file, 'wx');
      fs.writeSync(f, body, 0, body.length, 0);
      fs.fdatasyncSync(f);
      fs.closeSync(f);
      fresh.push(performance.now() - t);
      fs.unlinkSync(file);
    }
    row('fresh file', fresh, cpu0);
    await protocol();
  }

  if (args.only !== 'floor') {
    const store = createFileStore({ root: path.join(dir, 'store') });
    let { etag } = await store.write('topics/t/queue.json', body, { ifNoneMatch: '*' });
    for (let i = 0; i < 50; i++) ({ etag } = await store.write('topics/t/queue.json', body, { ifMatch: etag })); // warm-up
    const commits: number[] = [];
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < COMMITS; i++) {
      await gap();
      body[0] = i & 0xff;
      const t = performance.now();
      ({ etag } = await store.write('topics/t/queue.json', body, { ifMatch: etag }));
      commits.push(performance.now() - t);
    }
    row('store.write', commits, cpu0);
    await store.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
