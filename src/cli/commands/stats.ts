/** `bucketq stats`: counts of one topic or all, as a table. */
import { listTopics } from '../../client/topics.js';
import type { JobStats } from '../../core/types.js';
import { defineCommand } from '../command.js';
import { duration, ENVIRONMENT_USAGE, EXIT_USAGE, GLOBAL_USAGE, leaderText, parse, positionals, print, table, topicArg, withClient } from '../shared.js';

const usage = `NAME
    bucketq stats - job counts of a topic, or of every topic

SYNOPSIS
    bucketq stats [TOPIC]

DESCRIPTION
    Shows, per topic: jobs pending (due), delayed, claimed and dead; the age of the oldest due
    job; and counters since the topic was created (pushed, completed, nacked attempts, leases
    that expired). With a TOPIC, also its leader and every counter. Without one, every topic
    of the store; a topic led by another broker is asked of that broker.

${GLOBAL_USAGE}

OUTPUT
    With TOPIC: {"topic", "pending", "delayed", "claimed", "dead", "archiving",
    "oldestPendingMs", "paused", "seq", "counters": {...}, "broker": {"id", "url", "epoch",
    "leaseUntil"}}. Without: {"topics": [that, or {"topic", "error": {"code", "message"}}]}.

${ENVIRONMENT_USAGE}

${EXIT_USAGE}

EXAMPLES
    bucketq stats
    bucketq stats emails --json | jq .pending
`;

const HEADERS = ['TOPIC', 'PENDING', 'DELAYED', 'CLAIMED', 'DEAD', 'OLDEST', 'PUSHED', 'COMPLETED', 'NACKED', 'EXPIRED', 'PAUSED'];

function row(topic: string, s: JobStats): Array<string | number> {
  return [
    topic,
    s.pending,
    s.delayed,
    s.claimed,
    s.dead,
    s.oldestPendingMs > 0 ? duration(s.oldestPendingMs) : '-',
    s.counters.pushed,
    s.counters.completed,
    s.counters.nacked,
    s.counters.leasesExpired,
    s.paused ? 'yes' : 'no',
  ];
}

export default defineCommand({
  name: 'stats',
  summary: 'job counts of a topic or of every topic (a table)',
  usage,
  async run(argv, env) {
    const { flags, ctx } = parse(argv, {}, env);
    const [topicText] = positionals(flags.positionals, ['[TOPIC]']);
    if (topicText !== undefined) {
      const topic = topicArg(topicText);
      const stats = await withClient(ctx, topic, (q) => q.stats());
      print(ctx, { topic, ...stats }, () => {
        const counters = Object.entries(stats.counters)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ');
        return [table(HEADERS, [row(topic, stats)]), '', `leader    ${leaderText(stats.broker)}`, `counters  ${counters}`, `commit    seq ${stats.seq}`].join('\n');
      });
      return 0;
    }
    const topics = await listTopics(ctx.connection);
    const json = topics.map((t) => (t.stats ? { topic: t.topic, ...t.stats } : { topic: t.topic, error: t.error?.toJSON() }));
    print(ctx, { topics: json }, () => {
      if (topics.length === 0) return 'no topics yet';
      const rows = topics.filter((t) => t.stats).map((t) => row(t.topic, t.stats!));
      const failed = topics.filter((t) => !t.stats).map((t) => `${t.topic}: ${t.error?.message ?? 'no answer'}${t.error ? ` (${t.error.code})` : ''}`);
      return [table(HEADERS, rows), ...(failed.length > 0 ? ['', 'no stats for:', ...failed.map((f) => `  ${f}`)] : [])].join('\n');
    });
    const failed = topics.filter((t) => !t.stats).length;
    if (failed === 0) return 0;
    process.stderr.write(`bucketq stats: no stats for ${failed} of ${topics.length} topics (their leader could not answer)\n`);
    return 1;
  },
});
