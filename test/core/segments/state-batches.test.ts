/**
 * The topic state with its segmented backlog, through the commit path of the pure core: batches
 * (applyBatch) plan segment writes, queue.json (format 3) names them, a reload reads them back,
 * and claims, pushes, cancels and gets see jobs wherever they are (docs/format.md).
 */
import { describe, expect, it } from 'vitest';
import { applyBatch, type BatchRequest } from '../../../src/core/batch.js';
import { parseState, serializeState } from '../../../src/core/codec.js';
import { checkManifest } from '../../../src/core/segments/manifest.js';
import { decodeSegment, decodeSegmentMeta } from '../../../src/core/segments/segment-codec.js';
import { segmentLookups } from '../../../src/core/segments/lookups.js';
import { createState } from '../../../src/core/state.js';
import { drain, ELECT, NOW, Topic } from './state-harness.js';

const pushes = (ids: string[], priority = 0): BatchRequest => ({ op: 'push', input: { jobs: ids.map((id) => ({ id, payload: id, priority })) } });
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('the topic state with segments', () => {
  it('a pushMany beyond the window is written as segments before the head that names them, and claims stay FIFO across them', () => {
    const t = new Topic();
    const out = t.batch([pushes(ids('a', 30))]);
    expect(out.segmentWrites.length).toBeGreaterThan(0);
    const head = JSON.parse(t.head);
    expect(head.format).toBe(3);
    expect(head.jobs.length).toBeLessThan(30);
    expect(checkManifest(head.backlog, 'queue.json', 't').ready.map((r) => r.key)).toEqual(out.segmentWrites.map((w) => w.key));
    expect(t.state.idx.counts.pending).toBe(30);
    const [page] = t.ok([{ op: 'listJobs', input: { state: 'pending', limit: 100 } }]) as [{ jobs: unknown[]; total: number; inSegments: number }];
    expect(page.jobs.length + page.inSegments).toBe(30); // the head's jobs listed, the segments' counted
    expect(drain(t, 4)).toEqual(ids('a', 30));
  });

  it('a push of higher priority never waits behind a lower priority segment', () => {
    const t = new Topic();
    t.batch([pushes(ids('low', 20), 0)]);
    t.batch([pushes(['urgent'], 9)]);
    expect(drain(t, 3)).toEqual(['urgent', ...ids('low', 20)]);
  });

  it('after a reload (takeover) the segments are read back, duplicates are refused and cancels reach into segments', () => {
    const t = new Topic();
    t.batch([pushes(ids('a', 25))]);
    t.reload();
    const [dup] = t.ok([pushes(['a20', 'new'])]) as [{ jobs: Array<{ id: string; created: boolean; state: string }> }];
    expect(dup.jobs).toEqual([
      { id: 'a20', created: false, state: 'pending' },
      { id: 'new', created: true, state: 'pending' },
    ]);
    const [cancelled] = t.ok([{ op: 'cancel', input: { id: 'a21' } }]);
    expect(cancelled).toEqual({ id: 'a21', state: 'cancelled' });
    expect(JSON.parse(t.head).backlog.tombstones).toHaveProperty('a21');
    const again = t.batch([{ op: 'cancel', input: { id: 'a21' } }]).results[0]!;
    expect(again.ok ? 'ok' : again.error.code).toBe('FAILED_PRECONDITION');
    expect(drain(t, 5)).toEqual([...ids('a', 25).filter((id) => id !== 'a21'), 'new']);
    expect(JSON.parse(t.head).backlog.tombstones).toEqual({});
  });

  it('cancels of most of a segment have it compacted: its live jobs rewritten, its tombstones gone, the old one garbage', () => {
    const t = new Topic();
    t.batch([pushes(ids('a', 25))]);
    const victim = checkManifest(JSON.parse(t.head).backlog, 'queue.json', 't').ready[1]!;
    const inVictim = decodeSegmentMeta(t.store.get(victim.key)!, victim.key).ids;
    for (const id of inVictim.slice(0, 3)) t.ok([{ op: 'cancel', input: { id } }]);
    t.batch([]); // the cancels' segment is read (the store is the source): compacted in this batch
    const m = checkManifest(JSON.parse(t.head).backlog, 'queue.json', 't');
    expect(m.ready.map((r) => r.key)).not.toContain(victim.key);
    expect(m.garbage.map((g) => g.key)).toContain(victim.key);
    expect(m.tombstones).toEqual({});
    expect(drain(t, 4)).toEqual(ids('a', 25).filter((id) => !inVictim.slice(0, 3).includes(id)));
  });

  it('a retried push whose ids lie in more segments than the confirmation cache holds is answered in full', () => {
    const t = new Topic();
    t.batch([pushes(ids('a', 120))]); // about 23 segments of 5
    t.reload();
    expect(JSON.parse(t.head).backlog.ready.length).toBeGreaterThan(16);
    const [again] = t.ok([pushes(ids('a', 120))]) as [{ jobs: Array<{ created: boolean }> }];
    expect(again.jobs.every((j) => !j.created)).toBe(true);
  });

  it('a get of a job in a segment asks for its record, then answers from it', () => {
    const t = new Topic();
    t.batch([pushes(ids('a', 25))]);
    const miss = t.batch([{ op: 'get', input: { id: 'a24' } }]).results[0]!;
    expect(miss.ok ? 'ok' : miss.error.code).toBe('UNAVAILABLE');
    const key = (miss.ok ? undefined : (miss.error.details as { segment: string }).segment)!;
    expect(segmentLookups(t.state, [{ op: 'get', input: { id: 'a24' } }]).records.get('a24')).toBe(key);
    const record = decodeSegment(t.store.get(key)!, key).jobs.find((j) => j.id === 'a24')!;
    const [got] = t.ok([{ op: 'get', input: { id: 'a24', record } }]);
    expect(got).toMatchObject({ id: 'a24', state: 'pending', payload: 'a24' });
  });

  it('a format-2 head is upgraded: its excess is sealed into segments by the first commit', () => {
    const small = createState('t');
    applyBatch(small, 'A', [pushes(ids('a', 20))], ELECT, NOW);
    const v2 = JSON.parse(serializeState(small).toString());
    v2.format = 2;
    delete v2.backlog;
    const t = new Topic();
    t.head = JSON.stringify(v2);
    t.reload();
    const out = t.batch([]);
    expect(out.changed).toBe(true);
    expect(out.segmentWrites.length).toBeGreaterThan(0);
    expect(JSON.parse(t.head).format).toBe(3);
    expect(drain(t, 3)).toEqual(ids('a', 20));
  });

  it("a small topic's queue.json is format 2's plus an empty manifest", () => {
    const s = createState('t');
    applyBatch(s, 'A', [pushes(ids('a', 3))], ELECT, NOW);
    const head = JSON.parse(serializeState(s).toString());
    expect(head.backlog).toEqual({ v: 2, ready: [], delayed: [], tombstones: {}, garbage: [], counts: { pending: 0, delayed: 0 } });
    expect(head.jobs.map((j: { id: string }) => j.id)).toEqual(ids('a', 3));
    expect(parseState(serializeState(s).toString(), 'q', NOW).idx.counts.pending).toBe(3);
  });
});
