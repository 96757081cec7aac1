/**
 * Small segments at the end of a chain are merged into the next seal (docs/format.md, "Push"):
 * however jobs arrive (one per commit, or in bulk), a chain is full segments plus a few small
 * ones, so the manifest grows with backlog / segmentMaxJobs. A merge keeps FIFO per priority, the
 * id index, tombstones and the garbage list right, and a commit that never lands loses nothing.
 */
import { describe, expect, it } from 'vitest';
import { assertBacklogInvariants } from '../../../src/core/segments/invariants.js';
import type { BacklogLimits } from '../../../src/core/segments/manifest.js';
import { BacklogHarness, drain, push } from './backlog-harness.js';

const LIMITS: Partial<BacklogLimits> = { windowJobs: 6, lowWater: 3, tailSealJobs: 4, tailTotalJobs: 40, segmentMaxJobs: 16, delayedHeadMax: 4, delayedLookaheadMs: 1000, tombstoneMax: 8 };

/** Jobs the id index holds: one entry per job not yet taken from a segment, none left behind by a merge. */
function indexedJobs(h: BacklogHarness): number {
  let n = 0;
  for (const r of h.b.reg.refs.values()) n += r.n - r.skip;
  return n;
}

describe('merging small segments', () => {
  it('one-job commits end up in full segments plus a few small ones, in FIFO order, every id found', () => {
    const h = new BacklogHarness(LIMITS);
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) {
      ids.push(...push(h, 1));
      h.commit();
      assertBacklogInvariants(h.b);
    }
    const segs = h.b.chains.get(0)!.segments;
    const small = segs.filter((s) => s.n < 16);
    // Without merging: one segment per 4 jobs (about 74). With it: full ones and at most log2(16/4) + 1 small ones.
    expect(segs.length).toBeLessThanOrEqual(Math.ceil(300 / 16) + 3);
    expect(small.length).toBeLessThanOrEqual(3);
    expect(h.b.reg.index.size).toBe(indexedJobs(h));
    // Merged-away segments left the manifest into garbage (deleted after the grace, as any retired segment).
    const named = new Set(h.b.reg.refs.keys());
    expect(h.b.reg.garbage.length).toBeGreaterThan(0);
    for (const g of h.b.reg.garbage) expect(named.has(g.key)).toBe(false);
    for (const id of ids.slice(6, 290)) {
      const loc = h.locate(id);
      expect(loc?.at === 'segment' || loc?.at === 'head', id).toBe(true);
      if (loc?.at === 'segment') expect(h.decoded(loc.key).meta.ids).toContain(id);
    }
    expect(drain(h)).toEqual(ids);
  });

  it('a bulk push takes in a remainder under a quarter segment and leaves a larger one; smaller pushes merge as ever, per priority', () => {
    const h = new BacklogHarness(LIMITS);
    const byPriority: Record<number, string[]> = { 0: [], 1: [], 2: [] };
    for (let i = 0; i < 12; i++) {
      byPriority[0]!.push(...push(h, 17, 0, 0, 'p0-')); // 16 + 1, then 16 + 2 (the 1 merged), ... up to a remainder of 4
      byPriority[1]!.push(...push(h, 21, 1, 0, 'p1-')); // 16 + 5: a remainder of a quarter or more is never written again
      byPriority[2]!.push(...push(h, 9, 2, 0, 'p2-')); // not a bulk seal: merged while no larger than the seal
      h.commit();
      assertBacklogInvariants(h.b);
    }
    const small = (p: number) => h.b.chains.get(p)!.segments.filter((s) => s.n < 16).map((s) => s.n);
    // The first push's 11 (the window took 6), then 16 + 1, 16 + 2 (the 1 merged), 16 + 3, 16 + 4,
    // and the 4 is left: twice in twelve pushes; the last seal's 3 is held.
    expect(small(0)).toEqual([11, 4, 4, 3]);
    expect(small(1)).toEqual(Array.from({ length: 12 }, () => 5)); // at most one small segment a full one
    expect(small(2).length).toBeLessThanOrEqual(3);
    expect(h.b.reg.index.size).toBe(indexedJobs(h));
    expect(drain(h)).toEqual([...byPriority[2]!, ...byPriority[1]!, ...byPriority[0]!]);
  });

  it('a segment with a tombstone is not merged; the cancelled job stays out', () => {
    const h = new BacklogHarness(LIMITS);
    const first = push(h, 12); // window 6, then a segment of 6 (held, small)
    h.commit();
    const held = h.b.chains.get(0)!.segments.at(-1)!;
    const victim = first[8]!;
    expect(h.cancel(victim)).toEqual({ tombstoned: held.key });
    const second = push(h, 8);
    h.commit();
    expect(h.b.reg.refs.get(held.key)).toBe(held); // still named: its tombstone is the head's
    expect(h.b.reg.index.size).toBe(indexedJobs(h));
    assertBacklogInvariants(h.b);
    expect(drain(h)).toEqual([...first, ...second].filter((id) => id !== victim));
  });

  it('a merge whose head never lands loses nothing: the old segments are still named, the merged one is an orphan', () => {
    const h = new BacklogHarness(LIMITS);
    const first = push(h, 10);
    h.commit();
    const before = [...h.b.reg.refs.keys()];
    const lost = push(h, 8); // their commit crashes after writing its (merged) segment
    const orphans = h.crash(true);
    expect(orphans.length).toBeGreaterThan(0);
    expect([...h.b.reg.refs.keys()]).toEqual(before);
    for (const k of orphans) expect(h.b.reg.refs.has(k)).toBe(false);
    for (const id of lost) expect(h.locate(id)).toBeUndefined();
    const again = push(h, 8); // the loaded backlog holds no jobs of its segments: it merges from its next seal on
    h.commit();
    assertBacklogInvariants(h.b);
    expect(drain(h)).toEqual([...first, ...again]);
  });
});
