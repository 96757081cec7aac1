/**
 * Every topic of a broker group with its stats. A broker lists all topics of its store but has
 * stats only for those it leads; for the others it names the leader, which is then asked directly.
 */
import type { BrokerLease, JobStats } from '../core/types.js';
import { QueueError } from '../errors.js';
import { Connection, type ConnectionOptions } from './connection.js';
import { httpRequest } from './http.js';

export interface TopicSummary {
  topic: string;
  /** The topic's stats (with `broker`, its leader), when some broker could answer for it. */
  stats?: JobStats;
  /** Why there are no stats: the leader could not be reached, or the topic is unreadable. */
  error?: QueueError;
}

type WireTopic = { topic: string; leader?: BrokerLease | null; error?: { code: string; message: string } } & Partial<Omit<JobStats, 'broker'>>;

function toStats(t: WireTopic): JobStats {
  const { topic: _topic, leader, error: _error, ...rest } = t;
  return { ...(rest as Omit<JobStats, 'broker'>), broker: leader ?? null };
}

/** Lists the topics of the store behind `url` (or found through `store`), asking each topic's leader for its stats. */
export async function listTopics(options: ConnectionOptions): Promise<TopicSummary[]> {
  const conn = new Connection(options);
  try {
    const { topics } = await conn.call<{ topics: WireTopic[] }>({ method: 'GET', path: '/v1/topics', retry: 'always' });
    const timeoutMs = options.timeoutMs ?? 10_000;
    return await Promise.all(
      topics.map(async (t): Promise<TopicSummary> => {
        if (!t.error) return { topic: t.topic, stats: toStats(t) };
        const url = t.leader?.url;
        const failed = new QueueError((t.error.code as QueueError['code']) ?? 'INTERNAL', t.error.message);
        if (t.error.code !== 'NOT_LEADER' || !url) return { topic: t.topic, error: failed };
        try {
          const s = await httpRequest<WireTopic>({ method: 'GET', base: url, path: `/v1/topics/${encodeURIComponent(t.topic)}`, token: options.token, ca: options.ca, timeoutMs });
          return { topic: t.topic, stats: toStats(s) };
        } catch (err) {
          return { topic: t.topic, error: err instanceof QueueError ? err : failed };
        }
      }),
    );
  } finally {
    await conn.close();
  }
}
