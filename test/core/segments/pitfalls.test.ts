/** One test per pitfall of segmented topics that a pure structure can show (docs/format.md). */
import { describe, expect, it } from 'vitest';
import { backlogFromJobs } from '../../../src/core/segments/backlog-load.js';
import { assertBacklogInvariants } from '../../../src/core/segments/invariants.js';
import { isOrphan, parseSegmentKey } from '../../../src/core/segments/segment-keys.js';
import { BacklogHarness, drain, newJob, push, SMALL } from './backlog-harness.js';

describe('segmented backlog pitfalls', () => {
  it('a push of the same priority goes behind an existing segment, not into the window (FIFO)', () => {
    const h = new BacklogHarness();
    const first = push(h, 20);
    h.commit();
    expect(h.b.chains.get(0)!.segments.length).toBeGreaterThan(0);
    h.claim(6); // the window drains; its segments still wait
    const late = push(h, 1);
    expect(h.b.chains.get(0)!.tail.map((j) => j.id)).toEqual(late);
    expect(drain(h)).toEqual([...first.slice(6), ...late]);
  });

  it('a high-priority push is not queued behind segments of lower-priority jobs', () => {
    const h = new BacklogHarness();
    push(h, 30, 0);
    h.commit();
    const urgent = push(h, 1, 5, 0, 'u');
    const got = h.claim(1);
    expect(got.jobs.map((j) => j.id)).toEqual(urgent);
  });

  it('a claim never takes a lower priority while a higher one waits in an unread segment: it stops and names the segment', () => {
    const h = new BacklogHarness();
    push(h, 20, 5, 0, 'hi');
    push(h, 3, 0, 0, 'lo');
    h.commit();
    const got = h.claim(100);
    expect(got.jobs.every((j) => j.priority === 5)).toBe(true);
    expect(got.blocked).toBe(h.b.chains.get(5)!.segments[0]!.key);
    expect(h.b.needs(h.now)).toContain(got.blocked);
  });

  it('asks for the next segment ahead of need, below the low-water mark, before a claim would stop', () => {
    const h = new BacklogHarness();
    push(h, 20);
    h.commit();
    expect(h.b.needs(h.now)).toEqual([]); // the window is full: nothing to read yet
    h.claim(4); // 2 left in the window, under lowWater (3)
    const needs = h.b.needs(h.now);
    expect(needs).toEqual([h.b.chains.get(0)!.segments[0]!.key]);
    // A read that has not arrived (or failed) holds nothing up: claims go on from the window.
    expect(h.b.refill(() => undefined, h.now)).toBe(0);
    expect(h.claim(2).jobs.length).toBe(2);
    expect(h.refill()).toBeGreaterThan(0);
  });

  it('a delayed job due now is not buried in a segment: its segment is asked for by the lookahead, and promotion waits for it', () => {
    const h = new BacklogHarness();
    const later = push(h, 12, 0, 5000, 'd');
    h.commit();
    expect(h.b.delayedSegs.length).toBeGreaterThan(0);
    expect(h.b.needs(h.now)).toEqual([]);
    h.now += 5000 - SMALL.delayedLookaheadMs!; // within the lookahead of the first due time
    expect(h.b.needs(h.now)).toContain(h.b.delayedSegs[0]!.key);
    h.now += SMALL.delayedLookaheadMs!;
    // Not read yet: promotion stops at the segment rather than promote out of order.
    expect(h.b.promoteDue(h.now).blocked).toBe(h.b.delayedSegs[0]!.key);
    h.loadDue();
    expect(drain(h)).toEqual(later);
  });

  it('a delayed job due in an hour holds no place in the ready window', () => {
    const h = new BacklogHarness();
    push(h, 1, 0, 3_600_000, 'later');
    const now = push(h, 1, 0, 0, 'now');
    expect([...h.b.windowSize.keys()].map((j) => j.id)).toEqual(now);
    expect(h.claim(5).jobs.map((j) => j.id)).toEqual(now);
  });

  it('finds an id anywhere in the backlog (idempotent push, get, cancel), from fingerprints only after a reload', () => {
    const h = new BacklogHarness();
    const ids = push(h, 40);
    h.commit();
    h.reload();
    const deep = ids[30]!;
    const loc = h.b.locate(deep);
    expect(loc?.at).toBe('unindexed'); // the index is built from segment fingerprints, not payloads
    expect(h.locate(deep)).toMatchObject({ at: 'segment' });
    expect(h.locate('never-pushed')).toBeUndefined();
    expect(h.cancel(deep)).toMatchObject({ tombstoned: expect.any(String) });
    expect(h.locate(deep)?.at).toBe('cancelled');
    expect(drain(h)).toEqual(ids.filter((id) => id !== deep));
  });

  it('keeps tombstones bounded: compaction is planned past the soft bound, cancels refused past the hard one', () => {
    const h = new BacklogHarness();
    const ids = push(h, 60);
    h.commit();
    const deep = ids.slice(10);
    let refused = 0;
    for (const id of deep) {
      try {
        h.cancel(id);
      } catch (err) {
        expect((err as { code: string }).code).toBe('UNAVAILABLE');
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(0);
    expect(h.b.tombstones.size).toBe(4 * SMALL.tombstoneMax!);
    const plan = h.b.compactionPlan();
    expect(plan.length).toBeGreaterThan(0);
    h.b.compact(plan, h.source(), h.now);
    expect(h.b.tombstones.size).toBeLessThanOrEqual(SMALL.tombstoneMax!);
    assertBacklogInvariants(h.b);
    // The compacted segments are garbage, never rewritten in place: new names, old ones retired.
    for (const key of plan) expect(h.b.reg.garbage.map((g) => g.key)).toContain(key);
    h.commit();
  });

  it('a commit that never lands leaves its segments unnamed: a retry writes new names, and the old ones are orphans', () => {
    const h = new BacklogHarness();
    push(h, 20);
    const orphans = h.crash(true);
    expect(orphans.length).toBeGreaterThan(0);
    push(h, 20);
    h.commit();
    const named = new Set(h.b.manifest().ready.map((s) => s.key));
    for (const k of orphans) {
      expect(named.has(k)).toBe(false);
      expect(isOrphan(k, { referenced: named, inFlight: new Set(), epoch: 1, landedSeq: h.seq - 1 })).toBe(true);
    }
    // A newer leader's keys are never ours to delete; nor are keys of our attempt in flight.
    expect(isOrphan('segments/t/0000000002-000000000001-00000000-0.seg', { referenced: named, inFlight: new Set(), epoch: 1, landedSeq: 99 })).toBe(false);
    expect(isOrphan(orphans[0]!, { referenced: named, inFlight: new Set([orphans[0]!]), epoch: 1, landedSeq: 99 })).toBe(false);
    expect(parseSegmentKey(orphans[0]!)).toMatchObject({ epoch: 1, seq: 1 });
  });

  it('a takeover during compaction: the new segments were written but the swap never landed; the old head still serves everything', () => {
    const h = new BacklogHarness();
    const ids = push(h, 40);
    h.commit();
    for (const id of ids.slice(20, 30)) h.cancel(id);
    h.commit();
    h.b.compact(h.b.compactionPlan(), h.source(), h.now);
    const written = h.crash(true); // compacted segments written, head not: the leader died
    expect(written.length).toBeGreaterThan(0);
    expect(drain(h)).toEqual([...ids.slice(0, 20), ...ids.slice(30)]);
  });

  it('upgrades a format-2 topic: every job in the head becomes window and tails that the first commit seals', () => {
    const now = 1_700_000_000_000;
    const jobs = [];
    for (let i = 1; i <= 50; i++) jobs.push({ ...newJob(`o${i}`, i % 3, i, i % 10 === 0 ? now + 60_000 : now, now), state: i % 10 === 0 ? ('delayed' as const) : ('pending' as const) });
    const h = new BacklogHarness();
    h.b = backlogFromJobs('t', h.orders, jobs, now, SMALL);
    h.orders.nextOrder = 51;
    h.begin();
    h.commit();
    expect(h.b.reg.refs.size).toBeGreaterThan(0);
    expect(h.b.windowSize.size).toBeLessThanOrEqual(SMALL.windowJobs!);
    h.reload();
    const want = jobs.filter((j) => j.state === 'pending').sort((a, b) => b.priority - a.priority || a.order - b.order).map((j) => j.id);
    expect(drain(h)).toEqual(want);
    expect(h.b.counts().delayed).toBe(5);
  });
});
