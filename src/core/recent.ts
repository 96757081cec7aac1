/**
 * The window of recently finished job ids: what a topic remembers of jobs after their records
 * left queue.json for the archive, so that a client's retry still finds them.
 *
 * Why: a push whose answer was lost (the broker was SIGKILLed right after its commit, a connection
 * dropped) is retried by the client with the same id. Without the window, the job may already have
 * run, been archived and left queue.json by the time the retry lands, and the retry would add it
 * again: the job would run twice. Likewise an ack replayed after its first try landed would get
 * LEASE_LOST although it succeeded.
 *
 * Where it lives: queue.json keeps only one small entry per archive object written lately,
 * `{at, key, n}` (when, which object, how many ids). The ids themselves are in those archive
 * objects already (completed records keep the lease that completed them), so a broker that loads
 * queue.json — at start, on takeover, after a conflict — reads them back ("hydrates" the groups)
 * before it applies anything. A commit thus pays about 70 bytes per archive window (five a second),
 * not 40 bytes per remembered job, and the window can be large.
 *
 * In memory each group also holds its jobs as flat pairs `[id, token, id, token, ...]`, where
 * token is the completing claim's lease token, or '' for a cancelled job (dead jobs keep their own
 * dead-letter entry); `byId` indexes every hydrated group.
 *
 * Bounds (inputs of the op, so apply stays pure): groups older than `windowMs` are dropped, then
 * the oldest groups while more than `maxIds` ids are remembered. Dedup therefore holds for
 * `windowMs` or about the last `maxIds` finished jobs, whichever is shorter.
 */
import type { JobRecord } from './types.js';

export interface RecentGroup {
  /** Broker time of the `archived` op that made the group. */
  at: number;
  /** The archive object holding these jobs' records. */
  key: string;
  /** How many ids the group remembers. */
  n: number;
  /** Flat pairs id, token ('' when cancelled); undefined until hydrated from the archive object. */
  jobs?: string[];
}

export interface RecentWindow {
  groups: RecentGroup[];
  /** id → token ('' for cancelled), over the hydrated groups. */
  byId: Map<string, string>;
}

export interface RecentBounds {
  windowMs: number;
  maxIds: number;
}

/** Defaults: the client's retry deadline (30 s) with a margin, and a cap on the broker's memory and takeover reads. */
export const DEFAULT_RECENT: RecentBounds = { windowMs: 60_000, maxIds: 100_000 };

const BYTES: unique symbol = Symbol('bucketq.recentBytes');
type CachedGroup = RecentGroup & { [BYTES]?: Buffer };

export function emptyRecent(): RecentWindow {
  return { groups: [], byId: new Map() };
}

/** Appends the group of one archive object's finished jobs (call {@link forgetExpired} after). */
export function remember(w: RecentWindow, at: number, key: string, finished: ReadonlyArray<{ id: string; token: string }>): void {
  if (finished.length === 0) return;
  const jobs: string[] = [];
  for (const f of finished) jobs.push(f.id, f.token);
  w.groups.push({ at, key, n: finished.length, jobs });
  index(w, jobs);
}

function index(w: RecentWindow, jobs: string[]): void {
  for (let i = 0; i < jobs.length; i += 2) w.byId.set(jobs[i]!, jobs[i + 1]!);
}

/** Drops the groups that fell out of the bounds, oldest first. */
export function forgetExpired(w: RecentWindow, now: number, bounds: RecentBounds): void {
  let total = 0;
  for (const g of w.groups) total += g.n;
  let drop = 0;
  while (drop < w.groups.length && (now - w.groups[drop]!.at > bounds.windowMs || total > bounds.maxIds)) {
    const g = w.groups[drop]!;
    total -= g.n;
    if (g.jobs) for (let i = 0; i < g.jobs.length; i += 2) if (w.byId.get(g.jobs[i]!) === g.jobs[i + 1]) w.byId.delete(g.jobs[i]!);
    drop++;
  }
  if (drop > 0) w.groups.splice(0, drop);
}

/** Keys of the groups whose ids are not in memory yet (read their archive objects, then {@link hydrate}). */
export function unhydrated(w: RecentWindow): string[] {
  return w.groups.filter((g) => g.jobs === undefined).map((g) => g.key);
}

/** The id/token pairs an archive object's records contribute to the window. */
export function recentPairs(records: readonly JobRecord[]): string[] {
  const jobs: string[] = [];
  for (const r of records) {
    if (r.state === 'completed') jobs.push(r.id, r.lease?.token ?? '');
    else if (r.state === 'cancelled') jobs.push(r.id, '');
  }
  return jobs;
}

/** Fills the group of archive object `key` with its pairs (from {@link recentPairs}). */
export function hydrate(w: RecentWindow, key: string, pairs: string[]): void {
  const g = w.groups.find((x) => x.key === key && x.jobs === undefined);
  if (!g) return;
  g.jobs = pairs;
  index(w, pairs);
}

/** The hydrated groups' pairs by archive key, to hydrate a reloaded window without reading again. */
export function hydratedPairs(w: RecentWindow): Array<[string, string[]]> {
  return w.groups.filter((g) => g.jobs !== undefined).map((g) => [g.key, g.jobs!]);
}

/** The group's queue.json entry as JSON bytes, cached on the group (groups are never mutated, only replaced). */
export function groupBytes(g: RecentGroup): Buffer {
  const c = g as CachedGroup;
  return (c[BYTES] ??= Buffer.from(JSON.stringify({ at: g.at, key: g.key, n: g.n }), 'utf8'));
}

/** Rebuilds a window (unhydrated) from parsed JSON; returns an error message for a bad shape. */
export function parseRecent(raw: unknown): RecentWindow | string {
  const w = emptyRecent();
  if (raw === undefined) return w; // written before the window existed
  if (!Array.isArray(raw)) return 'recent is not an array';
  for (const g of raw) {
    const ok = typeof g === 'object' && g !== null && typeof g.at === 'number' && typeof g.key === 'string' && Number.isInteger(g.n) && g.n >= 0;
    if (!ok) return 'recent has a malformed entry';
    w.groups.push({ at: g.at as number, key: g.key as string, n: g.n as number });
  }
  return w;
}
