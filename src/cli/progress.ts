/**
 * A one-line progress display for terminals: `[#####-----]  48%  12,345 jobs  3,210/s` when the
 * total size is known (stdin is a file), `12,345 jobs  3,210/s` otherwise. Redrawn at most every
 * 100 ms, erased when done. Written here rather than taken from npm: it is 40 lines, and what it
 * shows (jobs pushed, bytes read of a file) fits no general-purpose bar without adapters.
 */
import type { WriteStream } from 'node:tty';

export interface Progress {
  /** `count` items done, `bytes` of the input consumed so far. */
  update(count: number, bytes: number): void;
  /** Erases the line. */
  done(): void;
}

const WIDTH = 24;
const NOOP: Progress = { update() {}, done() {} };

/** A progress line on `stream` when it is a terminal, else nothing. `totalBytes`: the input's size, when known. */
export function createProgress(stream: NodeJS.WriteStream, unit: string, totalBytes?: number): Progress {
  if (!stream.isTTY) return NOOP;
  const tty = stream as WriteStream;
  const started = Date.now();
  let last = 0;
  let shown = false;
  const fmt = new Intl.NumberFormat('en');
  return {
    update(count, bytes) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      const rate = count / Math.max(0.001, (now - started) / 1000);
      let line = `${fmt.format(count)} ${unit}  ${fmt.format(Math.round(rate))}/s`;
      if (totalBytes !== undefined && totalBytes > 0) {
        const share = Math.min(1, bytes / totalBytes);
        const filled = Math.round(share * WIDTH);
        line = `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${String(Math.floor(share * 100)).padStart(3)}%  ${line}`;
      }
      tty.write(`\r${line.slice(0, (tty.columns || 80) - 1)}\x1b[K`);
      shown = true;
    },
    done() {
      if (shown) tty.write('\r\x1b[K');
      shown = false;
    },
  };
}
