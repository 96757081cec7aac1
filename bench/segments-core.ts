/**
 * npx tsx bench/segments-core.ts [--jobs 1000000] [--batch 10000] — the pure segmented backlog
 * (src/core/segments) alone, no storage: pushMany-sized batches into one topic, each batch a
 * commit (seal, encode its segments). Reports jobs/s, the head's size after the last commit
 * (manifest + window + tails, as JSON; the garbage list left out, as a leader deletes it two leases
 * on), the segments' bytes, and the id index's memory per job. --segment-max-jobs N overrides the limit.
 * Then one one-job push on the full backlog: the head bytes that commit would write, and what
 * writing the manifest as queue.json's text costs at each commit: manifestJson (entries' texts
 * kept between commits) beside JSON.stringify(storeManifest(manifest())), every entry made again.
 */
import { jobBytes } from '../src/core/job-json.js';
import { Backlog } from '../src/core/segments/backlog.js';
import { manifestJson, storeManifest } from '../src/core/segments/manifest-stored.js';
import type { JobRecord } from '../src/core/types.js';
import { benchArgs } from './bench-args.js';

const HELP = `npx tsx bench/segments-core.ts [options]

The segmented backlog alone (src/core/segments, no storage): pushMany-sized batches into one
topic, each batch a commit. jobs/s, the head's and the segments' sizes, the id index's memory,
and what writing the manifest's text costs a commit.

  --jobs N               jobs in all (default 1000000)
  --batch N              jobs per batch (default 10000)
  --segment-max-jobs N   the backlog's segmentMaxJobs (default: the broker's)
  -h, --help             this text
`;
const { values: args, integer } = benchArgs('segments-core', HELP, { jobs: { type: 'string', default: '1000000' }, batch: { type: 'string', default: '10000' }, 'segment-max-jobs': { type: 'string' } });
const JOBS = integer(args.jobs, 'jobs');
const BATCH = integer(args.batch, 'batch');
const now = 1_700_000_000_000;
const orders = { nextOrder: 1 };
const b = new Backlog('bench', orders, args['segment-max-jobs'] ? { segmentMaxJobs: integer(args['segment-max-jobs'], 'segment-max-jobs') } : {});
let seq = 1;
let segmentBytes = 0;
let segments = 0;

function job(i: number): JobRecord {
  return { id: `job-${i.toString(36).padStart(8, '0')}-${(i * 2654435761) >>> 0}`, state: 'pending', payload: { n: i, to: 'someone@example.com' }, priority: 0, order: orders.nextOrder++, runAt: now, attempts: 0, maxAttempts: 5, createdAt: now, updatedAt: now };
}

/** The manifest as a leader writes it (stored form, docs/format.md section 2) once its garbage (segments merged away) has been deleted, two leases on. */
function liveManifest() {
  return storeManifest({ ...b.manifest(), garbage: [] });
}

function headBytes(): number {
  let n = Buffer.byteLength(JSON.stringify(liveManifest()));
  for (const j of b.headJobs()) n += jobBytes(j).length + 2;
  return n;
}

const heapBefore = process.memoryUsage().heapUsed;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
for (let done = 0; done < JOBS; done += BATCH) {
  b.begin({ epoch: 1, seq: seq++, nonce: '00000000' });
  const n = Math.min(BATCH, JOBS - done);
  for (let i = 0; i < n; i++) {
    const j = job(done + i);
    // Idempotent push: look the id up first, as the op will.
    if (b.locate(j.id) !== undefined) throw new Error(`duplicate ${j.id}`);
    b.add(j, now);
  }
  b.seal(now);
  for (const w of b.plannedWrites) {
    segmentBytes += w.bytes.length;
    segments++;
  }
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const cpuMs = (cpu.user + cpu.system) / 1000;
const heapAfter = process.memoryUsage().heapUsed;
const index = b.reg.index;

b.begin({ epoch: 1, seq: seq++, nonce: '00000000' });
b.add(job(JOBS), now);
b.seal(now);
const oneJob = { head: headBytes(), segments: b.plannedWrites.length };

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`pushMany of ${JOBS.toLocaleString()} jobs in batches of ${BATCH}: ${ms.toFixed(0)} ms, ${Math.round(JOBS / (ms / 1000)).toLocaleString()} jobs/s (${cpuMs.toFixed(0)} CPU ms: ${Math.round(JOBS / (cpuMs / 1000)).toLocaleString()} jobs per CPU second)`);
console.log(`segments: ${segments} written, ${(segmentBytes / 1024 / 1024).toFixed(1)} MiB (${(segmentBytes / JOBS).toFixed(0)} bytes a job)`);
console.log(`head after the last batch: ${kib(headBytes())} (manifest ${kib(Buffer.byteLength(JSON.stringify(liveManifest())))} in ${b.reg.refs.size} segments, ${b.head.size} jobs in the head; garbage not yet deleted: ${b.reg.garbage.length} entries)`);
console.log(`one-job push on the full backlog: head ${kib(oneJob.head)}, ${oneJob.segments} segment(s) written`);
/** µs a call of `write` (the text made into a Buffer, as serializeState does), the best of three rounds of 200. */
function perCommitUs(write: () => string): number {
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const t = performance.now();
    for (let i = 0; i < 200; i++) Buffer.from(write());
    best = Math.min(best, ((performance.now() - t) / 200) * 1000);
  }
  return best;
}
if (manifestJson(b) !== JSON.stringify(storeManifest(b.manifest()))) throw new Error('manifestJson differs from the stored manifest');
console.log(
  `manifest as queue.json text, per commit: ${perCommitUs(() => manifestJson(b)).toFixed(0)} µs (${perCommitUs(() => JSON.stringify(storeManifest(b.manifest()))).toFixed(0)} µs through storeManifest, every entry made again; its segmentName keeps names now, so this is less than the way before the kept texts)`,
);
console.log(`id index: ${index.size.toLocaleString()} entries, ${kib(index.bytes)} = ${(index.bytes / index.size).toFixed(1)} bytes a job`);
console.log(`JS heap growth over the run: ${((heapAfter - heapBefore) / 1024 / 1024).toFixed(1)} MiB (${((heapAfter - heapBefore) / JOBS).toFixed(1)} bytes a job, garbage included)`);
