/**
 * The manifest as queue.json stores it (docs/format.md, section 2, `"v": 2`): one short array a
 * segment instead of an object with long field names and the full key. The manifest is the one
 * part of the head that grows with the backlog (one entry a segment: 1,250 at 10,000,000 jobs),
 * so every byte of an entry counts against the head's budget. What is dropped is derivable: the
 * key's `segments/<topic>/` prefix, `.seg` and zero padding (segment-keys.ts rebuilds it), a ready
 * segment's `next` while nothing is taken from it (it is `first`), `last` as a distance from
 * `first`, and `skip`/`tombstones` while both are 0.
 *
 *   ready:   [name, priority, n, first, last - first, bytes]  (+ [skip, next - first, tombstones])
 *   delayed: [name, n, next runAt, next order, last runAt, bytes]  (+ [skip, tombstones])
 *   tombstones: { id: name }, garbage: [[name, at], ...]
 *
 * Version 1 (objects with full keys) is still read. Shapes are checked here only as far as
 * expanding needs; checkManifest (manifest.ts) then checks the expanded manifest as ever.
 */
import type { BacklogManifest, DelayedSegmentRef, ReadySegmentRef } from './manifest.js';
import { segmentKey, segmentPrefix } from './segment-keys.js';

export interface StoredManifest {
  v: 2;
  ready: number[][] | Array<Array<string | number>>;
  delayed: Array<Array<string | number>>;
  tombstones: Record<string, string>;
  garbage: Array<[string, number]>;
  counts: { pending: number; delayed: number };
}

const KEY = /^segments\/[^/]+\/0*(\d+)-0*(\d+)-([0-9a-f]{8})-(\d+)\.seg$/;
const NAME = /^(\d+)-(\d+)-([0-9a-f]{8})-(\d+)$/;

/** `segments/t/0000000003-000000000811-9f2c01ab-0.seg` → `3-811-9f2c01ab-0` (a key of another shape is kept whole). */
export function segmentName(key: string): string {
  const m = KEY.exec(key);
  return m ? `${m[1]}-${m[2]}-${m[3]}-${m[4]}` : key;
}

/** The key of a stored name; undefined when it is not one. */
export function keyOfName(topic: string, name: string): string | undefined {
  if (name.startsWith(segmentPrefix(topic))) return name;
  const m = NAME.exec(name);
  return m ? segmentKey(topic, { epoch: Number(m[1]), seq: Number(m[2]), nonce: m[3]! }, Number(m[4])) : undefined;
}

export function storeManifest(m: BacklogManifest): StoredManifest {
  const ready = m.ready.map((r) => {
    const e: Array<string | number> = [segmentName(r.key), r.priority, r.n, r.first, r.last - r.first, r.bytes];
    if (r.skip > 0 || r.tombstones > 0 || r.next !== r.first) e.push(r.skip, r.next - r.first, r.tombstones);
    return e;
  });
  const delayed = m.delayed.map((d) => {
    const e: Array<string | number> = [segmentName(d.key), d.n, d.next[0], d.next[1], d.last, d.bytes];
    if (d.skip > 0 || d.tombstones > 0) e.push(d.skip, d.tombstones);
    return e;
  });
  const tombstones: Record<string, string> = {};
  for (const [id, key] of Object.entries(m.tombstones)) tombstones[id] = segmentName(key);
  return { v: 2, ready, delayed, tombstones, garbage: m.garbage.map((g) => [segmentName(g.key), g.at]), counts: { ...m.counts } };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A version-2 manifest as the logical one (version 1's shape), for checkManifest to check; `bad`
 * makes the error for what cannot be expanded.
 */
export function expandManifest(raw: Record<string, unknown>, topic: string, bad: (why: string) => Error): unknown {
  if (!Array.isArray(raw.ready) || !Array.isArray(raw.delayed) || !isObj(raw.tombstones) || !Array.isArray(raw.garbage)) throw bad('lacks ready, delayed, tombstones, garbage or counts');
  const key = (name: unknown, what: string): string => {
    const k = typeof name === 'string' ? keyOfName(topic, name) : undefined;
    if (k === undefined) throw bad(`names a segment ${JSON.stringify(name)} that is not a segment name (${what})`);
    return k;
  };
  const entry = (e: unknown, min: number, max: number, what: string): unknown[] => {
    if (!Array.isArray(e) || (e.length !== min && e.length !== max)) throw bad(`has a bad ${what} segment ${JSON.stringify(e)}`);
    return e;
  };
  const ready = raw.ready.map((e): ReadySegmentRef => {
    const [name, priority, n, first, lastDelta, bytes, skip = 0, nextDelta = 0, tombstones = 0] = entry(e, 6, 9, 'ready') as [unknown, number, number, number, number, number, number?, number?, number?];
    return { key: key(name, 'ready'), priority, n, skip, first, next: first + nextDelta, last: first + lastDelta, bytes, tombstones };
  });
  const delayed = raw.delayed.map((e): DelayedSegmentRef => {
    const [name, n, runAt, order, last, bytes, skip = 0, tombstones = 0] = entry(e, 6, 8, 'delayed') as [unknown, number, number, number, number, number, number?, number?];
    return { key: key(name, 'delayed'), n, skip, next: [runAt, order], last, bytes, tombstones };
  });
  const tombstones: Record<string, string> = {};
  for (const [id, name] of Object.entries(raw.tombstones)) tombstones[id] = key(name, `tombstone ${id}`);
  const garbage = raw.garbage.map((g) => {
    if (!Array.isArray(g) || g.length !== 2) throw bad('has a bad garbage entry');
    return { key: key(g[0], 'garbage'), at: g[1] as number };
  });
  return { v: 1, ready, delayed, tombstones, garbage, counts: raw.counts } satisfies Omit<BacklogManifest, 'counts'> & { counts: unknown };
}
