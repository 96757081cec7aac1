/** The progress line of `bucketq push` (stdin): drawn only on a terminal, erased when done. */
import { describe, expect, it, vi } from 'vitest';
import { createProgress } from '../../src/cli/progress.js';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { stream: { isTTY, columns: 60, write: (s: string) => writes.push(s) } as unknown as NodeJS.WriteStream, writes };
}

describe('createProgress', () => {
  it('draws a bar with the share of a known total, at most every 100 ms, and erases it', () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const { stream, writes } = fakeStream(true);
      const p = createProgress(stream, 'jobs', 1000);
      vi.setSystemTime(200);
      p.update(500, 250);
      p.update(600, 300); // too soon: not drawn
      vi.setSystemTime(400);
      p.update(2000, 1000);
      p.done();
      expect(writes).toEqual([
        '\r[######------------------]  25%  500 jobs  2,500/s\x1b[K',
        '\r[########################] 100%  2,000 jobs  5,000/s\x1b[K',
        '\r\x1b[K',
      ]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('counts without a bar when the total is unknown, and draws nothing off a terminal', () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const tty = fakeStream(true);
      const p = createProgress(tty.stream, 'jobs');
      vi.setSystemTime(1000);
      p.update(1234, 0);
      expect(tty.writes).toEqual(['\r1,234 jobs  1,234/s\x1b[K']);
      const pipe = fakeStream(false);
      const q = createProgress(pipe.stream, 'jobs', 10);
      q.update(5, 5);
      q.done();
      expect(pipe.writes).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });
});
