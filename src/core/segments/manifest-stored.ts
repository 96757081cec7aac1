/**
 * The manifest as queue.json stores it (docs/format.md, section 2, `"v": 2`): one short array a
 * segment instead of an object with long field names and the full key. The manifest is the one
 * part of the head that grows with the backlog (one entry a segment: 1,500 at 10,000,000 jobs),
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
import type { Backlog } from './backlog.js';
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

/** Names made, by key: every commit asks again for its tombstones' names. Emptied past NAMES_KEPT. */
const names = new Map<string, string>();
const NAMES_KEPT = 8192;

/** `segments/t/0000000003-000000000811-9f2c01ab-0.seg` → `3-811-9f2c01ab-0` (a key of another shape is kept whole). */
export function segmentName(key: string): string {
  let name = names.get(key);
  if (name === undefined) {
    const m = KEY.exec(key);
    name = m ? `${m[1]}-${m[2]}-${m[3]}-${m[4]}` : key;
    if (names.size >= NAMES_KEPT) names.clear();
    names.set(key, name);
  }
  return name;
}

/**
 * Tombstones as an object, by job id, each value (a segment's key or stored name) through `name`.
 * Object.fromEntries defines each id as a property of its own: an assignment would hand the id
 * `__proto__` to the prototype's setter, and that job's tombstone would be lost (a cancelled job
 * back after a reload).
 */
function tombstoneObject<V>(entries: Iterable<[string, V]>, name: (id: string, value: V) => string): Record<string, string> {
  return Object.fromEntries(Array.from(entries, ([id, key]) => [id, name(id, key)]));
}

/** The key of a stored name; undefined when it is not one. */
export function keyOfName(topic: string, name: string): string | undefined {
  if (name.startsWith(segmentPrefix(topic))) return name;
  const m = NAME.exec(name);
  return m ? segmentKey(topic, { epoch: Number(m[1]), seq: Number(m[2]), nonce: m[3]! }, Number(m[4])) : undefined;
}

/** A ready segment's stored entry (see the header). */
function readyEntry(r: ReadySegmentRef, name: string): Array<string | number> {
  const e: Array<string | number> = [name, r.priority, r.n, r.first, r.last - r.first, r.bytes];
  if (r.skip > 0 || r.tombstones > 0 || r.next !== r.first) e.push(r.skip, r.next - r.first, r.tombstones);
  return e;
}

/** A delayed segment's stored entry. */
function delayedEntry(d: DelayedSegmentRef, name: string): Array<string | number> {
  const e: Array<string | number> = [name, d.n, d.next[0], d.next[1], d.last, d.bytes];
  if (d.skip > 0 || d.tombstones > 0) e.push(d.skip, d.tombstones);
  return e;
}

export function storeManifest(m: BacklogManifest): StoredManifest {
  return {
    v: 2,
    ready: m.ready.map((r) => readyEntry(r, segmentName(r.key))),
    delayed: m.delayed.map((d) => delayedEntry(d, segmentName(d.key))),
    tombstones: tombstoneObject(Object.entries(m.tombstones), (_id, key) => segmentName(key)),
    garbage: m.garbage.map((g) => [segmentName(g.key), g.at]),
    counts: { ...m.counts },
  };
}

/**
 * An entry's JSON text, kept with a copy of the ref it was made from. A segment's ref is one object
 * for as long as the backlog names it, changed in place (`skip`, `next`, `tombstones` as jobs move
 * into the head), so its text is made again only when one of the fields it shows differs.
 */
type KeptReady = ReadySegmentRef & { text: string };
type KeptDelayed = Omit<DelayedSegmentRef, 'next'> & { runAt: number; order: number; text: string };
const keptReady = new WeakMap<ReadySegmentRef, KeptReady>();
const keptDelayed = new WeakMap<DelayedSegmentRef, KeptDelayed>();
const keptGarbage = new WeakMap<{ key: string; at: number }, { key: string; at: number; text: string }>();

function readyText(r: ReadySegmentRef): string {
  const k = keptReady.get(r);
  if (k && k.key === r.key && k.priority === r.priority && k.n === r.n && k.first === r.first && k.last === r.last && k.bytes === r.bytes && k.skip === r.skip && k.next === r.next && k.tombstones === r.tombstones) return k.text;
  const text = JSON.stringify(readyEntry(r, segmentName(r.key)));
  keptReady.set(r, { ...r, text });
  return text;
}

function delayedText(d: DelayedSegmentRef): string {
  const k = keptDelayed.get(d);
  if (k && k.key === d.key && k.n === d.n && k.runAt === d.next[0] && k.order === d.next[1] && k.last === d.last && k.bytes === d.bytes && k.skip === d.skip && k.tombstones === d.tombstones) return k.text;
  const text = JSON.stringify(delayedEntry(d, segmentName(d.key)));
  keptDelayed.set(d, { key: d.key, n: d.n, runAt: d.next[0], order: d.next[1], last: d.last, bytes: d.bytes, skip: d.skip, tombstones: d.tombstones, text });
  return text;
}

function garbageText(g: { key: string; at: number }): string {
  const k = keptGarbage.get(g);
  if (k && k.key === g.key && k.at === g.at) return k.text;
  const text = JSON.stringify([segmentName(g.key), g.at]);
  keptGarbage.set(g, { key: g.key, at: g.at, text });
  return text;
}

/**
 * The backlog's manifest as queue.json stores it, as JSON text: the same text as
 * `JSON.stringify(storeManifest(b.manifest()))` (invariants.ts checks it after every step of the
 * backlog's property tests), without copying every ref and making every entry again at every
 * commit. The manifest is the part of the head that grows with the backlog (1,500
 * segments and 90 KiB at 10,000,000 jobs waiting, where making it from scratch took 1.0–1.5 ms
 * of every commit's CPU and this takes about 0.2; docs/benchmarks.md, "Scale limits"); an entry's
 * text is made again only when its ref changed, which a commit does to a few.
 */
export function manifestJson(b: Backlog): string {
  let ready = '';
  for (const p of b.priorities) for (const r of b.chains.get(p)!.segments) ready += (ready === '' ? '' : ',') + readyText(r);
  let delayed = '';
  for (const d of b.delayedSegs) delayed += (delayed === '' ? '' : ',') + delayedText(d);
  let garbage = '';
  for (const g of b.reg.garbage) garbage += (garbage === '' ? '' : ',') + garbageText(g);
  const tombstones = JSON.stringify(tombstoneObject(b.tombstones, (_id, key) => segmentName(key)));
  const counts = JSON.stringify({ pending: b.segPending, delayed: b.segDelayed });
  return `{"v":2,"ready":[${ready}],"delayed":[${delayed}],"tombstones":${tombstones},"garbage":[${garbage}],"counts":${counts}}`;
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
  const tombstones = tombstoneObject(Object.entries(raw.tombstones), (id, name) => key(name, `tombstone ${id}`));
  const garbage = raw.garbage.map((g) => {
    if (!Array.isArray(g) || g.length !== 2) throw bad('has a bad garbage entry');
    return { key: key(g[0], 'garbage'), at: g[1] as number };
  });
  return { v: 1, ready, delayed, tombstones, garbage, counts: raw.counts } satisfies Omit<BacklogManifest, 'counts'> & { counts: unknown };
}
