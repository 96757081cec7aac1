/** JobHistory: what it keeps of the event feed, and its bounds. */
import { describe, expect, it } from 'vitest';
import { JobHistory, MAX_ENTRIES, MAX_JOBS } from '../../src/transports/http/dashboard-server/job-history.js';

const ev = (kind: string, job: string, extra: Record<string, unknown> = {}) => ({ kind, topic: 't', time: 1, seq: 1, job, ...extra });

describe('JobHistory', () => {
  it('keeps job events only, tells an expired lease from a nack', () => {
    const h = new JobHistory();
    h.record({ kind: 'commit', topic: 't', time: 1 });
    h.record(ev('nacked', 'a', { worker: 'w', error: 'lease expired', runAt: 1 }));
    h.record(ev('nacked', 'a', { worker: 'w', error: 'boom' }));
    expect(h.size).toBe(1);
    expect(h.of('t', 'a')).toEqual([
      { at: 1, event: 'expired', worker: 'w', error: 'lease expired' },
      { at: 1, event: 'nacked', worker: 'w', error: 'boom' },
    ]);
    expect(h.of('other', 'a')).toBeUndefined();
  });

  it(`keeps the last ${MAX_ENTRIES} entries of the ${MAX_JOBS} jobs that moved last`, () => {
    const h = new JobHistory();
    for (let i = 0; i < MAX_ENTRIES + 5; i++) h.record(ev('claimed', 'busy', { worker: `w${i}` }));
    const busy = h.of('t', 'busy')!;
    expect(busy).toHaveLength(MAX_ENTRIES);
    expect(busy.at(-1)!.worker).toBe(`w${MAX_ENTRIES + 4}`);
    for (let i = 0; i < MAX_JOBS; i++) h.record(ev('pushed', `j${i}`));
    expect(h.size).toBe(MAX_JOBS);
    expect(h.of('t', 'busy')).toBeUndefined(); // moved least recently: evicted first
    expect(h.of('t', 'j0')).toBeDefined();
  });
});
