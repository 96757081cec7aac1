/**
 * What a backlog costs: one broker on the run's store (`--store`: a temp dir, or a prefix on radosgw), one topic filled with pending jobs to each
 * level in turn (1,000 → 100,000 → 1,000,000) by bulk pushes of the broker's batch limit
 * (`pushMany`, 10,000 jobs per call, one call at a time: the state is built through the normal
 * write path, not written directly). At each level, single jobs are pushed one at a time and each
 * one's commit is read from the broker's commit events (time from batch start to landed write,
 * and queue.json's size); the broker's memory is read from /proc/PID/status (VmRSS, VmHWM).
 * Then (with `takeovers`) a standby broker process is started on the same store, the leader is
 * killed with SIGKILL and the time until the standby hands out a job is measured (takeover.ts);
 * the standby carries on as the leader for the next level.
 */
import { createClient } from '../../src/client/index.js';
import type { CommitEvent } from '../../src/event-types.js';
import { DEFAULT_LIMITS } from '../../src/protocol.js';
import type { BenchPayload } from '../peers/types.js';
import { startBroker } from '../peers/bucketq.js';
import { memoryMiB, pct } from './common.js';
import { fileStore, type ScaleStore } from './store.js';
import { takeover, type TakeoverCase } from './takeover.js';

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
  /** The leader SIGKILLed at this level, a standby taking over (takeover.ts). */
  takeover?: TakeoverCase;
}

export async function backlogCases(levels: number[], probesAt: (pending: number) => number, takeovers = true, scaleStore: ScaleStore = fileStore()): Promise<BacklogCase[]> {
  const { url: store, remove } = await scaleStore.fresh();
  let broker = await startBroker(store, [], ['--id', 'scale-0']);
  let queue = createClient<BenchPayload>({ url: broker.url, topic: 'backlog', timeoutMs: 120_000 });
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
      const c: BacklogCase = {
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
      };
      out.push(c);
      process.stderr.write(`  backlog ${level}: built in ${buildSeconds.toFixed(1)} s; commit p50 ${pct(ms, 50).toFixed(0)} ms, ${(c.commitMiB * 1024).toFixed(0)} KiB; push p50 ${pct(push, 50).toFixed(1)} ms; RSS ${mem.rss.toFixed(0)} MiB (peak ${mem.peak.toFixed(0)})\n`);
      if (takeovers) {
        await queue.close();
        const t = await takeover(broker, store, 'backlog', level, `scale-${out.length}`);
        c.takeover = t.result;
        broker = t.standby;
        queue = createClient<BenchPayload>({ url: broker.url, topic: 'backlog', timeoutMs: 120_000 });
        const stale = t.result.fromStaleMs < 0 ? `before the lease ran out (${t.result.leaseLeftMs} ms of it left)` : `${t.result.fromStaleMs} ms after the lease went stale (${t.result.leaseLeftMs} ms of lease left)`;
        process.stderr.write(`  takeover at ${level}: standby answered a claim ${t.result.fromKillMs} ms after SIGKILL, ${stale}\n`);
      }
    }
  } finally {
    await queue.close();
    await broker.stop();
    await remove();
  }
  return out;
}
