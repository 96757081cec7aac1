/**
 * Pages of pending and delayed jobs that go on past the head into the segments (docs/format.md,
 * section 7, "Paging"). Pure: it lists what the caller has read (a SegmentSource) and names the
 * segments it would read next (`wants`, at most two); the broker reads those and asks again. A
 * page is exact whatever was read: it ends before the first key a segment not read could hold.
 *
 * Pending jobs are keyed (-priority, order): each priority's chain of segments covers disjoint,
 * ascending order ranges, so the segments after a cursor are read in chain order. Delayed jobs are
 * keyed (runAt, order): delayed segments overlap in time, so a page merges the ones it has read and
 * the cursor carries, per segment read, where its next job is (`PageHints`): a segment whose range
 * overlaps the cursor is read once, then skipped until its hint comes up.
 *
 * Jobs before a segment's `skip` are in the head already (refilled or loaded) and cancelled ones
 * are tombstoned: neither is listed from the segment, so no job appears twice or after its cancel.
 */
import type { SegmentSource } from '../segments/backlog.js';
import type { DelayedSegmentRef, ReadySegmentRef } from '../segments/manifest.js';
import type { DecodedSegment } from '../segments/segment-codec.js';
import { segmentPrefix } from '../segments/segment-keys.js';
import type { QueueState } from '../state.js';
import type { JobRecord } from '../types.js';
import { snapshot } from './_context.js';
import { compareKeys, MAX_HINTS, type Cursor, type PageBuffer, type PageHints, type SortKey } from './page-cursor.js';

/** Segments a request reads at most (the broker's budget: a page never waits on more). */
export const PAGE_READS = 2;

interface Candidate {
  ref: ReadySegmentRef | DelayedSegmentRef;
  /** The key in hints. */
  short: string;
  /** No job of the segment after the cursor sorts before this. */
  lower: SortKey;
}

export interface SegmentPage {
  /** The page must end before this key (the first key a segment not read could hold). */
  bound: SortKey | undefined;
  /** Segments not read that hold jobs after the cursor. */
  unread: readonly string[];
  /** Hints for the next cursor, `after` being its key (delayed only). */
  hints(after: SortKey): PageHints;
}

const live = (r: { n: number; skip: number; tombstones: number }) => r.n - r.skip - r.tombstones;
const max = (a: SortKey, b: SortKey | undefined): SortKey => (b !== undefined && compareKeys(b, a) > 0 ? b : a);

export function listKey(state: 'pending' | 'delayed', job: JobRecord): SortKey {
  return state === 'pending' ? [-job.priority, job.order] : [job.runAt, job.order];
}

/** The segments whose jobs could follow the cursor, by the smallest key they may hold. */
function candidates(s: QueueState, state: 'pending' | 'delayed', cursor: Cursor | undefined): Candidate[] {
  const b = s.backlog;
  const prefix = segmentPrefix(b.topic);
  const short = (key: string) => (key.startsWith(prefix) ? key.slice(prefix.length) : key).replace(/\.seg$/, '');
  const after = cursor?.key;
  const out: Candidate[] = [];
  if (state === 'pending') {
    for (const p of b.priorities) {
      for (const ref of b.chains.get(p)?.segments ?? []) {
        if (live(ref) <= 0 || (after && compareKeys([-p, ref.last], after) <= 0)) continue;
        out.push({ ref, short: short(ref.key), lower: max([-p, ref.next], after) });
      }
    }
    return out; // chains are in key order already
  }
  for (const ref of b.delayedSegs) {
    if (live(ref) <= 0) continue;
    const name = short(ref.key);
    const lower = max(max([ref.next[0], ref.next[1]], cursor?.hints[name]), after);
    if (lower[0] > ref.last) continue; // nothing after the cursor
    out.push({ ref, short: name, lower });
  }
  return out.sort((x, y) => compareKeys(x.lower, y.lower));
}

/** The jobs of a read segment still waiting there (from `skip`, not tombstoned), in segment order. */
function* waiting(s: QueueState, ref: Candidate['ref'], seg: DecodedSegment): Generator<JobRecord> {
  for (let i = ref.skip; i < ref.n; i++) {
    const rec = seg.jobs[i]!;
    if (s.backlog.tombstones.get(rec.id) !== ref.key) yield rec;
  }
}

/** Offers the jobs after the cursor of every segment `source` has to `buf`; says where the page must end. */
export function pageSegments(s: QueueState, state: 'pending' | 'delayed', cursor: Cursor | undefined, buf: PageBuffer<JobRecord>, source: SegmentSource | undefined): SegmentPage {
  const read: Array<{ c: Candidate; seg: DecodedSegment }> = [];
  const unread: Candidate[] = [];
  for (const c of candidates(s, state, cursor)) {
    const seg = source?.(c.ref.key);
    if (!seg) {
      unread.push(c);
      continue;
    }
    read.push({ c, seg });
    for (const rec of waiting(s, c.ref, seg)) buf.offer(listKey(state, rec), () => ({ ...snapshot(rec), state }));
  }
  let bound: SortKey | undefined;
  for (const c of unread) if (!bound || compareKeys(c.lower, bound) < 0) bound = c.lower;
  return {
    bound,
    unread: unread.map((c) => c.ref.key),
    hints: (after) => {
      if (state !== 'delayed') return {};
      const hints: Array<[string, [number, number]]> = [];
      const keep = (c: Candidate, h: SortKey) => {
        const next = (c.ref as DelayedSegmentRef).next;
        if (compareKeys(h, after) > 0 && compareKeys(h, [next[0], next[1]]) > 0) hints.push([c.short, [h[0], h[1] as number]]);
      };
      for (const { c, seg } of read) {
        let first: SortKey = [c.ref.last + 1, 0]; // none left after the cursor
        for (const rec of waiting(s, c.ref, seg)) {
          const k = listKey('delayed', rec);
          if (compareKeys(k, after) > 0) {
            first = k;
            break;
          }
        }
        keep(c, first);
      }
      for (const c of unread) keep(c, c.lower);
      hints.sort((x, y) => compareKeys(x[1], y[1]));
      return Object.fromEntries(hints.slice(0, MAX_HINTS));
    },
  };
}
