/**
 * Pending entries of a consumer group: XPENDING, XCLAIM, XAUTOCLAIM, on top of broker leases.
 *
 * A Redis pending entry is a bucketq job leased to the group (see resp/stream-leases.ts). bucketq
 * itself puts a job back when its lease expires, and the next XREADGROUP `>` of any consumer gets
 * it: that is the usual redelivery. XCLAIM and XAUTOCLAIM take over a *live* lease, one idle for
 * at least min-idle-time (since its delivery or last claim), from another consumer of the same
 * group: the lease is renewed with the broker (a heartbeat with the stored token, for a full
 * `--resp-lease-ms`) and then belongs to the new consumer here; the broker keeps the worker id
 * of the first delivery. A lease the broker no longer honours (expired, acked) is not taken.
 * XCLAIM of one's own entry with min-idle 0 is therefore a heartbeat.
 *
 * IDLE, TIME, RETRYCOUNT, FORCE and LASTID are accepted and ignored: idle time and delivery counts
 * are the broker's (deliveries = the job's attempts).
 */
import { QueueError } from '../../../errors.js';
import { intArg, invalid, payloadFields, syntaxError, topicOf, type CommandCall, type CommandTable } from '../command.js';
import { compareIds } from '../stream-ids.js';
import type { StreamLease } from '../stream-leases.js';
import { NULL_ARRAY, type Reply } from '../writer.js';

/** `-`, `+`, an id, or `(id` (exclusive), as XPENDING ranges take them. */
function inRange(id: string, start: string, end: string): boolean {
  const lowOk = start === '-' || (start.startsWith('(') ? compareIds(id, start.slice(1)) > 0 : compareIds(id, start) >= 0);
  const highOk = end === '+' || (end.startsWith('(') ? compareIds(id, end.slice(1)) < 0 : compareIds(id, end) <= 0);
  return lowOk && highOk;
}

function xpending(call: CommandCall): Reply {
  const [key, group, ...rest] = call.args;
  const topic = topicOf(key!);
  const now = call.ctx.clock.now();
  const live = call.ctx.leases.list(topic, group!);
  if (rest.length === 0) {
    if (live.length === 0) return [0, null, null, NULL_ARRAY];
    const per = new Map<string, number>();
    for (const l of live) per.set(l.consumer, (per.get(l.consumer) ?? 0) + 1);
    return [live.length, live[0]!.id, live.at(-1)!.id, [...per].map(([c, n]) => [c, String(n)])];
  }
  let minIdle = 0;
  let i = 0;
  if (rest[0]!.toUpperCase() === 'IDLE') {
    minIdle = intArg(rest[1] ?? '', 'IDLE');
    i = 2;
  }
  const [start, end, countText, consumer, ...extra] = rest.slice(i);
  if (start === undefined || end === undefined || countText === undefined || extra.length > 0) throw syntaxError();
  const count = intArg(countText, 'count');
  return live
    .filter((l) => inRange(l.id, start, end) && now - l.deliveredAt >= minIdle && (consumer === undefined || l.consumer === consumer))
    .slice(0, count)
    .map((l) => [l.id, l.consumer, now - l.deliveredAt, l.deliveries]);
}

/** Renews a live lease with the broker and hands it to `consumer`; false if the broker refused. */
async function takeOver(call: CommandCall, topic: string, l: StreamLease, consumer: string): Promise<boolean> {
  try {
    const { leaseUntil } = await call.ctx.broker.heartbeat(topic, { id: l.id, workerId: l.worker, lease: l.token, leaseMs: call.ctx.streamLeaseMs });
    Object.assign(l, { consumer, leaseUntil, deliveredAt: call.ctx.clock.now() });
    return true;
  } catch (err) {
    if (err instanceof QueueError && (err.code === 'LEASE_LOST' || err.code === 'NOT_FOUND')) {
      call.ctx.leases.delete(topic, l.id);
      return false;
    }
    throw err;
  }
}

async function claimedEntries(call: CommandCall, topic: string, taken: StreamLease[], justId: boolean): Promise<Reply[]> {
  if (justId) return taken.map((l) => l.id);
  return Promise.all(
    taken.map(async (l): Promise<Reply> => {
      const job = await call.ctx.broker.get(topic, l.id).catch(() => null);
      return [l.id, job ? payloadFields(job.payload) : null];
    }),
  );
}

const XCLAIM_OPTIONS_WITH_VALUE = new Set(['IDLE', 'TIME', 'RETRYCOUNT', 'LASTID']);

async function xclaim(call: CommandCall): Promise<Reply> {
  const [key, group, consumer, minIdleText, ...rest] = call.args;
  const topic = topicOf(key!);
  const minIdle = intArg(minIdleText!, 'Invalid min-idle-time argument for XCLAIM');
  const ids: string[] = [];
  let justId = false;
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!.toUpperCase();
    if (word === 'JUSTID') justId = true;
    else if (word === 'FORCE') continue;
    else if (XCLAIM_OPTIONS_WITH_VALUE.has(word)) i++;
    else if (/^\d+(-\d+)?$/.test(rest[i]!) || ids.length === 0) ids.push(rest[i]!);
    else throw syntaxError();
  }
  const now = call.ctx.clock.now();
  const candidates = ids
    .map((id) => call.ctx.leases.get(topic, group!, /^\d+$/.test(id) ? `${id}-0` : id))
    .filter((l): l is StreamLease => l !== undefined && now - l.deliveredAt >= minIdle);
  const taken: StreamLease[] = [];
  for (const l of candidates) if (await takeOver(call, topic, l, consumer!)) taken.push(l);
  return claimedEntries(call, topic, taken, justId);
}

async function xautoclaim(call: CommandCall): Promise<Reply> {
  const [key, group, consumer, minIdleText, start, ...rest] = call.args;
  const topic = topicOf(key!);
  const minIdle = intArg(minIdleText!, 'Invalid min-idle-time argument for XAUTOCLAIM');
  let count = 100;
  let justId = false;
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!.toUpperCase();
    if (word === 'COUNT') count = intArg(rest[++i] ?? '', 'COUNT');
    else if (word === 'JUSTID') justId = true;
    else throw syntaxError();
  }
  if (count < 1) throw invalid('COUNT must be > 0');
  const from = start === '-' || start === '0' ? '0-0' : start!;
  const now = call.ctx.clock.now();
  const candidates = call.ctx.leases.list(topic, group!).filter((l) => compareIds(l.id, from) >= 0 && now - l.deliveredAt >= minIdle);
  const batch = candidates.slice(0, count);
  const next = candidates[count]?.id ?? '0-0';
  const taken: StreamLease[] = [];
  for (const l of batch) if (await takeOver(call, topic, l, consumer!)) taken.push(l);
  return [next, await claimedEntries(call, topic, taken, justId), []];
}

export const PENDING_COMMANDS: CommandTable = {
  xpending: { arity: -3, flags: ['readonly'], keys: [1, 1, 1], run: xpending },
  xclaim: { arity: -6, flags: ['write', 'fast'], keys: [1, 1, 1], run: xclaim },
  xautoclaim: { arity: -6, flags: ['write', 'fast'], keys: [1, 1, 1], run: xautoclaim },
};
