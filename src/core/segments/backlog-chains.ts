/**
 * The bookkeeping of a backlog's chains (backlog.ts): one per priority, window(p) ++ segments(p) ++
 * tail(p). A job entering or leaving a window or a tail changes the chain's counts, the backlog's
 * totals (windowSize, windowBytes, tailJobs) and, entering, the head's maps, in one step. Apart
 * from backlog.ts so that its parts (backlog-moves.ts, backlog-ids.ts) keep them in step the same
 * way without reaching into the class; invariants.ts recounts them.
 */
import { Deque } from '../heap.js';
import { recordLength } from '../job-json.js';
import type { JobRecord } from '../types.js';
import type { Backlog } from './backlog.js';
import type { Chain } from './backlog-types.js';

/** The chain of priority p, made (and its priority put in order, highest first) if there is none. */
export function chainOf(b: Backlog, p: number): Chain {
  let c = b.chains.get(p);
  if (!c) {
    c = { priority: p, window: new Deque(), windowLive: 0, windowBytes: 0, segments: [], tail: [], tailBytes: 0, fresh: 0 };
    b.chains.set(p, c);
    const ps = b.priorities;
    let i = 0;
    while (i < ps.length && ps[i]! > p) i++;
    ps.splice(i, 0, p);
  }
  return c;
}

/** Adds to window(p): at the back (`push`) or already inserted by the caller. */
export function toWindow(b: Backlog, c: Chain, job: JobRecord, push: boolean): void {
  if (push) c.window.push(job);
  const size = recordLength(job);
  b.windowSize.set(job, size);
  b.windowBytes += size;
  c.windowLive++;
  c.windowBytes += size;
  enterHead(b, job);
}

export function enterHead(b: Backlog, job: JobRecord): void {
  b.head.set(job.id, job);
  b.mirror?.set(job.id, job);
}

/** Takes a job out of the window's counts; false when it was not in the window (a stale deque entry). */
export function leaveWindow(b: Backlog, c: Chain, job: JobRecord): boolean {
  const size = b.windowSize.get(job);
  if (size === undefined) return false;
  b.windowSize.delete(job);
  b.windowBytes -= size;
  c.windowLive--;
  c.windowBytes -= size;
  return true;
}

export function leaveTail(b: Backlog, c: Chain, job: JobRecord): void {
  c.tailBytes -= recordLength(job);
  b.tailJobs--;
}
