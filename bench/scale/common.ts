/**
 * Pieces shared by the scale benchmarks (bench/scale/run.ts): a broker process on a fresh store
 * (bench/scale/store.ts: a temp dir, or a prefix on radosgw), its memory from /proc, and a
 * closed-loop push driver bounded by count and time.
 */
import { readFileSync } from 'node:fs';
import { startBroker, type BrokerProcess } from '../peers/bucketq.js';
import type { ScaleStore } from './store.js';

export { pct } from '../peers/workloads.js';

export interface ScaleBroker extends BrokerProcess {
  /** The store URL the broker runs on. */
  storeUrl: string;
}

/** A broker on a fresh store of `store` with `query` (e.g. `latency=50`) added; stop() removes the data. */
export async function scaleBroker(store: ScaleStore, query = '', brokerFlags: string[] = []): Promise<ScaleBroker> {
  const { url, remove } = await store.fresh(query);
  const broker = await startBroker(url, [], brokerFlags);
  return {
    ...broker,
    storeUrl: url,
    async stop() {
      await broker.stop();
      await remove();
    },
  };
}

/** VmRSS and VmHWM (peak) of a process, in MiB (Linux; NaN elsewhere). */
export function memoryMiB(pid: number): { rss: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
  } catch {
    return { rss: NaN, peak: NaN };
  }
}

/**
 * `producers` loops each awaiting one `push(i)` at a time until `maxJobs` were started or
 * `maxMs` passed: how many were pushed and each push's round trip in ms.
 */
export async function closedLoop(producers: number, push: (i: number, producer: number) => Promise<unknown>, maxJobs: number, maxMs: number): Promise<{ pushed: number; rtt: number[]; ms: number }> {
  let next = 0;
  const rtt: number[] = [];
  const t0 = performance.now();
  const deadline = t0 + maxMs;
  await Promise.all(
    Array.from({ length: producers }, async (_, p) => {
      while (next < maxJobs && performance.now() < deadline) {
        const i = next++;
        const t = performance.now();
        await push(i, p);
        rtt.push(performance.now() - t);
      }
    }),
  );
  return { pushed: next, rtt, ms: performance.now() - t0 };
}

export const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–');
