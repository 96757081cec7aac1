/**
 * Pages of pending and delayed jobs that go on into the segments (core/ops/segment-pages.ts,
 * docs/format.md section 7): with tiny bounds, three priorities, delays spread so that delayed
 * segments overlap, claims that leave segments partly refilled, and cancels that tombstone jobs in
 * segments. Each request is served as the broker serves it: the op runs with the segments read
 * so far, names at most two more, which are read, and runs again. No cache survives a request
 * (the worst case), so every page must still make progress.
 */
import { describe, expect, it } from 'vitest';
import { apply } from '../../../src/core/apply.js';
import type { BatchRequest } from '../../../src/core/batch.js';
import type { ListJobsInput, ListJobsOutput } from '../../../src/core/ops/browse-ops.js';
import { decodeSegment, type DecodedSegment } from '../../../src/core/segments/segment-codec.js';
import type { JobRecord } from '../../../src/core/types.js';
import { mulberry32 } from '../../../src/storage/faulty.js';
import { Topic } from './state-harness.js';

/** One request as the broker serves it; `reads` counts the segments it read. */
function request(t: Topic, input: ListJobsInput, stats: { reads: number; requests: number }): ListJobsOutput {
  const read = new Map<string, DecodedSegment>();
  const segments = (key: string) => read.get(key);
  const run = () => {
    const r = apply(t.state, 'listJobs', { ...input, segments }, t.now);
    if (!r.ok) throw r.error;
    return r.value;
  };
  stats.requests++;
  let out = run();
  if (out.wants) {
    expect(out.wants.length).toBeLessThanOrEqual(2);
    for (const key of out.wants) read.set(key, decodeSegment(t.store.get(key)!, key));
    stats.reads += out.wants.length;
    out = run();
  }
  return out;
}

/** Every page of a state, following the cursors. */
function pageAll(t: Topic, state: 'pending' | 'delayed', limit: number) {
  const stats = { reads: 0, requests: 0 };
  const jobs: JobRecord[] = [];
  let after: string | undefined;
  let total = -1;
  for (;;) {
    const out = request(t, { state, limit, ...(after !== undefined ? { after } : {}) }, stats);
    expect(out.jobs.length).toBeLessThanOrEqual(limit);
    if (total < 0) total = out.total;
    jobs.push(...out.jobs);
    if (out.next === null) break;
    expect(out.next === after && out.jobs.length === 0, 'a request that makes no progress').toBe(false);
    expect(stats.requests).toBeLessThan(2000);
    after = out.next;
  }
  return { jobs, total, stats };
}

const key = (state: 'pending' | 'delayed', j: JobRecord): [number, number] => (state === 'pending' ? [-j.priority, j.order] : [j.runAt, j.order]);
const before = (a: [number, number], b: [number, number]) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

/** Pages through both states and checks them against every job waiting, wherever it is. */
function check(t: Topic, expected: { pending: Set<string>; delayed: Set<string> }, limit: number) {
  for (const state of ['pending', 'delayed'] as const) {
    const { jobs, total } = pageAll(t, state, limit);
    const ids = jobs.map((j) => j.id);
    expect(new Set(ids).size, `${state}: no job twice`).toBe(ids.length);
    expect(new Set(ids), `${state}: every waiting job, nothing cancelled or claimed`).toEqual(expected[state]);
    expect(total).toBe(expected[state].size);
    for (const j of jobs) expect(j.state).toBe(state);
    for (let i = 1; i < jobs.length; i++) expect(before(key(state, jobs[i - 1]!), key(state, jobs[i]!)), `${state}: in order at ${i}`).toBe(true);
  }
}

describe('pages into segments', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`lists every waiting job once, in queue order, over the head and the segments (seed ${seed})`, () => {
      const rnd = mulberry32(seed);
      const t = new Topic();
      const pending = new Set<string>();
      const delayed = new Map<string, number>();
      let n = 0;
      for (let round = 0; round < 12; round++) {
        const jobs = Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => {
          const id = `j${n++}`;
          const delayMs = rnd() < 0.35 ? 1_000 + Math.floor(rnd() * 600_000) : 0;
          if (delayMs > 0) delayed.set(id, t.now + delayMs);
          else pending.add(id);
          return { id, payload: { id }, priority: Math.floor(rnd() * 3), ...(delayMs > 0 ? { delayMs } : {}) };
        });
        t.ok([{ op: 'push', input: { jobs } }]);
        if (rnd() < 0.4) {
          // A claim takes jobs from the front: segments are left partly refilled (their skip).
          const [r] = t.ok([{ op: 'claim', input: { worker: 'w', max: 1 + Math.floor(rnd() * 4), leaseMs: 600_000_000, nonce: `c${round}` } }]) as [{ jobs: Array<{ id: string }> }];
          for (const j of r.jobs) pending.delete(j.id);
        }
        if (rnd() < 0.5) {
          // A cancel of a job anywhere: in a segment it leaves a tombstone.
          const all = [...pending, ...delayed.keys()];
          const id = all[Math.floor(rnd() * all.length)]!;
          const reqs: BatchRequest[] = [{ op: 'cancel', input: { id } }];
          t.ok(reqs);
          pending.delete(id);
          delayed.delete(id);
        }
      }
      if (seed % 2 === 0) t.reload(); // a new leader: fingerprints only, no segment read yet
      expect(t.state.backlog.segPending + t.state.backlog.segDelayed).toBeGreaterThan(0);
      expect(t.state.backlog.tombstones.size + [...t.state.backlog.reg.refs.values()].filter((r) => r.skip > 0).length).toBeGreaterThan(0);
      const expected = { pending, delayed: new Set(delayed.keys()) };
      for (const limit of [1, 3, 7, 50]) check(t, expected, limit);
    });
  }

  it('a page reads at most two segments, and the next page reads on from where it ended', () => {
    const t = new Topic();
    t.ok([{ op: 'push', input: { jobs: Array.from({ length: 40 }, (_, i) => ({ id: `a${String(i).padStart(2, '0')}`, payload: i })) } }]);
    const segs = t.state.backlog.reg.refs.size;
    expect(segs).toBeGreaterThan(4);
    const { jobs, stats } = pageAll(t, 'pending', 50);
    expect(jobs.map((j) => j.id)).toEqual(Array.from({ length: 40 }, (_, i) => `a${String(i).padStart(2, '0')}`));
    expect(stats.requests).toBeGreaterThan(1); // 50 jobs would take more than two segments of 5
    expect(stats.reads).toBe(segs); // each segment read once over all pages
  });

  it('delayed segments that overlap in time are merged by due time, the cursor carrying where each one goes on', () => {
    const t = new Topic();
    // Each push seals its delayed jobs into a segment spanning the same hour: all of them overlap.
    const due = new Map<string, number>();
    for (let s = 0; s < 6; s++) {
      const jobs = Array.from({ length: 6 }, (_, i) => {
        const delayMs = 60_000 + ((i * 7 + s * 3) % 36) * 100_000;
        const id = `d${s}-${i}`;
        due.set(id, delayMs);
        return { id, payload: 1, delayMs };
      });
      t.ok([{ op: 'push', input: { jobs } }]);
    }
    expect(t.state.backlog.delayedSegs.length).toBeGreaterThan(4);
    const { jobs } = pageAll(t, 'delayed', 4);
    expect(new Set(jobs.map((j) => j.id))).toEqual(new Set(due.keys()));
    for (let i = 1; i < jobs.length; i++) expect(before(key('delayed', jobs[i - 1]!), key('delayed', jobs[i]!))).toBe(true);
  });

  it('a search finds a job waiting in a segment by its exact id, through the id index', () => {
    const t = new Topic();
    t.ok([{ op: 'push', input: { jobs: Array.from({ length: 30 }, (_, i) => ({ id: `s${i}`, payload: i })) } }]);
    const deep = 's27';
    expect(t.state.backlog.locate(deep)?.at).toBe('segment');
    const first = apply(t.state, 'listJobs', { state: 'pending', limit: 10, q: deep, segments: () => undefined }, t.now);
    expect(first.ok && first.value).toMatchObject({ jobs: [], lookup: deep });
    const [found] = t.ok([{ op: 'get', input: { id: deep, record: decodeSegmentRecordOf(t, deep) } }]) as [JobRecord];
    const second = apply(t.state, 'listJobs', { state: 'pending', limit: 10, q: deep, found, segments: () => undefined }, t.now);
    expect(second.ok && second.value.jobs.map((j) => j.id)).toEqual([deep]);
    expect(second.ok && second.value.total).toBe(1);
    // A prefix lists the head's matches only: s2 and s20..s29 are mostly in segments.
    const prefix = apply(t.state, 'listJobs', { state: 'pending', limit: 50, q: 's2', segments: () => undefined }, t.now);
    expect(prefix.ok && prefix.value.jobs.every((j) => t.state.backlog.locate(j.id)?.at === 'head')).toBe(true);
  });

  it('a cursor that is not one handed out is refused', () => {
    const t = new Topic();
    for (const after of ['nope', Buffer.from('[1,2,{"k":[1]}]').toString('base64url'), Buffer.from('[1]').toString('base64url')]) {
      const r = apply(t.state, 'listJobs', { state: 'delayed', limit: 5, after, segments: () => undefined }, t.now);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.error.code).toBe('INVALID_ARGUMENT');
    }
  });
});

function decodeSegmentRecordOf(t: Topic, id: string): JobRecord {
  for (const [key, bytes] of t.store) {
    const seg = decodeSegment(bytes, key);
    const i = seg.meta.ids.indexOf(id);
    if (i >= 0 && t.state.backlog.reg.refs.has(key)) return seg.jobs[i]!;
  }
  throw new Error(`${id} is in no segment`);
}
