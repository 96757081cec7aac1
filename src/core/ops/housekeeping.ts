/** Ops the broker itself issues: leadership (elect, release) and archive bookkeeping. */
import { QueueError } from '../../errors.js';
import { setDone } from '../state.js';
import type { BrokerLease } from '../types.js';
import type { OpHandler } from './_context.js';

export interface ElectInput {
  id: string;
  url: string;
  leaseMs: number;
}

/**
 * Takes or renews leadership. A live lease held by another broker is never taken: the caller gets
 * NOT_LEADER naming the holder. A takeover bumps the epoch, which fences the previous leader: its
 * next CAS fails and its reload shows the new epoch.
 */
export const elect: OpHandler<ElectInput, BrokerLease> = (s, input, now, ctx) => {
  const cur = s.broker;
  if (cur && cur.id !== input.id && cur.leaseUntil > now) {
    throw new QueueError('NOT_LEADER', `topic ${s.topic} is led by broker ${cur.id} (${cur.url || 'no url'}) until ${new Date(cur.leaseUntil).toISOString()}`, {
      details: { leader: cur.url, leaderId: cur.id, leaseUntil: cur.leaseUntil, epoch: cur.epoch },
    });
  }
  const epoch = cur && cur.id === input.id ? cur.epoch : (cur?.epoch ?? 0) + 1;
  s.broker = { id: input.id, url: input.url, epoch, leaseUntil: now + input.leaseMs };
  ctx.changed = true;
  return { ...s.broker };
};

/** Gives up leadership on a clean shutdown so a standby can take over at once. */
export const release: OpHandler<{ id: string }, { released: boolean }> = (s, input, _now, ctx) => {
  if (!s.broker || s.broker.id !== input.id) return { released: false };
  s.broker.leaseUntil = 0;
  ctx.changed = true;
  return { released: true };
};

/** The archive objects named here were written: their jobs leave queue.json. */
export const archived: OpHandler<{ keys: string[] }, { removed: number }> = (s, input, _now, ctx) => {
  const keys = new Set(input.keys);
  const before = s.done.length;
  const kept = s.done.filter((j) => !keys.has(j.archive ?? ''));
  const removed = before - kept.length;
  if (removed > 0) setDone(s, kept);
  if (removed > 0) ctx.changed = true;
  return { removed };
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
