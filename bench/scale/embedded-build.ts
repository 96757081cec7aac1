/**
 * Building a backlog embedded: `createQueue` on the run's store (a `file:` temp dir unless
 * bench:scale's `--store radosgw`), default options,
 * `pushMany` of the broker's batch limit (10,000 jobs per call, one call at a time) up to each
 * level in turn. Every call is one group commit: its jobs are sealed into segments written
 * create-only, then queue.json. Reports jobs/s per level (from the previous level) and the
 * process's RSS (the embedded broker lives in this process).
 *
 *   npx tsx bench/scale/embedded-build.ts [--levels 1000000] [--cpu-prof via node flags]
 */
import { pathToFileURL } from 'node:url';
import { createQueue } from '../../src/index.js';
import { DEFAULT_LIMITS } from '../../src/protocol.js';
import type { BenchPayload } from '../peers/types.js';
import { memoryMiB } from './common.js';
import { fileStore, type ScaleStore } from './store.js';
import { benchArgs } from '../bench-args.js';

export interface EmbeddedBuildCase {
  pending: number;
  seconds: number;
  jobsPerSec: number;
  /** CPU seconds (user + system) this process spent: on a shared machine, jobs per CPU second is the steadier figure. */
  cpuSeconds: number;
  jobsPerCpuSec: number;
  rssMiB: number;
}

export async function embeddedBuild(levels: number[], log: (s: string) => void = () => {}, scaleStore: ScaleStore = fileStore()): Promise<EmbeddedBuildCase[]> {
  const { url, remove } = await scaleStore.fresh();
  const queue = createQueue<BenchPayload>({ store: url, topic: 'build' });
  const out: EmbeddedBuildCase[] = [];
  try {
    let pending = 0;
    for (const level of [...levels].sort((a, b) => a - b)) {
      const from = pending;
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      while (pending < level) {
        const count = Math.min(DEFAULT_LIMITS.maxBatch, level - pending);
        const base = pending;
        await queue.pushMany(Array.from({ length: count }, (_, i) => ({ payload: { n: base + i } })));
        pending += count;
      }
      const seconds = (performance.now() - t0) / 1000;
      const used = process.cpuUsage(cpu0);
      const cpuSeconds = (used.user + used.system) / 1e6;
      const c = { pending: level, seconds, jobsPerSec: (level - from) / seconds, cpuSeconds, jobsPerCpuSec: (level - from) / cpuSeconds, rssMiB: memoryMiB(process.pid).rss };
      log(`  embedded pushMany to ${level}: ${seconds.toFixed(1)} s, ${c.jobsPerSec.toFixed(0)} jobs/s (${cpuSeconds.toFixed(1)} CPU s, ${c.jobsPerCpuSec.toFixed(0)} jobs per CPU s); RSS ${c.rssMiB.toFixed(0)} MiB`);
      out.push(c);
    }
  } finally {
    await queue.close();
    await remove();
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const help = `npx tsx bench/scale/embedded-build.ts [options]

Building a backlog embedded (createQueue on file:, default options): pushMany of 10,000 jobs at a
time up to each level in turn; jobs/s, jobs per CPU second and RSS per level.

  --levels N,…    the levels (default 1000000)
  -h, --help      this text
`;
  const { values, integer } = benchArgs('embedded-build', help, { levels: { type: 'string', default: '1000000' } });
  await embeddedBuild(values.levels.split(',').map((l) => integer(l.trim(), 'levels')), (s) => process.stderr.write(`${s}\n`));
}
