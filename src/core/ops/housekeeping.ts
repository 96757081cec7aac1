/** Ops the broker itself issues: leadership (elect, resign) and archive bookkeeping. */
import { QueueError } from '../../errors.js';
import { DEFAULT_RECENT, forgetExpired, remember, type RecentBounds } from '../recent.js';
import { openWindowKey, setDone } from '../state.js';
import type { BrokerLease } from '../types.js';
import type { OpHandler } from './_context.js';

export interface ElectInput {
  id: string;
  url: string;
  leaseMs: number;
  /** The epoch the caller leads at, when it believes it leads (its own renewals keep it). */
  held?: number;
  /**
   * The caller has not held or lost this topic since it started: a live lease under its own id
   * is its previous incarnation's (ids are unique among running brokers), so it takes over now.
   */
  restarted?: boolean;
  /**
   * The holder the caller found gone: its advertised URL refused connections after it had
   * accepted them (server/leader-probe.ts). Its lease may be taken before it runs out, but only
   * that holder's, at that epoch: a lease renewed since by another term is not.
   */
  gone?: { id: string; epoch: number };
}

/**
 * Takes or renews leadership. A live lease held by another broker is not taken (the caller gets
 * NOT_LEADER naming the holder) unless the caller found that holder gone (`gone`). A takeover bumps the epoch, which fences the previous leader: its
 * next CAS fails and its reload shows the new epoch.
 *
 * A live lease under the caller's own id is renewed only at the epoch the caller holds. A broker
 * restarted with the same id takes its previous incarnation's lease at once instead of waiting it
 * out, and bumps the epoch, so that incarnation (if it was only frozen) is fenced like any other.
 * Anything else under the caller's id (another process running with the same id, or this one
 * after it was fenced) is NOT_LEADER, so two processes sharing an id cannot both lead.
 */
export const elect: OpHandler<ElectInput, BrokerLease> = (s, input, now, ctx) => {
  const cur = s.broker;
  const own = cur !== undefined && cur !== null && cur.id === input.id;
  const renewing = own && input.held === cur.epoch;
  const gone = !!cur && !own && input.gone?.id === cur.id && input.gone.epoch === cur.epoch;
  if (cur && cur.leaseUntil > now && !renewing && !gone && !(own && input.held === undefined && input.restarted === true)) {
    const twin = own ? ` (this broker's own id, at epoch ${cur.epoch}: another process runs with the same id, or this one was fenced)` : '';
    throw new QueueError('NOT_LEADER', `topic ${s.topic} is led by broker ${cur.id} (${cur.url || 'no url'}) until ${new Date(cur.leaseUntil).toISOString()}${twin}`, {
      details: { leader: cur.url, leaderId: cur.id, leaseUntil: cur.leaseUntil, epoch: cur.epoch },
    });
  }
  const epoch = renewing ? cur.epoch : (cur?.epoch ?? 0) + 1;
  s.broker = { id: input.id, url: input.url, epoch, leaseUntil: now + input.leaseMs };
  ctx.changed = true;
  return { ...s.broker };
};

/**
 * Gives up leadership on a clean shutdown so a standby can take over at once. (Not to be confused
 * with Queue.release, which hands claimed jobs back: that is the op `unclaim`.)
 */
export const resign: OpHandler<{ id: string }, { resigned: boolean }> = (s, input, _now, ctx) => {
  if (!s.broker || s.broker.id !== input.id) return { resigned: false };
  s.broker.leaseUntil = 0;
  ctx.changed = true;
  return { resigned: true };
};

export interface ArchivedInput {
  keys: string[];
  /** Bounds of the recent window (default DEFAULT_RECENT); the broker's settings. */
  recent?: RecentBounds;
}

/**
 * The archive objects named here were written: their jobs leave queue.json, and the ids of the
 * completed and cancelled ones enter the recent window (dead ones keep their dead-letter entry).
 */
export const archived: OpHandler<ArchivedInput, { removed: number }> = (s, input, now, ctx) => {
  const keys = new Set(input.keys);
  const kept: typeof s.done = [];
  const archivedBy = new Map<string, typeof s.done>(input.keys.map((k) => [k, []]));
  for (const j of s.done) {
    if (keys.has(j.archive ?? '')) archivedBy.get(j.archive!)!.push(j);
    else kept.push(j);
  }
  const removed = s.done.length - kept.length;
  // An archived object is never written again: nothing more may join it.
  const open = openWindowKey(s);
  if (open !== null && keys.has(open)) s.archiveOpen = null;
  const windowBefore = s.recent.groups.length;
  if (removed > 0) setDone(s, kept);
  for (const [key, jobs] of archivedBy) remember(s.recent, now, key, jobs);
  forgetExpired(s.recent, now, input.recent ?? DEFAULT_RECENT);
  if (removed > 0 || s.recent.groups.length !== windowBefore) ctx.changed = true;
  return { removed };
};

/** Closes the open archive object `key` (if it still is the open one): it can be written now. */
export const sealArchive: OpHandler<{ key: string }, { sealed: boolean }> = (s, input, _now, ctx) => {
  if (openWindowKey(s) !== input.key) return { sealed: false };
  s.archiveOpen = null;
  ctx.changed = true;
  return { sealed: true };
};

/** Dead-letter index entries whose archive passed retention are dropped and counted. */
export const expireDead: OpHandler<{ before: number }, { expired: number }> = (s, input, _now, ctx) => {
  let expired = 0;
  for (const [id, e] of s.dead) {
    if (e.at < input.before) {
      s.dead.delete(id);
      expired++;
    }
  }
  if (expired > 0) {
    s.counters.deadExpired += expired;
    ctx.changed = true;
  }
  return { expired };
};
