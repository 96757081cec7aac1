/**
 * The stream deliveries of one RESP server: for each job handed out by XREADGROUP, which group
 * and consumer hold it and the broker's lease (worker id + token) that XACK, XCLAIM and
 * XAUTOCLAIM present for them. Redis clients only ever see stream ids; tokens stay here.
 *
 * This is bookkeeping, not queue state: the broker owns the lease and its expiry. An entry whose
 * lease has expired is dropped (the broker has put the job back, and the next XREADGROUP `>`
 * delivers it again), so XPENDING lists live leases only. The table lives in this process: after
 * a restart or a failover XACK of an older delivery answers 0 and the job is redelivered when its
 * lease expires, which is what at-least-once promises.
 */
import { compareIds } from './stream-ids.js';

export interface StreamLease {
  id: string;
  group: string;
  consumer: string;
  /** The broker lease's worker id and token. */
  worker: string;
  token: string;
  leaseUntil: number;
  /** When it was delivered or last claimed: XPENDING's idle time counts from here. */
  deliveredAt: number;
  /** The broker's attempt count (1 on the first delivery). */
  deliveries: number;
}

export class StreamLeases {
  private readonly topics = new Map<string, Map<string, StreamLease>>();

  constructor(private readonly now: () => number) {}

  set(topic: string, lease: StreamLease): void {
    let t = this.topics.get(topic);
    if (!t) this.topics.set(topic, (t = new Map()));
    t.set(lease.id, lease);
  }

  /** A live delivery of `id` to `group`, if any. */
  get(topic: string, group: string, id: string): StreamLease | undefined {
    const l = this.topics.get(topic)?.get(id);
    if (!l || l.group !== group) return undefined;
    if (l.leaseUntil <= this.now()) {
      this.delete(topic, id);
      return undefined;
    }
    return l;
  }

  delete(topic: string, id: string): void {
    const t = this.topics.get(topic);
    if (!t) return;
    t.delete(id);
    if (t.size === 0) this.topics.delete(topic);
  }

  /** The live deliveries of a group (every group when null), in stream id order; expired ones are dropped. */
  list(topic: string, group: string | null): StreamLease[] {
    const t = this.topics.get(topic);
    if (!t) return [];
    const now = this.now();
    const out: StreamLease[] = [];
    for (const l of t.values()) {
      if (l.leaseUntil <= now) t.delete(l.id);
      else if (group === null || l.group === group) out.push(l);
    }
    if (t.size === 0) this.topics.delete(topic);
    return out.sort((a, b) => compareIds(a.id, b.id));
  }

  /** XGROUP CREATE: remembered only to answer BUSYGROUP and XINFO (every group sees one queue). */
  private readonly declared = new Map<string, Set<string>>();

  declare(topic: string, group: string): boolean {
    let g = this.declared.get(topic);
    if (!g) this.declared.set(topic, (g = new Set()));
    if (g.has(group)) return false;
    g.add(group);
    return true;
  }

  undeclare(topic: string, group: string): boolean {
    return this.declared.get(topic)?.delete(group) ?? false;
  }

  /** Groups created or delivering on a topic. */
  groups(topic: string): string[] {
    return [...new Set([...(this.declared.get(topic) ?? []), ...this.list(topic, null).map((l) => l.group)])];
  }
}
