/**
 * Read-only ops for consoles (the dashboard, `GET /v1/topics/:topic/jobs` and `/workers`): a page
 * of jobs in one state, and the workers holding leases. Both are answered from the committed state
 * and never change it.
 *
 * Pages are keyed, not numbered: the cursor is the sort key of the last job of the page, so a job
 * pushed or claimed between two pages neither repeats nor shifts the rest by one.
 */
import { QueueError } from '../../errors.js';
import { deadStub, findDone, type QueueState } from '../state.js';
import type { JobRecord } from '../types.js';
import { snapshot, type OpHandler } from './_context.js';

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
}

export interface ListJobsOutput {
  /** Detached records; dead jobs archived already are index stubs (`archive` set, no payload). */
  jobs: JobRecord[];
  /** Cursor of the next page, or null on the last one. */
  next: string | null;
  /** Jobs in this state matching `q` (all pages). */
  total: number;
  /**
   * Pending or delayed jobs waiting in segments beyond the head (docs/format.md): counted, not
   * listed on these pages yet. Absent when none.
   */
  inSegments?: number;
}

type SortKey = [number, number | string];

function compareKeys(a: SortKey, b: SortKey): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] === b[1]) return 0;
  return a[1] < b[1] ? -1 : 1;
}

export function encodeCursor(key: SortKey): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): SortKey {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  const ok = Array.isArray(key) && key.length === 2 && typeof key[0] === 'number' && (typeof key[1] === 'number' || typeof key[1] === 'string');
  if (!ok) throw new QueueError('INVALID_ARGUMENT', `after is not a cursor this broker handed out: ${JSON.stringify(cursor.slice(0, 80))}`);
  return key as SortKey;
}

/**
 * The first `limit` jobs of one state after the cursor, in order, and how many match in all. One
 * pass over the jobs keeping only the page (a sorted buffer of at most `limit`), so a page costs
 * O(jobs) and not a sort of every job: this runs on the commit loop's thread. Pending: claim
 * order (priority, then FIFO). Delayed: due time. Claimed: lease expiry, soonest first. Dead:
 * newest first.
 */
function selectPage(s: QueueState, state: ListableState, q: string, after: SortKey | undefined, limit: number): { page: Array<{ key: SortKey; job: () => JobRecord }>; total: number; more: boolean } {
  const page: Array<{ key: SortKey; job: () => JobRecord }> = [];
  let total = 0;
  let beyond = 0; // matches after the cursor that did not fit the page
  const offer = (key: SortKey, job: () => JobRecord) => {
    total++;
    if (after !== undefined && compareKeys(key, after) <= 0) return;
    if (page.length === limit && compareKeys(key, page[limit - 1]!.key) >= 0) {
      beyond++;
      return;
    }
    let lo = 0;
    let hi = page.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareKeys(page[mid]!.key, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    page.splice(lo, 0, { key, job });
    if (page.length > limit) {
      page.pop();
      beyond++;
    }
  };
  if (state === 'dead') {
    for (const [id, entry] of s.dead) {
      if (!id.startsWith(q)) continue;
      offer([-entry.at, id], () => {
        const done = findDone(s, id);
        return done?.state === 'dead' && done.archive === entry.archive ? snapshot(done) : deadStub(id, entry);
      });
    }
  } else {
    for (const job of s.jobs.values()) {
      if (job.state !== state || !job.id.startsWith(q)) continue;
      const first = state === 'pending' ? -job.priority : state === 'delayed' ? job.runAt : (job.lease?.until ?? 0);
      offer([first, job.order], () => snapshot(job));
    }
  }
  return { page, total, more: beyond > 0 };
}

export const listJobs: OpHandler<ListJobsInput, ListJobsOutput> = (s, input) => {
  const { state, limit } = input;
  if (!LISTABLE_STATES.includes(state)) throw new QueueError('INVALID_ARGUMENT', `state must be one of ${LISTABLE_STATES.join(', ')}, got ${JSON.stringify(state)}`);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new QueueError('INVALID_ARGUMENT', `limit must be an integer from 1 to ${MAX_PAGE}, got ${JSON.stringify(limit)}`);
  const after = input.after === undefined ? undefined : decodeCursor(input.after);
  const { page, total, more } = selectPage(s, state, input.q ?? '', after, limit);
  const inSegments = state === 'pending' ? s.backlog.segPending : state === 'delayed' ? s.backlog.segDelayed : 0;
  return { jobs: page.map((c) => c.job()), next: more ? encodeCursor(page[page.length - 1]!.key) : null, total, ...(inSegments > 0 ? { inSegments } : {}) };
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
