/**
 * Checks everything the core promises about a state. Used by property tests after every step and
 * by fuzzing; cheap enough to run on small states, not meant for the hot path.
 */
import { cachedJson } from './job-json.js';
import { assertBacklogInvariants } from './segments/invariants.js';
import type { QueueState } from './state.js';

function fail(msg: string): never {
  throw new Error(`invariant broken: ${msg}`);
}

export function assertInvariants(s: QueueState, now: number): void {
  const counts = { pending: 0, delayed: 0, claimed: 0 };
  const tokens = new Set<string>();
  for (const [id, job] of s.jobs) {
    if (job.id !== id) fail(`job stored under ${id} has id ${job.id}`);
    if (job.state !== 'pending' && job.state !== 'delayed' && job.state !== 'claimed') fail(`live job ${id} is ${job.state}`);
    counts[job.state]++;
    if (job.attempts > job.maxAttempts) fail(`job ${id} has ${job.attempts} attempts > max ${job.maxAttempts}`);
    if (job.attempts < 0 || !Number.isInteger(job.attempts)) fail(`job ${id} has bad attempts ${job.attempts}`);
    if (job.order >= s.nextOrder) fail(`job ${id} order ${job.order} >= nextOrder ${s.nextOrder}`);
    if (job.state !== 'claimed' && s.backlog.head.get(id) !== job) fail(`${job.state} job ${id} is not in the backlog's head`);
    if (job.state === 'claimed') {
      if (!job.lease || !job.lease.token || !job.lease.worker) fail(`claimed job ${id} has no lease`);
      if (tokens.has(job.lease.token)) fail(`lease token ${job.lease.token} is held twice`);
      tokens.add(job.lease.token);
      if (job.attempts < 1) fail(`claimed job ${id} has 0 attempts`);
    } else if (job.lease) {
      fail(`${job.state} job ${id} still has a lease`);
    }
    if (s.dead.has(id)) fail(`job ${id} is both live and dead`);
    if ((job.payload === undefined) === (job.payloadRef === undefined)) fail(`job ${id} must have exactly one of payload and payloadRef`);
    const cached = cachedJson(job);
    if (cached !== undefined && !sameJson(JSON.parse(cached), JSON.parse(JSON.stringify(job)))) fail(`job ${id} changed without touch(): stale JSON cache`);
  }
  if (s.backlog.head.size !== counts.pending + counts.delayed) fail(`the backlog's head holds ${s.backlog.head.size} jobs, the state ${counts.pending + counts.delayed}`);
  assertBacklogInvariants(s.backlog);
  counts.pending += s.backlog.segPending;
  counts.delayed += s.backlog.segDelayed;
  for (const k of ['pending', 'delayed', 'claimed'] as const) {
    if (counts[k] !== s.idx.counts[k]) fail(`count of ${k} is ${s.idx.counts[k]}, recount gives ${counts[k]}`);
  }
  for (const job of s.done) {
    if (job.state !== 'completed' && job.state !== 'dead' && job.state !== 'cancelled') fail(`done job ${job.id} is ${job.state}`);
    if (!job.archive) fail(`done job ${job.id} has no archive key`);
    if (job.lease && job.state !== 'completed') fail(`${job.state} job ${job.id} still has a lease`);
    if (job.attempts > job.maxAttempts) fail(`done job ${job.id} has too many attempts`);
  }
  const latest = new Map(s.done.map((j) => [j.id, j]));
  if (latest.size !== s.idx.doneById.size || [...latest].some(([id, j]) => s.idx.doneById.get(id) !== j)) fail('done index out of step with the done list');
  for (const [id, e] of s.dead) {
    if (!e.archive) fail(`dead entry ${id} has no archive key`);
  }
  const remembered = new Map<string, string>();
  let lastAt = -Infinity;
  for (const g of s.recent.groups) {
    if (g.at < lastAt) fail('recent groups out of time order');
    lastAt = g.at;
    if (!g.key || g.n < 1) fail('a recent group has no archive key or no ids');
    if (!g.jobs) continue; // not hydrated (its archive object was unreadable)
    if (g.jobs.length % 2 !== 0) fail('a recent group is not id/token pairs');
    for (let i = 0; i < g.jobs.length; i += 2) remembered.set(g.jobs[i]!, g.jobs[i + 1]!);
  }
  if (remembered.size !== s.recent.byId.size || [...remembered].some(([id, t]) => s.recent.byId.get(id)?.token !== t)) fail('recent index out of step with its groups');
  for (const id of remembered.keys()) if (s.jobs.has(id)) fail(`job ${id} is both live and in the recent window`);
  if (s.broker && s.broker.epoch < 1) fail('broker epoch below 1');
  // A claimed job whose lease has passed `now` is still owned until a sweep requeues it;
  // the lease ops refuse it (LEASE_LOST), so it can never be acked twice.
  void now;
}

/** Deep equality of two JSON values, ignoring key order. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
