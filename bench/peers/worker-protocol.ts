/**
 * The one protocol between the peer runner and every system's worker process, so the runner
 * times all systems the same way. Times are ms on CLOCK_MONOTONIC with sub-ms
 * precision (bench/monotonic-ms.ts: the same clock in every process on this machine).
 *
 * Worker → runner, JSON lines on stdout:
 *   {"ready":true}                        connected, not consuming yet
 *   {"completed":N,"lastAckAt":T}         every 20 ms while N changes; T: when the latest job finished
 *   {"probe":ID,"startedAt":T}            at once, when the handler of a probe job starts
 * Runner → worker, lines on stdin:
 *   start                                 begin consuming (so a backlog drain is timed from here,
 *                                         not from process start-up)
 * SIGTERM: the worker closes its library's worker and connection, then exits.
 */
import { createInterface } from 'node:readline';
import { monotonicMs } from '../monotonic-ms.js';

export const now = monotonicMs;

export interface WorkerSide {
  /** Call when the handler of a job starts (reports probes). */
  started(payload: { probe?: string } | null | undefined): void;
  /** Call when `count` jobs have been completed (acked) by the library. */
  finished(count: number): void;
}

/**
 * Runs the worker side of the protocol: `connect` once before "ready", `consume` on "start",
 * `close` on SIGTERM.
 */
export async function serveWorker(hooks: { connect(): Promise<void>; consume(side: WorkerSide): Promise<void> | void; close(): Promise<void> }): Promise<void> {
  const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
  let completed = 0;
  let lastAckAt = 0;
  let reported = 0;
  const side: WorkerSide = {
    started(payload) {
      if (payload?.probe !== undefined) out({ probe: payload.probe, startedAt: now() });
    },
    finished(count) {
      completed += count;
      lastAckAt = now();
    },
  };
  const timer = setInterval(() => {
    if (completed === reported) return;
    reported = completed;
    out({ completed, lastAckAt });
  }, 20);
  await hooks.connect();
  let consuming = false;
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() !== 'start' || consuming) return;
    consuming = true;
    void Promise.resolve(hooks.consume(side)).catch((e: unknown) => {
      process.stderr.write(`worker failed: ${String(e)}\n`);
      process.exit(1);
    });
  });
  process.once('SIGTERM', () => {
    clearInterval(timer);
    void hooks.close().finally(() => process.exit(0));
  });
  out({ ready: true });
}
