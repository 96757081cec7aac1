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
import type { JoinedBytes } from './joined-bytes.js';
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

export interface RecentEntry {
  /** Lease token of the completing claim ('' when cancelled). */
  token: string;
  /** The archive object holding the job's record. */
  key: string;
  /** When its group was made: past `windowMs` the entry no longer counts, pruned or not. */
  at: number;
}

export interface RecentWindow {
  /**
   * How long an id counts (the broker's setting, stored with the window). Lookups check it, so a
   * quiet topic whose window is pruned only by the next `archived` op still forgets on time.
   */
  windowMs: number;
  groups: RecentGroup[];
  /** id → entry, over the hydrated groups. */
  byId: Map<string, RecentEntry>;
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
  return { windowMs: DEFAULT_RECENT.windowMs, groups: [], byId: new Map() };
}

/** The token an id finished with, while the window still remembers it at `now`. */
export function recentToken(w: RecentWindow, id: string, now: number): string | undefined {
  return recentEntry(w, id, now)?.token;
}

/** The window's entry of `id` while it counts at `now`. */
export function recentEntry(w: RecentWindow, id: string, now: number): RecentEntry | undefined {
  const e = w.byId.get(id);
  return e !== undefined && now - e.at <= w.windowMs ? e : undefined;
}

/** Whether a group is still inside the window at `now` (older ones are neither read back nor consulted). */
export function isCurrent(w: RecentWindow, g: RecentGroup, now: number): boolean {
  return now - g.at <= w.windowMs;
}

/**
 * Appends the group of one archive object from its records (the same rule that reads it back,
 * {@link recentPairs}); call {@link forgetExpired} after.
 */
export function remember(w: RecentWindow, at: number, key: string, records: readonly JobRecord[]): void {
  const jobs = recentPairs(records);
  if (jobs.length === 0) return;
  const g = { at, key, n: jobs.length / 2, jobs };
  w.groups.push(g);
  index(w, g);
}

function index(w: RecentWindow, g: RecentGroup): void {
  const jobs = g.jobs!;
  for (let i = 0; i < jobs.length; i += 2) w.byId.set(jobs[i]!, { token: jobs[i + 1]!, key: g.key, at: g.at });
}

/** Drops the groups that fell out of the bounds, oldest first. */
export function forgetExpired(w: RecentWindow, now: number, bounds: RecentBounds): void {
  w.windowMs = bounds.windowMs;
  let total = 0;
  for (const g of w.groups) total += g.n;
  let drop = 0;
  while (drop < w.groups.length && (now - w.groups[drop]!.at > bounds.windowMs || total > bounds.maxIds)) {
    const g = w.groups[drop]!;
    total -= g.n;
    if (g.jobs) for (let i = 0; i < g.jobs.length; i += 2) if (w.byId.get(g.jobs[i]!)?.at === g.at) w.byId.delete(g.jobs[i]!);
    drop++;
  }
  if (drop > 0) w.groups.splice(0, drop);
}

/** Keys of the current groups whose ids are not in memory yet (read their archive objects, then {@link hydrate}). */
export function unhydrated(w: RecentWindow, now: number): string[] {
  return w.groups.filter((g) => g.jobs === undefined && isCurrent(w, g, now)).map((g) => g.key);
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
  index(w, g);
}

/** The group's queue.json entry as JSON bytes, cached on the group (groups are never mutated, only replaced). */
export function groupBytes(g: RecentGroup): Buffer {
  const c = g as CachedGroup;
  return (c[BYTES] ??= Buffer.from(JSON.stringify({ at: g.at, key: g.key, n: g.n }), 'utf8'));
}

/** The window's queue.json form, `{windowMs, groups: [...]}`, as JSON bytes around the groups (joined by `joined`, which keeps them between commits). */
export function windowParts(w: RecentWindow, joined: JoinedBytes<RecentGroup>): Buffer[] {
  return [Buffer.from(`{"windowMs":${w.windowMs},"groups":[`), joined.join(w.groups), CLOSE];
}
const CLOSE = Buffer.from(']}');

/** Rebuilds a window (unhydrated) from parsed JSON; returns an error message for a bad shape. */
export function parseRecent(raw: unknown): RecentWindow | string {
  const w = emptyRecent();
  if (raw === undefined) return w; // written before the window existed (format 1)
  if (typeof raw !== 'object' || raw === null || !Array.isArray((raw as { groups?: unknown }).groups)) return 'recent is not {windowMs, groups}';
  const { windowMs, groups } = raw as { windowMs?: unknown; groups: Array<Record<string, unknown> | null> };
  if (typeof windowMs !== 'number' || !(windowMs >= 0)) return 'recent.windowMs is not a number';
  w.windowMs = windowMs;
  for (const g of groups) {
    const ok = typeof g === 'object' && g !== null && typeof g.at === 'number' && typeof g.key === 'string' && Number.isInteger(g.n) && (g.n as number) >= 0;
    if (!ok) return 'recent has a malformed entry';
    w.groups.push({ at: g!.at as number, key: g!.key as string, n: g!.n as number });
  }
  return w;
}
