/**
 * The in-memory queue state: the serialisable fields of queue.json plus indexes rebuilt on load.
 * Ops mutate a state through the transition helpers below, which keep the indexes and counts in
 * step and drop the per-job JSON cache, so a commit re-serialises only the jobs that changed.
 */
import { QueueError } from '../errors.js';
import { MinHeap } from './heap.js';
import { dropJsonCache } from './job-json.js';
import { archiveKey } from './keys.js';
import { emptyRecent, recentEntry, type RecentWindow } from './recent.js';
import { Backlog } from './segments/backlog.js';
import { UNSEGMENTED_LIMITS, type BacklogLimits } from './segments/manifest.js';
export { jobJson } from './job-json.js';
import {
  DEFAULT_BACKOFF,
  DEFAULT_MAX_ATTEMPTS,
  type BrokerLease,
  type Counters,
  type DeadEntry,
  type JobRecord,
  type StateCounts,
  type TopicSettings,
} from './types.js';

/**
 * The queue.json format this code writes. Older formats are upgraded on load; newer ones refused.
 *   1  jobs, done, dead, counters, settings, the broker lease
 *   2  + `archiveOpen` (the archive window jobs finish into) and `recent` (the window of archived
 *      ids). A format-1 reader would drop both and write an open window's object early, so 2 is
 *      refused by it rather than half understood.
 *   3  + `backlog` (the manifest of the segments holding the backlog beyond the head's window,
 *      docs/format.md). A format-2 reader would see only the head's jobs and lose the rest.
 */
export const FORMAT_VERSION = 3;

interface TimedEntry {
  job: JobRecord;
  at: number;
  order: number;
}

export interface Indexes {
  /** Claimed jobs by lease expiry. */
  leases: MinHeap<TimedEntry>;
  /** pending and delayed are the backlog's (head and segments); claimed is counted here. */
  counts: StateCounts;
  /** The latest record per id in `done`, so lookups by id never scan the list. */
  doneById: Map<string, JobRecord>;
}

export interface ArchiveWindow {
  /** The commit that opened it: seqs never repeat, so neither do archive keys. */
  seq: number;
  /** Broker time when it opened (its hour bucket). */
  start: number;
  /** Jobs assigned to it so far. */
  n: number;
  /** The last commit that assigned a job to it. */
  last: number;
}

/**
 * Jobs after which a window is full: no later commit adds to it (the next job to finish opens a
 * new window), so the broker may write it as soon as the commit that filled it landed, without a
 * sealing commit. A commit that finishes thousands of jobs thus gets one object of its own, as if
 * there were no windows, and its records are not rewritten for the rest of a window.
 */
export const ARCHIVE_WINDOW_MAX_JOBS = 256;

/** Whether no job can join the open window any more (full, and filled by an earlier or this landed commit). */
export function openWindowFull(s: QueueState): boolean {
  return s.archiveOpen !== null && s.archiveOpen.n >= ARCHIVE_WINDOW_MAX_JOBS;
}

export interface QueueState {
  format: number;
  topic: string;
  /** Commit sequence: strictly increasing, so the bytes of two commits are never equal. */
  seq: number;
  /** Id of the broker instance that wrote this commit; with `seq` it resolves ambiguous writes. */
  writer: string;
  /** Broker clock at the commit. */
  time: number;
  broker: BrokerLease | null;
  settings: TopicSettings;
  nextOrder: number;
  counters: Counters;
  jobs: Map<string, JobRecord>;
  dead: Map<string, DeadEntry>;
  /** Jobs finished (completed, dead, cancelled) and not yet archived; they leave after archiving. */
  done: JobRecord[];
  /**
   * The archive object that jobs finishing now are assigned to, opened by the first of them. It
   * is written once no job can join it any more: when it is full (ARCHIVE_WINDOW_MAX_JOBS), or
   * when the broker sealed it (op `sealArchive`) after archiveWindowMs. So one archive object holds
   * many commits' finished jobs and is still written exactly once.
   */
  archiveOpen: ArchiveWindow | null;
  /** Ids of jobs archived lately (see recent.ts): pushes and replayed acks still find them. */
  recent: RecentWindow;
  /**
   * The pending and delayed jobs in claim order: the head's window, tails and delayed jobs (all
   * also in `jobs`) and the segments beyond them (docs/format.md). Claimed jobs are not its.
   */
  backlog: Backlog;
  idx: Indexes;
}


export function emptyCounters(): Counters {
  return { pushed: 0, claimed: 0, completed: 0, nacked: 0, dead: 0, cancelled: 0, retried: 0, leasesExpired: 0, deadExpired: 0 };
}

export function defaultSettings(): TopicSettings {
  return { maxAttempts: DEFAULT_MAX_ATTEMPTS, backoff: { ...DEFAULT_BACKOFF }, paused: false };
}

function emptyIndexes(backlog: Backlog): Indexes {
  const byTime = (a: TimedEntry, b: TimedEntry) => a.at < b.at || (a.at === b.at && a.order < b.order);
  const counts = { claimed: 0 } as StateCounts;
  // Live views, so every reader of the counts (stats, metrics, the loop) sees segments too.
  Object.defineProperties(counts, {
    pending: { enumerable: true, get: () => backlog.counts().pending },
    delayed: { enumerable: true, get: () => backlog.counts().delayed },
  });
  return { leases: new MinHeap(byTime), counts, doneById: new Map() };
}

/**
 * A fresh state. `limits` bound the head's window; the default keeps every job in the head (no
 * segment is ever planned), which is what a caller that does not write segments needs.
 */
export function createState(topic: string, limits: Partial<BacklogLimits> = UNSEGMENTED_LIMITS): QueueState {
  const s: Omit<QueueState, 'backlog' | 'idx'> = {
    format: FORMAT_VERSION,
    topic,
    seq: 0,
    writer: '',
    time: 0,
    broker: null,
    settings: defaultSettings(),
    nextOrder: 1,
    counters: emptyCounters(),
    jobs: new Map(),
    dead: new Map(),
    done: [],
    archiveOpen: null,
    recent: emptyRecent(),
  };
  const state = s as QueueState;
  attachBacklog(state, new Backlog(topic, state, limits));
  return state;
}

/** Makes `b` the state's backlog (a loaded one replaces the empty one): it keeps `jobs` in step. */
export function attachBacklog(s: QueueState, b: Backlog): void {
  b.mirror = s.jobs;
  s.backlog = b;
  const claimed = s.idx?.counts.claimed ?? 0;
  const leases = s.idx?.leases;
  const doneById = s.idx?.doneById;
  s.idx = emptyIndexes(b);
  s.idx.counts.claimed = claimed;
  if (leases) s.idx.leases = leases;
  if (doneById) s.idx.doneById = doneById;
}

/** Marks a job changed: its cached JSON is stale. Every mutation of a JobRecord goes through here. */
export function touch(job: JobRecord, now: number): void {
  job.updatedAt = now;
  dropJsonCache(job);
}

/** Adds a brand-new job to the state as pending or delayed depending on runAt. */
export function insertJob(s: QueueState, job: JobRecord, now: number): void {
  s.backlog.add(job, now); // enters `jobs` too (its mirror), or its run's fresh jobs (Backlog.deferHead)
}

/** A job leaves the claimed set (its lease ended one way or another). */
function unclaimCount(s: QueueState, job: JobRecord): void {
  if (job.state === 'claimed') s.idx.counts.claimed--;
}

/** Puts a live job back in line: pending now (new FIFO position) or delayed until runAt. */
export function requeue(s: QueueState, job: JobRecord, runAt: number, now: number): void {
  unclaimCount(s, job);
  s.backlog.requeue(job, runAt, now);
}

/**
 * A claimed job back to pending untouched (released, or its claim's answer never reached anyone):
 * it keeps its place in line (its order) instead of going to the back, as a retry would.
 */
export function returnClaimed(s: QueueState, job: JobRecord, now: number): void {
  unclaimCount(s, job);
  s.backlog.returnUnclaimed(job, now);
}

/** A job just taken from the backlog (takeNextReady) becomes claimed. */
export function markClaimed(s: QueueState, job: JobRecord, worker: string, token: string, until: number, now: number): void {
  job.state = 'claimed';
  s.idx.counts.claimed++;
  job.attempts++;
  job.lease = { worker, token, until };
  s.idx.leases.push({ job, at: until, order: job.order });
  touch(job, now);
}

export function extendLease(s: QueueState, job: JobRecord, until: number, now: number): void {
  if (!job.lease) return;
  job.lease.until = until;
  s.idx.leases.push({ job, at: until, order: job.order });
  touch(job, now);
}

/** The key of the open archive window, or null. */
export function openWindowKey(s: QueueState): string | null {
  const w = s.archiveOpen;
  return w ? archiveKey(s.topic, w.start, w.seq) : null;
}

/**
 * The key of the open archive window for one more job, opening one when none is, or when it is
 * full and this is a later commit (within one commit a window takes every job: keys are per seq).
 */
export function openArchiveKey(s: QueueState, now: number): string {
  const w = s.archiveOpen;
  if (!w || (w.n >= ARCHIVE_WINDOW_MAX_JOBS && w.last !== s.seq)) s.archiveOpen = { seq: s.seq, start: now, n: 0, last: s.seq };
  s.archiveOpen!.n++;
  s.archiveOpen!.last = s.seq;
  return openWindowKey(s)!;
}

/**
 * Takes a job out of the live set for good. It stays in `done` (and in queue.json) until the
 * broker has written it to its archive object after the commit; dead jobs also get an index entry
 * so they can be found and retried.
 */
export function finishJob(s: QueueState, job: JobRecord, final: 'completed' | 'dead' | 'cancelled', now: number): void {
  const archive = openArchiveKey(s, now);
  if (job.state === 'claimed') s.idx.counts.claimed--;
  // In the head: it leaves it; in a segment (a cancel with the record read): a tombstone.
  else if (job.state === 'pending' || job.state === 'delayed') s.backlog.cancel(job.id);
  s.jobs.delete(job.id);
  job.state = final;
  job.finishedAt = now;
  job.archive = archive;
  // A completed job keeps its lease as the record of who finished it, which also makes a replayed
  // ack (after an ambiguous write) idempotent while the job waits to be archived.
  if (final !== 'completed') job.lease = undefined;
  touch(job, now);
  s.done.push(job);
  s.idx.doneById.set(job.id, job);
  if (final === 'dead') {
    const entry: DeadEntry = { archive, at: now, attempts: job.attempts };
    if (job.lastError !== undefined) entry.lastError = job.lastError.slice(0, 200);
    if (job.nackedBy?.state === 'dead') entry.nackedBy = job.nackedBy; // dead by this nack, not by a lease expiry since an earlier one
    s.dead.set(job.id, entry);
  }
}

/**
 * A dead job as far as queue.json knows it: its dead-letter index entry as a record. The full
 * record (payload, history) is in the archive object the entry names.
 */
export function deadStub(id: string, dead: DeadEntry): JobRecord {
  const job: JobRecord = { id, state: 'dead', priority: 0, order: 0, runAt: dead.at, attempts: dead.attempts, maxAttempts: dead.attempts, createdAt: dead.at, updatedAt: dead.at, finishedAt: dead.at, archive: dead.archive };
  if (dead.lastError) job.lastError = dead.lastError;
  return job;
}

/**
 * A job archived lately, as far as the recent window knows it: its id, final state and the archive
 * object that holds its record. The other fields are placeholders, never answered: the broker
 * reads the record from `archive` before a get answers (as for a dead stub), and a push of the
 * same id answers only `{id, state}`.
 */
export function recentStub(s: QueueState, id: string, now: number): JobRecord | undefined {
  const entry = recentEntry(s.recent, id, now);
  if (entry === undefined) return undefined;
  return { id, state: entry.token === '' ? 'cancelled' : 'completed', priority: 0, order: 0, runAt: 0, attempts: 0, maxAttempts: 0, createdAt: 0, updatedAt: 0, archive: entry.key };
}

/**
 * The state of a job waiting in a segment (not in the head), or undefined when no segment holds it.
 * A fingerprint hit the broker has not confirmed yet is UNAVAILABLE (retryable): the broker reads
 * the segment's ids before apply (docs/format.md, "Cancel, get, idempotent push"), so it is rare.
 */
export function segmentState(s: QueueState, id: string): 'pending' | 'delayed' | 'cancelled' | undefined {
  const loc = s.backlog.locate(id);
  if (!loc || loc.at === 'head') return undefined;
  if (loc.at === 'cancelled') return 'cancelled';
  if (loc.at === 'segment') return 'priority' in s.backlog.reg.refs.get(loc.key)! ? 'pending' : 'delayed';
  throw new QueueError('UNAVAILABLE', `job ${id} may be in a segment of topic ${s.topic} not read yet; retry shortly`, { details: { id, segments: loc.keys } });
}

/** The latest finished, not yet archived record of a job id. */
export function findDone(s: QueueState, id: string): JobRecord | undefined {
  return s.idx.doneById.get(id);
}

/** Replaces the `done` list (after archiving) and rebuilds its index. */
export function setDone(s: QueueState, done: JobRecord[]): void {
  s.done = done;
  s.idx.doneById.clear();
  for (const j of done) s.idx.doneById.set(j.id, j);
}

/** Moves due delayed jobs to pending. Returns how many moved. */
export function promoteDue(s: QueueState, now: number): number {
  return s.backlog.promoteDue(now).promoted;
}

/** Claimed jobs whose lease has expired by `now`, earliest first. Removes them from the lease index. */
export function takeExpiredLeases(s: QueueState, now: number): JobRecord[] {
  const out: JobRecord[] = [];
  const taken = new Set<JobRecord>();
  const h = s.idx.leases;
  for (let top = h.peek(); top && top.at <= now; top = h.peek()) {
    h.pop();
    const job = top.job;
    // The order tells a requeued-and-reclaimed job's old entry from its new one when both leases end at the same instant.
    if (job.state !== 'claimed' || s.jobs.get(job.id) !== job || job.lease?.until !== top.at || job.order !== top.order) continue;
    // An unclaimed job keeps its order: reclaimed with a lease ending at the same instant, its old
    // entry looks like the new one. Both stand for the one lease in force; take the job once.
    if (taken.has(job)) continue;
    taken.add(job);
    out.push(job);
  }
  return out;
}

/**
 * Removes and returns the next due pending job in priority, then FIFO, order; undefined when none
 * is in the head before a segment not read yet (the broker reads ahead, docs/format.md "Claim").
 */
export function takeNextReady(s: QueueState): JobRecord | undefined {
  const t = s.backlog.takeNext();
  return t && 'job' in t ? t.job : undefined;
}

/**
 * Earliest time something becomes due (a delayed job in the head or in a delayed segment, or a
 * lease expiry), or undefined. A delayed segment's job counts while it is due after `now`: the
 * loop reads the segment ahead of that time (its lookahead), so a parked claim woken then finds
 * the job in the head. Once its time has passed, the segment is not read yet (a batch's refill
 * takes what is read and due soon): the read's arrival runs the batch that promotes it, and a
 * wake-up in the past would only spin.
 */
export function nextDueAt(s: QueueState, now: number): number | undefined {
  const skipStale = (h: MinHeap<TimedEntry>, st: JobRecord['state'], valid: (e: TimedEntry) => boolean) => {
    for (let top = h.peek(); top; top = h.peek()) {
      if (top.job.state === st && s.jobs.get(top.job.id) === top.job && valid(top)) return top.at;
      h.pop();
    }
    return undefined;
  };
  const d = skipStale(s.backlog.delayed as MinHeap<TimedEntry>, 'delayed', (e) => s.backlog.head.get(e.job.id) === e.job && e.job.runAt === e.at && e.job.order === e.order);
  const l = skipStale(s.idx.leases, 'claimed', (e) => e.job.lease?.until === e.at);
  let seg = s.backlog.delayedSegmentDueAt();
  if (seg !== undefined && seg <= now) seg = undefined;
  let out: number | undefined;
  for (const t of [d, l, seg]) if (t !== undefined && (out === undefined || t < out)) out = t;
  return out;
}

