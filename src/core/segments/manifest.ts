/**
 * The manifest: the head's `backlog` field in format 3 (docs/format.md, section 2), its limits,
 * and its validation on load. What it names is immutable; what changes per commit is `skip`,
 * `next`, `tombstones` and the lists themselves.
 */
import { QueueError } from '../../errors.js';
import { expandManifest } from './manifest-stored.js';

export interface BacklogLimits {
  /** Ready jobs pushed into the head's window at most (all priorities), and their record bytes. */
  windowJobs: number;
  windowBytes: number;
  /** A refill is wanted when fewer jobs than this are ahead of a priority's first segment. */
  lowWater: number;
  /** A tail this large (jobs or record bytes) is sealed into segments at the end of a batch. */
  tailSealJobs: number;
  tailSealBytes: number;
  /** All tails together, at most. */
  tailTotalJobs: number;
  /** One segment, at most. */
  segmentMaxJobs: number;
  segmentMaxBytes: number;
  /** Delayed jobs kept in the head, at most (beyond: those not due soon are sealed). */
  delayedHeadMax: number;
  /** A delayed segment is loaded this long before its next job is due. */
  delayedLookaheadMs: number;
  /** Tombstones in the head before compaction is planned (4× refuses further cancels in segments). */
  tombstoneMax: number;
}

export const DEFAULT_LIMITS: Readonly<BacklogLimits> = Object.freeze({
  windowJobs: 1024,
  windowBytes: 160 * 1024,
  lowWater: 512,
  tailSealJobs: 256,
  tailSealBytes: 64 * 1024,
  tailTotalJobs: 2048,
  segmentMaxJobs: 8192,
  segmentMaxBytes: 4 * 1024 * 1024,
  delayedHeadMax: 512,
  delayedLookaheadMs: 10_000,
  tombstoneMax: 1024,
});

/**
 * Limits under which nothing is ever sealed: every job stays in the head, as in format 2. The
 * topic state uses them until the broker writes segments (docs/format.md, "Status").
 */
export const UNSEGMENTED_LIMITS: Readonly<BacklogLimits> = Object.freeze({
  ...DEFAULT_LIMITS,
  windowJobs: Infinity,
  windowBytes: Infinity,
  tailSealJobs: Infinity,
  tailSealBytes: Infinity,
  tailTotalJobs: Infinity,
  delayedHeadMax: Infinity,
});

interface SegmentRefBase {
  key: string;
  /** Jobs in the object. */
  n: number;
  /** Leading jobs already moved into the head (or consumed). */
  skip: number;
  bytes: number;
  /** Tombstones in the head naming this segment. */
  tombstones: number;
}

export interface ReadySegmentRef extends SegmentRefBase {
  priority: number;
  /** Smallest and largest `order` in the object (ascending in it). */
  first: number;
  last: number;
  /** `order` of job `skip`, the first not yet taken: the window's orders are below it. */
  next: number;
}

export interface DelayedSegmentRef extends SegmentRefBase {
  /** Sort key (runAt, order) of job `skip`: the first not yet loaded. */
  next: [number, number];
  /** Largest runAt in the object. */
  last: number;
}

export interface BacklogManifest {
  v: 1;
  /** Chains: priority descending, then FIFO. */
  ready: ReadySegmentRef[];
  delayed: DelayedSegmentRef[];
  /** id → segment key of cancelled jobs still in a segment. */
  tombstones: Record<string, string>;
  /** Segments no longer named, since `at`: deleted after a grace period. */
  garbage: Array<{ key: string; at: number }>;
  /** Jobs in segments, not tombstoned. */
  counts: { pending: number; delayed: number };
}

export function emptyManifest(): BacklogManifest {
  return { v: 1, ready: [], delayed: [], tombstones: {}, garbage: [], counts: { pending: 0, delayed: 0 } };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNat = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Checks a stored manifest of topic `topic` (version 2, manifest-stored.ts, or version 1) and
 * returns it expanded; CORRUPT_STATE naming `where` when it is not one this code can serve.
 */
export function checkManifest(stored: unknown, where: string, topic: string): BacklogManifest {
  const bad = (why: string) => new QueueError('CORRUPT_STATE', `${where}: backlog ${why}; bucketq refuses to use or overwrite it`, { details: { object: where } });
  const raw = isObj(stored) && stored.v === 2 ? expandManifest(stored, topic, bad) : stored;
  if (!isObj(raw) || raw.v !== 1) throw bad('is missing or of an unknown version');
  if (!Array.isArray(raw.ready) || !Array.isArray(raw.delayed) || !isObj(raw.tombstones) || !Array.isArray(raw.garbage) || !isObj(raw.counts)) throw bad('lacks ready, delayed, tombstones, garbage or counts');
  const keys = new Set<string>();
  const base = (s: unknown): s is Record<string, unknown> => {
    if (!isObj(s) || typeof s.key !== 'string' || !isNat(s.n) || !isNat(s.skip) || !isNat(s.bytes) || !isNat(s.tombstones)) return false;
    if (s.skip >= s.n || s.tombstones > s.n - s.skip || keys.has(s.key)) return false;
    keys.add(s.key);
    return true;
  };
  let prev: ReadySegmentRef | undefined;
  for (const s of raw.ready) {
    if (!base(s) || !isNum(s.priority) || !isNum(s.first) || !isNum(s.last) || !isNum(s.next) || s.first > s.next || s.next > s.last) throw bad(`has a bad ready segment ${JSON.stringify(s)}`);
    const r = s as unknown as ReadySegmentRef;
    if (prev && (r.priority > prev.priority || (r.priority === prev.priority && r.first <= prev.last))) throw bad(`chain out of order at ${r.key}`);
    prev = r;
  }
  for (const s of raw.delayed) {
    const next = (s as Record<string, unknown>).next;
    if (!base(s) || !Array.isArray(next) || next.length !== 2 || !isNum(next[0]) || !isNum(next[1]) || !isNum(s.last)) throw bad(`has a bad delayed segment ${JSON.stringify(s)}`);
  }
  for (const [id, key] of Object.entries(raw.tombstones)) if (typeof key !== 'string' || !keys.has(key)) throw bad(`tombstone ${id} names no listed segment`);
  for (const g of raw.garbage) if (!isObj(g) || typeof g.key !== 'string' || !isNum(g.at)) throw bad('has a bad garbage entry');
  if (!isNat(raw.counts.pending) || !isNat(raw.counts.delayed)) throw bad('counts are not counts');
  return raw as unknown as BacklogManifest;
}
