/**
 * What a backlog promises about itself, checked by the property tests after every step (like
 * core/invariants.ts for the topic state): cheap enough on small backlogs, not for the hot path.
 */
import type { Backlog } from './backlog.js';
import { checkManifest } from './manifest.js';
import { manifestJson, storeManifest } from './manifest-stored.js';

/** JSON with object keys sorted: two manifests with the same fields compare equal. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x));
}

function fail(msg: string): never {
  throw new Error(`backlog invariant broken: ${msg}`);
}

export function assertBacklogInvariants(b: Backlog): void {
  let window = 0;
  let tails = 0;
  let bytes = 0;
  for (const [p, c] of b.chains) {
    if (c.priority !== p) fail(`chain ${p} says priority ${c.priority}`);
    const live = [...b.windowSize.keys()].filter((j) => j.priority === p);
    if (live.length !== c.windowLive) fail(`window ${p} counts ${c.windowLive}, holds ${live.length}`);
    window += live.length;
    tails += c.tail.length;
    const maxWindow = Math.max(-Infinity, ...live.map((j) => j.order));
    let prev = maxWindow;
    for (const s of c.segments) {
      if (s.priority !== p) fail(`segment ${s.key} of priority ${s.priority} in chain ${p}`);
      const from = s === c.segments[0] ? s.next : s.first;
      if (from <= prev) fail(`chain ${p}: segment ${s.key} goes on at ${from}, not after ${prev}`);
      if (s.last < s.next || s.next < s.first || s.skip >= s.n) fail(`segment ${s.key} has bad bounds`);
      prev = s.last;
    }
    for (const j of c.tail) {
      if (j.state !== 'pending' || j.priority !== p || b.head.get(j.id) !== j) fail(`tail job ${j.id} is out of place`);
      if (j.order <= prev) fail(`chain ${p}: tail job ${j.id} (order ${j.order}) is not behind ${prev}`);
      prev = j.order;
    }
  }
  for (const [j, size] of b.windowSize) {
    if (j.state !== 'pending' || b.head.get(j.id) !== j) fail(`window job ${j.id} is out of place`);
    bytes += size;
  }
  if (bytes !== b.windowBytes) fail(`window bytes ${b.windowBytes}, recount ${bytes}`);
  if (tails !== b.tailJobs) fail(`tail count ${b.tailJobs}, recount ${tails}`);
  let delayed = 0;
  for (const j of b.head.values()) if (j.state === 'delayed') delayed++;
  if (delayed !== b.delayedCount) fail(`delayed count ${b.delayedCount}, recount ${delayed}`);
  if (b.head.size !== window + tails + delayed) fail(`head holds ${b.head.size} jobs, places account for ${window + tails + delayed}`);
  for (const id of b.tombstones.keys()) if (b.head.has(id)) fail(`job ${id} is both in the head and tombstoned`);
  if (b.tombstones.size > 4 * b.limits.tombstoneMax) fail(`${b.tombstones.size} tombstones`);
  const m = b.manifest();
  const stored = JSON.stringify(storeManifest(m));
  const back = checkManifest(JSON.parse(stored), 'backlog', b.topic);
  if (canonical(back) !== canonical(m)) fail('the stored manifest does not read back as the manifest');
  // What queue.json gets: each entry's kept text must be what the entry is now.
  if (manifestJson(b) !== stored) fail('the manifest written from kept texts differs from the manifest');
}
