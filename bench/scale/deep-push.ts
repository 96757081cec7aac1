/**
 * One-job pushes into a deep backlog, embedded: `createQueue` on `file:` (default options) is
 * filled with `pushMany` of 10,000 jobs at a time, then single pushes go one after another, each
 * its own commit. Prints their p50/p90 and this process's CPU per push, which is what a deep
 * backlog adds to every commit (the head's manifest and window) without HTTP's noise around it:
 * bench:scale's backlog part measures the same over the wire, with fewer probes; `--wire` puts
 * HTTP back (a broker server in this process, createClient on loopback).
 *
 *   npx tsx bench/scale/deep-push.ts                      # 1,000,000 waiting, 200 pushes
 *   npx tsx bench/scale/deep-push.ts --jobs 10000000
 *
 * To compare two trees, run each tree's copy in turn (only pairs taken minutes apart count on a
 * shared machine).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Queue } from '../../src/api.js';
import { createClient } from '../../src/client/index.js';
import { createQueue } from '../../src/queue.js';
import { startBrokerServer } from '../../src/server/index.js';
import { benchArgs } from '../bench-args.js';
import { pct } from './common.js';

const HELP = `npx tsx bench/scale/deep-push.ts [options]

An embedded queue on file: (createQueue, default options) filled to --jobs with pushMany of 10,000,
then --pushes single pushes one after another: their p50/p90 ms and this process's CPU per push.

  --jobs N        jobs waiting before the single pushes (default 1000000)
  --pushes N      single pushes timed, at least 10 (default 200)
  --dir DIR       where the store's temp directory is made (default: the OS tmpdir)
  --wire          the same through a broker server in this process and createClient over
                  HTTP on loopback (the CPU then counts both ends)
  -h, --help      this text
`;
const { values: args, integer } = benchArgs('deep-push', HELP, {
  jobs: { type: 'string', default: '1000000' },
  pushes: { type: 'string', default: '200' },
  dir: { type: 'string' },
  wire: { type: 'boolean', default: false },
});
const JOBS = integer(args.jobs, 'jobs');
const PUSHES = integer(args.pushes, 'pushes', 10);
const BATCH = 10_000;

const dir = await mkdtemp(path.join(args.dir ?? tmpdir(), 'bucketq-deep-push-'));
const server = args.wire ? await startBrokerServer({ store: `file:${dir}`, listen: '127.0.0.1:0' }) : null;
const queue: Queue<unknown> = server ? createClient({ url: server.url, topic: 'deep', timeoutMs: 120_000 }) : createQueue({ store: `file:${dir}`, topic: 'deep' });
try {
  const started = performance.now();
  for (let done = 0; done < JOBS; done += BATCH) {
    const n = Math.min(BATCH, JOBS - done);
    await queue.pushMany(Array.from({ length: n }, (_, i) => ({ payload: { n: done + i, to: 'someone@example.com' } })));
  }
  const built = (performance.now() - started) / 1000;
  const ms: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < PUSHES; i++) {
    const t = performance.now();
    await queue.push({ n: JOBS + i, to: 'someone@example.com' });
    ms.push(performance.now() - t);
  }
  const cpu = process.cpuUsage(cpu0);
  const at = (p: number) => pct(ms, p).toFixed(2);
  process.stdout.write(
    `deep-push${server ? ' --wire' : ''} — node ${process.version}: ${JOBS.toLocaleString('en-US')} jobs waiting (built in ${built.toFixed(1)} s); ${PUSHES} single pushes: p50 ${at(50)} ms, p90 ${at(90)} ms, CPU ${((cpu.user + cpu.system) / PUSHES).toFixed(0)} µs a push (user ${(cpu.user / PUSHES).toFixed(0)})\n`,
  );
} finally {
  await queue.close();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
}
