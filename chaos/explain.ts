/**
 * Why was a job delivered again? Given two deliveries of one job (the later claim has the higher
 * attempt), the engine is only allowed to have handed it out again if
 *
 *   nack           a nack of the earlier lease was sent before the later delivery was seen (it
 *                  may have landed even when its answer was lost), so this is a retry;
 *   released       the worker handed the earlier lease back (Queue.release, its prefetched jobs at
 *                  close) before the later delivery was seen: the only case in which the later
 *                  delivery may carry the same attempt number, since a release does not count one;
 *   lease-expired  the earlier lease's last expiry the worker knew (from its claim, or the last
 *                  heartbeat answered) lies before the later delivery was seen: the broker's claim
 *                  happened before the worker saw it, so the broker saw the lease expired;
 *   leader-change  a broker started leading the topic between the two deliveries;
 *   worker-killed, worker-frozen
 *                  the nemesis SIGKILLed or SIGSTOPped the worker holding the earlier lease
 *                  between the two (its heartbeats may have landed with answers never seen).
 *
 * Anything else is unexplained: the engine handed out a job whose lease was still valid. A
 * heartbeat whose answer was lost may have extended a lease beyond what the worker knew; that
 * can only make an unexplained redelivery look explained, never the reverse.
 */
import type { DeliverEvent, HeartbeatEvent, HistoryEvent, LeaderEvent, NemesisEvent, ReleaseEvent, SettleEvent } from './history.js';

export type Reason = 'nack' | 'released' | 'lease-expired' | 'leader-change' | 'worker-killed' | 'worker-frozen';

export interface Explainer {
  /** The first reason that explains `second` after `first`, or null. */
  explain(first: DeliverEvent, second: DeliverEvent): Reason | null;
}

export function createExplainer(events: HistoryEvent[]): Explainer {
  const heartbeats = new Map<string, HeartbeatEvent[]>();
  const nacks = new Map<string, SettleEvent[]>();
  const releases = new Map<string, ReleaseEvent[]>();
  const leaders: LeaderEvent[] = [];
  const nemesis: NemesisEvent[] = [];
  for (const e of events) {
    if (e.op === 'hb' && e.ok) push(heartbeats, e.lease, e);
    else if (e.op === 'nack') push(nacks, e.lease, e);
    else if (e.op === 'release') push(releases, e.lease, e);
    else if (e.op === 'leader') leaders.push(e);
    else if (e.op === 'nemesis') nemesis.push(e);
  }
  return {
    explain(first, second) {
      if (first.lease === second.lease || second.attempt < first.attempt) return null;
      // Sent is enough (its answer may be lost); a release never raises the attempt number.
      if ((releases.get(first.lease) ?? []).some((r) => r.sm < second.m)) return 'released';
      if (second.attempt === first.attempt) return null;
      // A nack that answered LEASE_LOST did not land: the lease had gone already.
      if ((nacks.get(first.lease) ?? []).some((n) => n.sm < second.m && n.code !== 'LEASE_LOST')) return 'nack';
      let until = first.until;
      for (const h of heartbeats.get(first.lease) ?? []) if (h.m < second.m) until = Math.max(until, h.until ?? 0);
      if (until < second.t) return 'lease-expired';
      const lo = Math.min(first.m, second.m);
      const hi = Math.max(first.m, second.m);
      if (leaders.some((l) => l.m > lo && l.m < hi)) return 'leader-change';
      const hit = nemesis.find((n) => n.target === first.p && (n.action === 'kill' || n.action === 'stop') && n.m > lo && n.m < hi);
      if (hit) return hit.action === 'kill' ? 'worker-killed' : 'worker-frozen';
      return null;
    },
  };
}

function push<V>(map: Map<string, V[]>, key: string, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
