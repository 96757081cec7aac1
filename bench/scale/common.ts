/**
 * Pieces shared by the scale benchmarks (bench/scale/run.ts): a broker process on a store URL in a
 * throwaway dir, its memory from /proc, and a closed-loop push driver bounded by count and time.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTeardown } from '../peers/children.js';
import { startBroker, type BrokerProcess } from '../peers/bucketq.js';

export { pct } from '../peers/workloads.js';

export interface ScaleBroker extends BrokerProcess {
  /** The store's directory (file: stores). */
  dir: string;
}

/** A broker on `file:DIR?QUERY` (QUERY e.g. `latency=50`), DIR a fresh temp dir removed by stop(). */
export async function fileBroker(query = '', brokerFlags: string[] = []): Promise<ScaleBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'bucketq-scale-'));
  const removeDir = onTeardown(() => rm(dir, { recursive: true, force: true }));
  const broker = await startBroker(`file:${dir}${query ? `?${query}` : ''}`, [], brokerFlags);
  return {
    ...broker,
    dir,
    async stop() {
      await broker.stop();
      await removeDir();
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
