/**
 * Read-only ops for consoles (the dashboard, `GET /v1/topics/:topic/jobs` and `/workers`): a page
 * of jobs in one state, and the workers holding leases. Both are answered from the committed state
 * and never change it.
 *
 * Pages are keyed, not numbered (page-cursor.ts); pending and delayed pages go on into the
 * segments beyond the head, reading at most PAGE_READS of them a request (segment-pages.ts).
 */
import { QueueError } from '../../errors.js';
import type { SegmentSource } from '../segments/backlog.js';
import { deadStub, findDone } from '../state.js';
import type { JobRecord } from '../types.js';
import { snapshot, type OpHandler } from './_context.js';
import { compareKeys, decodeCursor, encodeCursor, PageBuffer, type SortKey } from './page-cursor.js';
import { listKey, PAGE_READS, pageSegments, type SegmentPage } from './segment-pages.js';

export type ListableState = 'pending' | 'delayed' | 'claimed' | 'dead';
export const LISTABLE_STATES: readonly ListableState[] = ['pending', 'delayed', 'claimed', 'dead'];
export const MAX_PAGE = 500;

export interface ListJobsInput {
  state: ListableState;
  /** Jobs per page, 1..MAX_PAGE. */
  limit: number;
  /** The `next` of the previous page. */
  after?: string;
  /** Only jobs whose id starts with this. */
  q?: string;
  /**
   * Segments the caller has read (the broker, in process): given, pending and delayed pages go on
   * into the segments (and `total` counts their jobs); absent, they list the head's jobs alone.
   */
  segments?: SegmentSource;
  /** The record of the job whose id is exactly `q`, read from its segment (the broker, after `lookup`). */
  found?: JobRecord;
}

export interface ListJobsOutput {
  /** Detached records; dead jobs archived already are index stubs (`archive` set, no payload). */
  jobs: JobRecord[];
  /** Cursor of the next page, or null on the last one. */
  next: string | null;
  /** Jobs in this state matching `q` (all pages; with `segments`, the segments' jobs included). */
  total: number;
  /** Pending or delayed jobs waiting in segments beyond the head (all of them, whatever `q`). Absent when none. */
  inSegments?: number;
  /** Segments this page would go on into, not provided (at most PAGE_READS): read them and ask again. */
  wants?: string[];
  /** `q` may be a job waiting in a segment: get it and ask again with `found`. */
  lookup?: string;
}

/**
 * The first `limit` jobs of one state after the cursor, in order, and how many match in all.
 * Pending: claim order (priority, then FIFO). Delayed: due time. Claimed: lease expiry, soonest
 * first. Dead: newest first. Pending and delayed pages list the head's jobs and the jobs of the
 * segments `input.segments` has (segment-pages.ts); a search (`q`) lists the head's matches and,
 * from a segment, only the job whose id is exactly `q` (found through the id index).
 */
export const listJobs: OpHandler<ListJobsInput, ListJobsOutput> = (s, input) => {
  const { state, limit } = input;
  if (!LISTABLE_STATES.includes(state)) throw new QueueError('INVALID_ARGUMENT', `state must be one of ${LISTABLE_STATES.join(', ')}, got ${JSON.stringify(state)}`);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new QueueError('INVALID_ARGUMENT', `limit must be an integer from 1 to ${MAX_PAGE}, got ${JSON.stringify(limit)}`);
  const cursor = input.after === undefined ? undefined : decodeCursor(input.after);
  const q = input.q ?? '';
  const buf = new PageBuffer<JobRecord>(cursor?.key, limit);
  let total = 0;
  if (state === 'dead') {
    for (const [id, entry] of s.dead) {
      if (!id.startsWith(q)) continue;
      total++;
      buf.offer([-entry.at, id], () => {
        const done = findDone(s, id);
        return done?.state === 'dead' && done.archive === entry.archive ? snapshot(done) : deadStub(id, entry);
      });
    }
  } else {
    for (const job of s.jobs.values()) {
      if (job.state !== state || !job.id.startsWith(q)) continue;
      total++;
      const first = state === 'pending' ? -job.priority : state === 'delayed' ? job.runAt : (job.lease?.until ?? 0);
      buf.offer([first, job.order], () => snapshot(job));
    }
  }
  const inSegments = state === 'pending' ? s.backlog.segPending : state === 'delayed' ? s.backlog.segDelayed : 0;
  if (inSegments === 0 || input.segments === undefined) {
    // The head alone (no segment, or a caller that reads none: the console's "cancel all" takes the head's jobs).
    return { jobs: buf.page.map((c) => c.job()), next: buf.beyond > 0 ? encodeCursor(buf.page[limit - 1]!.key) : null, total, ...(inSegments > 0 ? { inSegments } : {}) };
  }
  const listed = state as 'pending' | 'delayed';
  let lookup: string | undefined;
  let seg: SegmentPage | undefined;
  if (q !== '') {
    const where = s.backlog.locate(q)?.at;
    const found = input.found;
    if (found?.id === q && found.state === state && (where === 'segment' || where === 'unconfirmed' || where === 'unindexed')) {
      total++;
      buf.offer(listKey(listed, found), () => ({ ...snapshot(found), state: listed }));
    } else if (!found && (where === 'segment' || where === 'unconfirmed' || where === 'unindexed')) lookup = q;
  } else {
    total += inSegments;
    seg = pageSegments(s, listed, cursor, buf, input.segments);
  }
  const cut = seg?.bound !== undefined && buf.cutAt(seg.bound);
  const more = buf.beyond > 0 || cut || (seg !== undefined && seg.unread.length > 0);
  let next: string | null = null;
  if (more) {
    // A full page ends at its last job; a page cut short by a segment not read yet ends just
    // before the first key that segment could hold (orders are whole numbers).
    const bound = seg?.bound;
    const last = buf.page[buf.page.length - 1]?.key;
    let key: SortKey;
    if (buf.full || bound === undefined) key = last!;
    else if (cursor === undefined || compareKeys(bound, cursor.key) > 0) key = [bound[0], (bound[1] as number) - 0.5];
    else key = cursor.key;
    next = encodeCursor(key, seg?.hints(key));
  }
  const wants = seg && !buf.full ? seg.unread.slice(0, PAGE_READS) : [];
  return {
    jobs: buf.page.map((c) => c.job()),
    next,
    total,
    ...(inSegments > 0 ? { inSegments } : {}),
    ...(wants.length > 0 ? { wants } : {}),
    ...(lookup !== undefined ? { lookup } : {}),
  };
};

export interface WorkerLeases {
  workerId: string;
  jobs: Array<{ id: string; leaseUntil: number; attempts: number }>;
  /** The last claim or heartbeat of any of its jobs (both renew the lease and touch the job). */
  lastHeartbeatAt: number;
  /** The latest lease expiry among its jobs. */
  leaseUntil: number;
}

/** The workers holding leases right now, from the claimed jobs; by worker id. */
export const workers: OpHandler<Record<string, never>, { workers: WorkerLeases[] }> = (s) => {
  const byWorker = new Map<string, WorkerLeases>();
  for (const job of s.jobs.values()) {
    if (job.state !== 'claimed' || !job.lease) continue;
    const id = job.lease.worker;
    let w = byWorker.get(id);
    if (!w) byWorker.set(id, (w = { workerId: id, jobs: [], lastHeartbeatAt: 0, leaseUntil: 0 }));
    w.jobs.push({ id: job.id, leaseUntil: job.lease.until, attempts: job.attempts });
    w.lastHeartbeatAt = Math.max(w.lastHeartbeatAt, job.updatedAt);
    w.leaseUntil = Math.max(w.leaseUntil, job.lease.until);
  }
  const list = [...byWorker.values()].sort((a, b) => (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0));
  for (const w of list) w.jobs.sort((a, b) => a.leaseUntil - b.leaseUntil || (a.id < b.id ? -1 : 1));
  return { workers: list };
};
