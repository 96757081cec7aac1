/**
 * The window of recently finished job ids: what queue.json remembers of jobs after their records
 * left it for the archive, so that a client's retry still finds them.
 *
 * Why: a push whose answer was lost (the broker was SIGKILLed right after its commit, a connection
 * dropped) is retried by the client with the same id. Without the window, the job may already have
 * run, been archived and left queue.json by the time the retry lands, and the retry would add it
 * again: the job would run twice. Likewise an ack replayed after its first try landed would get
 * LEASE_LOST although it succeeded. The window lives in queue.json itself, so a broker that takes
 * over after a crash has it too.
 *
 * Shape: groups in finishing order, one per `archived` op: `{at, jobs: [id, token, id, token, ...]}`
 * where token is the completing claim's lease token, or '' for a cancelled job (dead jobs keep
 * their own dead-letter entry). Groups never change once made, so each caches its JSON bytes and a
 * commit copies them instead of serialising thousands of strings.
 *
 * Bounds (inputs of the op, so apply stays pure): groups older than `windowMs` are dropped, and the
 * oldest ids beyond `maxIds` are dropped. Dedup therefore holds for `windowMs` or the last `maxIds`
 * finished jobs, whichever is shorter.
 */
export interface RecentGroup {
  /** Broker time of the `archived` op that made the group. */
  at: number;
  /** Flat pairs: id, lease token of the completing claim ('' when cancelled). */
  jobs: string[];
}

export interface RecentWindow {
  groups: RecentGroup[];
  /** id → token ('' for cancelled). */
  byId: Map<string, string>;
}

export interface RecentBounds {
  windowMs: number;
  maxIds: number;
}

/** Defaults: the client's retry deadline (30 s) with a margin, and a cap that keeps queue.json small. */
export const DEFAULT_RECENT: RecentBounds = { windowMs: 60_000, maxIds: 10_000 };

const BYTES: unique symbol = Symbol('bucketq.recentBytes');
type CachedGroup = RecentGroup & { [BYTES]?: Buffer };

export function emptyRecent(): RecentWindow {
  return { groups: [], byId: new Map() };
}

/** Appends one group of finished jobs, then drops what fell out of the bounds. */
export function remember(w: RecentWindow, at: number, finished: ReadonlyArray<{ id: string; token: string }>, bounds: RecentBounds): void {
  if (finished.length > 0) {
    const jobs: string[] = [];
    for (const f of finished) {
      jobs.push(f.id, f.token);
      w.byId.set(f.id, f.token);
    }
    w.groups.push({ at, jobs });
  }
  prune(w, at, bounds);
}

function prune(w: RecentWindow, now: number, bounds: RecentBounds): void {
  const maxIds = Math.max(0, Math.floor(bounds.maxIds));
  let drop = 0;
  while (drop < w.groups.length && (now - w.groups[drop]!.at > bounds.windowMs || w.byId.size > maxIds)) {
    const g = w.groups[drop]!;
    // A group only partly over the cap loses its oldest ids and stays.
    const excess = w.byId.size - maxIds;
    const whole = now - g.at > bounds.windowMs || excess * 2 >= g.jobs.length;
    const cut = whole ? g.jobs.length : excess * 2;
    for (let i = 0; i < cut; i += 2) forget(w, g.jobs[i]!, g.jobs[i + 1]!);
    if (!whole) {
      w.groups[drop] = { at: g.at, jobs: g.jobs.slice(cut) };
      break;
    }
    drop++;
  }
  if (drop > 0) w.groups.splice(0, drop);
}

/** Removes an id from the index unless a later group remembered it again (same id, other token). */
function forget(w: RecentWindow, id: string, token: string): void {
  if (w.byId.get(id) === token) w.byId.delete(id);
}

/** The group as JSON bytes, cached on the group (groups are never mutated, only replaced). */
export function groupBytes(g: RecentGroup): Buffer {
  const c = g as CachedGroup;
  return (c[BYTES] ??= Buffer.from(JSON.stringify({ at: g.at, jobs: g.jobs }), 'utf8'));
}

/** Rebuilds a window from parsed JSON; returns an error message for a bad shape. */
export function parseRecent(raw: unknown): RecentWindow | string {
  const w = emptyRecent();
  if (raw === undefined) return w; // written before the window existed
  if (!Array.isArray(raw)) return 'recent is not an array';
  for (const g of raw) {
    const ok = typeof g === 'object' && g !== null && typeof g.at === 'number' && Array.isArray(g.jobs) && g.jobs.length % 2 === 0 && g.jobs.every((x: unknown) => typeof x === 'string');
    if (!ok) return 'recent has a malformed group';
    const jobs = g.jobs as string[];
    w.groups.push({ at: g.at as number, jobs });
    for (let i = 0; i < jobs.length; i += 2) w.byId.set(jobs[i]!, jobs[i + 1]!);
  }
  return w;
}
