/** `bucketq topics`: every topic of the store and its leader. */
import { listTopics } from '../../client/topics.js';
import { defineCommand } from '../command.js';
import { duration, ENVIRONMENT_USAGE, EXIT_USAGE, GLOBAL_USAGE, parse, positionals, print, table } from '../shared.js';

const usage = `NAME
    bucketq topics - list topics and their leaders

SYNOPSIS
    bucketq topics

DESCRIPTION
    Lists every topic of the brokers' store (every topic with a queue.json), with the broker
    leading it and how long its leadership lease still runs. "bucketq stats" shows their counts.

${GLOBAL_USAGE}

OUTPUT
    {"topics": [{"topic", "leader": {"id", "url", "epoch", "leaseUntil"} | null, "error"?}]}

${ENVIRONMENT_USAGE}

${EXIT_USAGE}

EXAMPLES
    bucketq topics
    bucketq topics --json | jq -r '.topics[].topic'
`;

export default defineCommand({
  name: 'topics',
  summary: 'list topics and the broker leading each',
  usage,
  async run(argv, env) {
    const { flags, ctx } = parse(argv, {}, env);
    positionals(flags.positionals, []);
    const topics = await listTopics(ctx.connection);
    const json = topics.map((t) => ({ topic: t.topic, leader: t.stats?.broker ?? null, ...(t.error ? { error: t.error.toJSON() } : {}) }));
    print(ctx, { topics: json }, () => {
      if (topics.length === 0) return 'no topics yet';
      const now = Date.now();
      const rows = json.map((t) => [
        t.topic,
        t.leader ? t.leader.id : '-',
        t.leader ? t.leader.url || '(embedded)' : '-',
        t.leader ? t.leader.epoch : '-',
        t.leader ? (t.leader.leaseUntil > now ? `${duration(t.leader.leaseUntil - now)} left` : 'expired') : t.error ? `${t.error.code}` : '-',
      ]);
      return table(['TOPIC', 'LEADER', 'URL', 'EPOCH', 'LEASE'], rows);
    });
    return 0;
  },
});
