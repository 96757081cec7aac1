/**
 * A topic's segmented backlog as the offline tools see it (`bucketq inspect`, `bucketq doctor
 * --topic`; docs/format.md, section 7): what the head's manifest says (pure, from the stored
 * JSON), what the store holds under `segments/<topic>/` (each named segment read and decoded),
 * and what it holds that no head names (orphans). Reads only; never writes or deletes: the leader
 * collects garbage and orphans (broker/topic-segments.ts).
 */
import { checkManifest, type BacklogManifest } from '../core/segments/manifest.js';
import { decodeSegment, decodeSegmentMeta } from '../core/segments/segment-codec.js';
import { parseSegmentKey, segmentPrefix } from '../core/segments/segment-keys.js';
import type { JobRecord } from '../core/types.js';
import { isQueueError } from '../errors.js';
import type { StorageDriver } from './types.js';

/** The head's jobs of one priority and what waits in its segments. */
export interface PriorityBacklog {
  priority: number;
  /** Pending jobs in the head ahead of the first segment (the window). */
  window: number;
  /** Pending jobs in the head behind the last segment (the tail). */
  tail: number;
  segments: number;
  /** Jobs waiting in those segments, not tombstoned. */
  inSegments: number;
}

export interface BacklogSummary {
  priorities: PriorityBacklog[];
  delayed: { inHead: number; segments: number; inSegments: number };
  /** Segments the manifest names, and their bytes. */
  segments: number;
  bytes: number;
  tombstones: number;
  /** Segments that left the manifest, awaiting deletion by the leader (at + 2 × its lease). */
  garbage: Array<{ key: string; at: number }>;
  /** The manifest's own counts (jobs in segments, not tombstoned). */
  counts: { pending: number; delayed: number };
}

/** One segment the manifest names. */
export interface NamedSegment {
  key: string;
  kind: 'ready' | 'delayed';
  /** The chain's priority (ready); null for delayed segments, which mix priorities. */
  priority: number | null;
  jobs: number;
  /** Leading jobs already moved into the head. */
  skip: number;
  tombstones: number;
  /** Jobs still waiting in it: jobs − skip − tombstones. */
  live: number;
  bytes: number;
  /** Ready: order of its next job and of its last. Delayed: due time of its next job and of its last. */
  next: number;
  last: number;
}

export interface SegmentCheck extends NamedSegment {
  /** ok: read and decoded; missing: the store has no such object; corrupt: it does not decode (or fails its CRC). */
  status: 'ok' | 'missing' | 'corrupt' | 'unreadable';
  /** Bytes the store holds (when read). */
  stored?: number;
  problem?: string;
}

export interface UnnamedSegment {
  key: string;
  /** Epoch and commit seq from its name (docs/format.md, section 3). */
  epoch: number;
  seq: number;
  /** orphan: written for a commit at or below the head's that did not name it; pending: for a later commit (in flight, or a newer leader's). */
  kind: 'orphan' | 'pending';
  /** Commits the head is past the one it was written for (orphans). */
  commitsBehind: number;
}

const live = (s: { n: number; skip: number; tombstones: number }) => s.n - s.skip - s.tombstones;

/** The manifest's segments, ready chains first (priority descending, FIFO), then delayed. */
export function namedSegments(m: BacklogManifest): NamedSegment[] {
  return [
    ...m.ready.map((r) => ({ key: r.key, kind: 'ready' as const, priority: r.priority, jobs: r.n, skip: r.skip, tombstones: r.tombstones, live: live(r), bytes: r.bytes, next: r.next, last: r.last })),
    ...m.delayed.map((d) => ({ key: d.key, kind: 'delayed' as const, priority: null, jobs: d.n, skip: d.skip, tombstones: d.tombstones, live: live(d), bytes: d.bytes, next: d.next[0], last: d.last })),
  ];
}

/** The manifest of a stored head (format 3), checked as a broker checks it; null for older formats. */
export function manifestOf(raw: { format?: number; topic?: unknown; backlog?: unknown }, where: string): BacklogManifest | null {
  if ((raw.format ?? 0) < 3 && raw.backlog === undefined) return null;
  return checkManifest(raw.backlog, where, String(raw.topic));
}

/** Where the head's pending jobs are (window or tail of their priority) and what waits in segments. */
export function summarizeBacklog(jobs: readonly JobRecord[], m: BacklogManifest): BacklogSummary {
  const byPriority = new Map<number, PriorityBacklog>();
  const entry = (p: number) => {
    let e = byPriority.get(p);
    if (!e) byPriority.set(p, (e = { priority: p, window: 0, tail: 0, segments: 0, inSegments: 0 }));
    return e;
  };
  const lastOrder = new Map<number, number>();
  for (const r of m.ready) {
    const e = entry(r.priority);
    e.segments++;
    e.inSegments += live(r);
    lastOrder.set(r.priority, r.last); // chains are FIFO: the last one seen is the chain's end
  }
  let delayedInHead = 0;
  for (const j of jobs) {
    if (j.state === 'delayed') delayedInHead++;
    if (j.state !== 'pending') continue;
    const end = lastOrder.get(j.priority);
    if (end !== undefined && j.order > end) entry(j.priority).tail++;
    else entry(j.priority).window++;
  }
  return {
    priorities: [...byPriority.values()].sort((a, b) => b.priority - a.priority),
    delayed: { inHead: delayedInHead, segments: m.delayed.length, inSegments: m.delayed.reduce((n, d) => n + live(d), 0) },
    segments: m.ready.length + m.delayed.length,
    bytes: [...m.ready, ...m.delayed].reduce((n, s) => n + s.bytes, 0),
    tombstones: Object.keys(m.tombstones).length,
    garbage: m.garbage.map((g) => ({ key: g.key, at: g.at })),
    counts: { ...m.counts },
  };
}

/** Where the manifest's counts disagree with its segments' entries (a bug to report, not a loss). */
export function countMismatch(m: BacklogManifest): string | null {
  const pending = m.ready.reduce((n, r) => n + live(r), 0);
  const delayed = m.delayed.reduce((n, d) => n + live(d), 0);
  if (pending === m.counts.pending && delayed === m.counts.delayed) return null;
  return `the manifest counts ${m.counts.pending} pending and ${m.counts.delayed} delayed jobs in segments, its entries add up to ${pending} and ${delayed}`;
}

/** The phrase that names a segment's place and what waits in it, for one-line reports. */
export function segmentPhrase(s: NamedSegment): string {
  const place = s.kind === 'ready' ? `ready, priority ${s.priority}` : 'delayed';
  return `${s.key} (${place}, ${s.live} job${s.live === 1 ? '' : 's'} waiting)`;
}

/**
 * Reads every segment the manifest names (at most `parallel` at once) and decodes it: `full` checks
 * the CRC and parses every record (doctor), otherwise the header only (inspect). A read the store
 * fails is `unreadable` (it says nothing about the segment); a missing object or one that does not
 * decode is a problem with the topic.
 */
export async function checkSegments(store: StorageDriver, m: BacklogManifest, options: { full: boolean; parallel?: number }): Promise<SegmentCheck[]> {
  const named = namedSegments(m);
  const out: SegmentCheck[] = new Array(named.length);
  let at = 0;
  const worker = async () => {
    for (let i = at++; i < named.length; i = at++) {
      const s = named[i]!;
      let obj;
      try {
        obj = await store.read(s.key);
      } catch (err) {
        out[i] = { ...s, status: 'unreadable', problem: `could not read ${s.key}: ${err instanceof Error ? err.message : String(err)}` };
        continue;
      }
      if (!obj) {
        out[i] = { ...s, status: 'missing', problem: `segment ${segmentPhrase(s)} is named by the head but missing from the store` };
        continue;
      }
      try {
        const meta = options.full ? decodeSegment(obj.body, s.key).meta : decodeSegmentMeta(obj.body, s.key);
        if (meta.n !== s.jobs || meta.kind !== s.kind) throw new Error(`it holds ${meta.n} ${meta.kind} jobs, the head says ${s.jobs} ${s.kind}`);
        out[i] = { ...s, status: 'ok', stored: obj.body.byteLength };
      } catch (err) {
        const why = isQueueError(err) ? err.message.replace(`${s.key}: `, '').replace(/; bucketq refuses to use it$/, '') : (err as Error).message;
        out[i] = { ...s, status: 'corrupt', stored: obj.body.byteLength, problem: `segment ${segmentPhrase(s)} is named by the head but does not decode: ${why}` };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.parallel ?? 8, named.length)) }, worker));
  return out;
}

/**
 * Keys under the topic's segment prefix that the head neither names nor lists as garbage. Written
 * for a commit at or below the head's seq: an orphan (a commit that failed or lost its race, a
 * leader killed between its segments and its head), collected by the leader. For a later commit:
 * pending (a commit in flight, or a newer leader's), never an orphan yet. Names that are not a
 * segment's are left out (and alone).
 */
export async function unnamedSegments(store: StorageDriver, topic: string, m: BacklogManifest, head: { seq: number; epoch: number }): Promise<{ unnamed: UnnamedSegment[]; stored: Set<string> }> {
  const keys = await store.list(segmentPrefix(topic));
  const referenced = new Set([...m.ready.map((r) => r.key), ...m.delayed.map((d) => d.key), ...m.garbage.map((g) => g.key)]);
  const unnamed: UnnamedSegment[] = [];
  for (const key of keys) {
    if (referenced.has(key)) continue;
    const k = parseSegmentKey(key);
    if (!k) continue;
    const later = k.epoch > head.epoch || k.seq > head.seq;
    unnamed.push({ key, epoch: k.epoch, seq: k.seq, kind: later ? 'pending' : 'orphan', commitsBehind: later ? 0 : head.seq - k.seq });
  }
  return { unnamed, stored: new Set(keys) };
}
