/**
 * What a large dead-letter index costs every commit: `--dead N` jobs pushed with maxAttempts 1,
 * claimed and nacked (dead), then one-job pushes timed on an embedded broker (`file:` in a new temp
 * directory, or `--store URL`). queue.json's `dead` holds an entry per dead job, so every commit
 * writes them all (docs/architecture.md, "Known gaps").
 *
 *   npx tsx bench/dead-index.ts [--dead 20000] [--pushes 20] [--store URL]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../src/broker/broker.js';
import { openStore } from '../src/storage/open.js';
import { benchArgs } from './bench-args.js';

const HELP = `npx tsx bench/dead-index.ts [options]

What a large dead-letter index costs every commit: --dead jobs made dead, then one-job pushes
timed on an embedded broker.

  --dead N        dead jobs (default 20000)
  --pushes N      one-job pushes timed (default 20)
  --store URL     the store (default: file: in a new temp directory)
  -h, --help      this text
`;
const { values: args, integer } = benchArgs('dead-index', HELP, { dead: { type: 'string', default: '20000' }, pushes: { type: 'string', default: '20' }, store: { type: 'string' } });
const DEAD = integer(args.dead, 'dead', 0);
const PUSHES = integer(args.pushes, 'pushes');

const dir = args.store === undefined ? await mkdtemp(join(tmpdir(), 'bucketq-dead-index-')) : null;
const store = await openStore(args.store ?? `file:${dir}`);
const broker = new Broker({ store });
try {
  for (let i = 0; i < DEAD; i += 5000) {
    const n = Math.min(5000, DEAD - i);
    await broker.push('t', Array.from({ length: n }, (_, k) => ({ payload: { n: i + k }, maxAttempts: 1 })));
  }
  for (let dead = 0; dead < DEAD; ) {
    const jobs = await broker.claim('t', { workerId: 'w', max: 1000 });
    await Promise.all(jobs.map((j) => broker.nack('t', { id: j.id, workerId: 'w', lease: j.lease, error: 'the handler failed: connection refused by the mail server' })));
    dead += jobs.length;
  }
  const commits: Array<{ bytes: number; ms: number }> = [];
  broker.events.on('commit', (c) => commits.push({ bytes: c.bytes, ms: c.ms }));
  const ms: number[] = [];
  for (let i = 0; i < PUSHES; i++) {
    const t = performance.now();
    await broker.push('t', [{ payload: { probe: i } }]);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const kib = commits.reduce((sum, c) => sum + c.bytes, 0) / commits.length / 1024;
  process.stdout.write(`${DEAD} dead jobs, ${store.name} store: one-job push p50 ${ms[Math.floor(ms.length / 2)]!.toFixed(1)} ms (${PUSHES} pushes), queue.json ${kib.toFixed(0)} KiB a commit\n`);
} finally {
  await broker.stop();
  await store.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}
