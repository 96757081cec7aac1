/**
 * Leader discovery from storage. A topic's leader writes itself into the topic's own object,
 * `topics/<topic>/queue.json`, as `broker: {id, url, epoch, leaseUntil}`; a client that can read
 * the store finds the broker to talk to there, with no registry or DNS of its own.
 *
 * A topic nobody leads yet (new, or its lease released and not yet taken over) has no URL to
 * offer; any broker of the store will take it on a request, so the leaders of other topics are
 * asked instead (the freshest lease wins). When the store names no broker at all, discovery
 * finds nothing and the caller falls back to its configured URL, if any.
 */
import { queueKey, topicOfQueueKey } from '../core/keys.js';
import type { BrokerLease } from '../core/types.js';
import type { StorageDriver } from '../storage/types.js';

/** Bodies up to this size are parsed whole; larger ones only have their head scanned for the lease. */
const PARSE_WHOLE_BYTES = 256 * 1024;
const HEAD_BYTES = 16 * 1024;
/** Other topics read at most when the topic itself names no broker. */
const OTHER_TOPICS = 8;

/** The `broker` lease written in a queue.json body, null when none; undefined when the body is not one. */
export function leaseOfQueueJson(body: Uint8Array): BrokerLease | null | undefined {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  let broker: unknown;
  if (buf.length <= PARSE_WHOLE_BYTES) {
    try {
      broker = (JSON.parse(buf.toString('utf8')) as { broker?: unknown }).broker;
    } catch {
      return undefined;
    }
  } else {
    // The head of queue.json holds the scalar fields and the lease before the (large) job lists.
    // `"broker":` cannot occur inside a JSON string (its closing quote would be escaped), so the
    // first match is the top-level key.
    const head = buf.subarray(0, HEAD_BYTES).toString('utf8');
    const m = /"broker":(null|\{[^{}]*\})/.exec(head);
    if (!m) return undefined;
    try {
      broker = JSON.parse(m[1]!);
    } catch {
      return undefined;
    }
  }
  if (broker === null) return null;
  const b = broker as Partial<BrokerLease> | undefined;
  if (!b || typeof b.id !== 'string' || typeof b.url !== 'string' || typeof b.epoch !== 'number' || typeof b.leaseUntil !== 'number') return undefined;
  return { id: b.id, url: b.url, epoch: b.epoch, leaseUntil: b.leaseUntil };
}

/** The lease stored for `topic`: null when the topic does not exist or names no broker. */
export async function readLeader(store: StorageDriver, topic: string): Promise<BrokerLease | null> {
  const obj = await store.read(queueKey(topic));
  return obj ? (leaseOfQueueJson(obj.body) ?? null) : null;
}

export interface Discovered {
  url: string;
  lease: BrokerLease;
  /** `topic`: the topic's own leader; `store`: the leader of another topic of the store. */
  source: 'topic' | 'store';
}

/**
 * The broker to send `topic`'s requests to, or null when the store names none. Without a topic:
 * any broker of the store. A stale lease is still returned (its broker may be alive and renew it;
 * if it is not, the request fails to connect and the caller asks again after a back-off).
 */
export async function discoverBroker(store: StorageDriver, topic: string | undefined): Promise<Discovered | null> {
  if (topic !== undefined) {
    const lease = await readLeader(store, topic);
    if (lease && lease.url !== '') return { url: lease.url, lease, source: 'topic' };
  }
  const others = (await store.list('topics/'))
    .map(topicOfQueueKey)
    .filter((t): t is string => t !== undefined && t !== topic)
    .slice(0, OTHER_TOPICS);
  const leases = await Promise.all(others.map((t) => readLeader(store, t).catch(() => null)));
  let best: BrokerLease | null = null;
  for (const l of leases) {
    if (!l || l.url === '') continue;
    if (!best || l.leaseUntil > best.leaseUntil) best = l;
  }
  if (!best) return null;
  return { url: best.url, lease: best, source: 'store' };
}
