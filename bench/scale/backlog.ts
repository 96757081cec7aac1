/**
 * What a backlog costs: one broker on a `file:` store, one topic filled with pending jobs to each
 * level in turn (1,000 → 100,000 → 1,000,000) by bulk pushes of the broker's batch limit
 * (`pushMany`, 10,000 jobs per call, one call at a time: the state is built through the normal
 * write path, not written directly). At each level, single jobs are pushed one at a time and each
 * one's commit is read from the broker's commit events (time from batch start to landed write,
 * and queue.json's size); the broker's memory is read from /proc/PID/status (VmRSS, VmHWM).
 */
import { createClient } from '../../src/client/index.js';
import type { CommitEvent } from '../../src/event-types.js';
import { DEFAULT_LIMITS } from '../../src/protocol.js';
import type { BenchPayload } from '../peers/types.js';
import { fileBroker, memoryMiB, pct } from './common.js';

export interface BacklogCase {
  pending: number;
  /** Seconds the bulk pushes took to reach this level from the previous one. */
  buildSeconds: number;
  probes: number;
  commitP50Ms: number;
  commitP99Ms: number;
  commitMiB: number;
  pushP50Ms: number;
  pushP99Ms: number;
  rssMiB: number;
  peakMiB: number;
}

export async function backlogCases(levels: number[], probesAt: (pending: number) => number): Promise<BacklogCase[]> {
  const broker = await fileBroker();
  const queue = createClient<BenchPayload>({ url: broker.url, topic: 'backlog', timeoutMs: 120_000 });
  const out: BacklogCase[] = [];
  try {
    let pending = 0;
    for (const level of [...levels].sort((a, b) => a - b)) {
      const t0 = performance.now();
      while (pending < level) {
        const count = Math.min(DEFAULT_LIMITS.maxBatch, level - pending);
        await queue.pushMany(Array.from({ length: count }, (_, i) => ({ payload: { n: pending + i } })));
        pending += count;
      }
      const buildSeconds = (performance.now() - t0) / 1000;
      const commits: CommitEvent[] = [];
      const stop = new AbortController();
      let opened!: () => void;
      const open = new Promise<void>((r) => (opened = r));
      const reading = (async () => {
        for await (const e of queue.events({ signal: stop.signal, onOpen: () => opened() })) if (e.kind === 'commit') commits.push(e);
      })().catch(() => {});
      await open;
      const push: number[] = [];
      const probes = probesAt(level);
      for (let i = 0; i < probes; i++) {
        const t = performance.now();
        await queue.push({ n: -1 });
        push.push(performance.now() - t);
      }
      // The last probe's commit event may trail its answer by a moment: wait for it (bounded).
      const deadline = Date.now() + 10_000;
      while (commits.length < probes && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      stop.abort();
      await reading;
      pending += probes;
      const mem = memoryMiB(broker.pid);
      const ms = commits.map((c) => c.ms);
      out.push({
        pending: level,
        buildSeconds,
        probes,
        commitP50Ms: pct(ms, 50),
        commitP99Ms: pct(ms, 99),
        commitMiB: pct(commits.map((c) => c.bytes), 50) / (1024 * 1024),
        pushP50Ms: pct(push, 50),
        pushP99Ms: pct(push, 99),
        rssMiB: mem.rss,
        peakMiB: mem.peak,
      });
      process.stderr.write(`  backlog ${level}: built in ${buildSeconds.toFixed(1)} s; commit p50 ${pct(ms, 50).toFixed(0)} ms, ${(pct(commits.map((c) => c.bytes), 50) / 1048576).toFixed(1)} MiB; push p50 ${pct(push, 50).toFixed(0)} ms; RSS ${mem.rss.toFixed(0)} MiB (peak ${mem.peak.toFixed(0)})\n`);
    }
  } finally {
    await queue.close();
    await broker.stop();
  }
  return out;
}
