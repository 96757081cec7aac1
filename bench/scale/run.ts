/**
 * npm run bench:scale — bucketq's own limits (issue 7), each part with its own broker process on a
 * fresh store: HELP below says what each part measures and which options there are
 * (`npm run bench:scale -- --help` prints it). Every process runs on the Node LTS that CI tests on
 * (bench/node-lts.ts) unless --node system.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSvg } from '../charts.js';
import { teardownAll, teardownOnSignals } from '../peers/children.js';
import { machine, RESULTS_DIR } from '../peers/report.js';
import { backlogCases, type BacklogCase } from './backlog.js';
import { latencyCase, type LatencyCase } from './latency.js';
import { payloadCase, type PayloadCase } from './payload.js';
import { embeddedBuild, type EmbeddedBuildCase } from './embedded-build.js';
import { fileStore, radosgwStore, STORE_KINDS, type StoreKind } from './store.js';
import { backlogChart, latencyChart, renderScale } from './report.js';
import { topicsCase, type TopicsCase } from './topics.js';
import { onNodeLts } from '../node-lts.js';
import { benchArgs } from '../bench-args.js';

const PARTS = ['latency', 'backlog', 'build', 'topics', 'payload'] as const;
const HELP = `npm run bench:scale -- [options]

bucketq's own limits, each part with its own broker process on a fresh store of --store:
\`file\` (default) a temp dir, \`radosgw\` a prefix in one throw-away Ceph radosgw on loopback
booted for the run (Ceph installed from Debian's packages when missing), with the S3 keys in
the brokers' environment.

  --parts P,…          which parts (default: all):
                         latency  workload 1 with 0, 20, 50, 100, 200 ms injected on every store
                                  call, 16 and 256 producers: jobs/s and push p50/p99
                         backlog  commit time, queue.json size, push p50/p99 and broker memory with
                                  each --backlog level pending, and at each level a takeover: the
                                  leader SIGKILLed, a standby process hands out a job
                         build    embedded createQueue (default options): pushMany of 10,000 jobs
                                  at a time up to the largest --backlog level: jobs/s and jobs per
                                  CPU second
                         topics   1 vs 100 topics on one broker: pushes/s and p50/p99
                         payload  workload 1 with 100 B, 10 KiB and 1 MiB payloads
  --backlog N,…        the backlog levels (default 1000,100000,1000000)
  --jobs N             caps each throughput case (default 20000)
  --seconds N          caps each throughput case's pushing time (default 15)
  --store file|radosgw where every part's brokers (and the embedded build) run (default file)
  --radosgw-gib N      radosgw's RAM-backed OSD (default: 2 GiB per million of the largest
                       --backlog level, at least 4; only what is stored takes RAM)
  --node lts|system    the Node every process uses: lts (default), the LTS .ci/run tests on
                       (installed from the npm registry on first use), or system
  --json               the results as JSON on stdout, nothing written
  --no-write           print the markdown, write no files
  -h, --help           this text

Writes bench/results/scale.md, scale-latency.svg and scale-backlog.svg (scale-radosgw.md, … with
--store radosgw) unless --json or --no-write.

  npm run bench:scale -- --parts latency,payload --jobs 5000 --seconds 10
  npm run bench:scale -- --parts backlog,build --backlog 1000,1000000,10000000
  npm run bench:scale -- --parts backlog --store radosgw --backlog 1000,1000000 --json
`;
const { values: args, usage, integer } = benchArgs('bench:scale', HELP, {
  parts: { type: 'string', default: PARTS.join(',') },
  jobs: { type: 'string', default: '20000' },
  seconds: { type: 'string', default: '15' },
  backlog: { type: 'string', default: '1000,100000,1000000' },
  store: { type: 'string', default: 'file' },
  'radosgw-gib': { type: 'string' },
  json: { type: 'boolean', default: false },
  'no-write': { type: 'boolean', default: false },
  node: { type: 'string' },
});
const positive = (text: string, name: string) => integer(text, name, 1);
const parts = new Set(args.parts.split(',').map((p) => p.trim()));
for (const p of parts) if (!(PARTS as readonly string[]).includes(p)) usage(`--parts takes ${PARTS.join(',')}; got ${JSON.stringify(p)}`);
const JOBS = positive(args.jobs, 'jobs');
const SECONDS = positive(args.seconds, 'seconds');
const levels = args.backlog.split(',').map((l) => positive(l.trim(), 'backlog'));
const storeKind = args.store as StoreKind;
if (!(STORE_KINDS as readonly string[]).includes(storeKind)) usage(`--store takes ${STORE_KINDS.join(' or ')}; got ${JSON.stringify(args.store)}`);
const radosgwGiB = args['radosgw-gib'] !== undefined ? positive(args['radosgw-gib'], 'radosgw-gib') : Math.max(4, 2 * Math.ceil(Math.max(...levels) / 1_000_000));

export interface ScaleResults {
  date: string;
  /** The command line's arguments (the report's first line repeats them). */
  args: string[];
  machine: ReturnType<typeof machine>;
  /** `--store`: what every part's brokers (and the embedded build) ran on. */
  store: StoreKind;
  storeDescription: string;
  latency: LatencyCase[];
  backlog: BacklogCase[];
  build: EmbeddedBuildCase[];
  topics: TopicsCase[];
  payload: PayloadCase[];
}

await onNodeLts(args.node, usage, (line) => process.stderr.write(`bench:scale: ${line}\n`));
teardownOnSignals();
const log = (s: string) => process.stderr.write(`${s}\n`);
const results: ScaleResults = { date: new Date().toISOString(), args: process.argv.slice(2), machine: machine(), store: storeKind, storeDescription: '', latency: [], backlog: [], build: [], topics: [], payload: [] };
try {
  const store = storeKind === 'radosgw' ? await radosgwStore(log, radosgwGiB) : fileStore();
  results.storeDescription = store.describe;
  if (parts.has('latency')) {
    const cases: Array<[number, number]> = [16, 256].flatMap((producers) => [0, 20, 50, 100, 200].map((l): [number, number] => [l, producers]));
    for (const [latency, producers] of cases) {
      const c = await latencyCase(latency, producers, JOBS, SECONDS, store);
      log(`  latency ${latency} ms, ${producers} producers: ${c.jobsPerSec.toFixed(0)} jobs/s, push p50 ${c.pushP50.toFixed(1)} ms`);
      results.latency.push(c);
    }
  }
  if (parts.has('backlog')) results.backlog = await backlogCases(levels, (pending) => (pending >= 1_000_000 ? 15 : 40), true, store);
  if (parts.has('build')) results.build = await embeddedBuild([Math.max(...levels)], log, store);
  if (parts.has('topics')) {
    for (const topics of [1, 100]) {
      const c = await topicsCase(topics, Math.min(SECONDS, 10), store);
      log(`  ${topics} topic(s): ${c.jobsPerSec.toFixed(0)} pushes/s, p50 ${c.pushP50Ms.toFixed(1)} ms`);
      results.topics.push(c);
    }
  }
  if (parts.has('payload')) {
    for (const [bytes, jobs] of [[100, JOBS], [10 * 1024, JOBS], [1024 * 1024, Math.min(JOBS, 1000)]] as const) {
      const c = await payloadCase(bytes, jobs, SECONDS, store);
      log(`  payload ${bytes} B: ${c.jobsPerSec.toFixed(0)} jobs/s, ${c.mibPerSec.toFixed(1)} MiB/s`);
      results.payload.push(c);
    }
  }
} finally {
  await teardownAll();
}

if (args.json) {
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
} else {
  const md = renderScale(results);
  process.stdout.write(md);
  if (!args['no-write']) {
    await mkdir(RESULTS_DIR, { recursive: true });
    const name = storeKind === 'file' ? 'scale' : `scale-${storeKind}`; // file: keeps the names it always had
    await writeFile(join(RESULTS_DIR, `${name}.md`), md);
    log(`wrote ${join(RESULTS_DIR, `${name}.md`)}`);
    if (results.latency.length > 0) log(`wrote ${await writeSvg(join(RESULTS_DIR, `${name}-latency.svg`), latencyChart(results))}`);
    if (results.backlog.length > 0) log(`wrote ${await writeSvg(join(RESULTS_DIR, `${name}-backlog.svg`), backlogChart(results))}`);
  }
}
