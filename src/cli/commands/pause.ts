/** `bucketq pause`: stop handing out a topic's jobs (pushes are still accepted). */
import { defineCommand } from '../command.js';
import { ENVIRONMENT_USAGE, EXIT_USAGE, GLOBAL_USAGE, parse, positionals, print, topicArg, withClient } from '../shared.js';

const usage = `NAME
    bucketq pause - stop handing out a topic's jobs

SYNOPSIS
    bucketq pause TOPIC

DESCRIPTION
    Pauses TOPIC: pushes are still accepted, but claims get no jobs (a waiting long poll keeps
    waiting) until "bucketq resume TOPIC". Jobs already claimed run on: their workers may still
    heartbeat, ack and nack them. Pausing a paused topic changes nothing. A topic that does not
    exist yet is created paused, so it can be paused before its first push.

    "bucketq stats TOPIC" shows whether a topic is paused.

${GLOBAL_USAGE}

OUTPUT
    The topic's settings after the change: {"topic", "maxAttempts", "backoff", "paused": true}

${ENVIRONMENT_USAGE}

${EXIT_USAGE}

EXAMPLES
    bucketq pause emails
    bucketq resume emails
`;

export default defineCommand({
  name: 'pause',
  summary: 'stop handing out a topic\'s jobs (pushes are still accepted)',
  usage,
  async run(argv, env) {
    const { flags, ctx } = parse(argv, {}, env);
    const [topicText] = positionals(flags.positionals, ['TOPIC']);
    const topic = topicArg(topicText!);
    const settings = await withClient(ctx, topic, (q) => q.pause());
    print(ctx, { topic, ...settings }, () => `paused ${topic}: pushes are accepted, no jobs are handed out until "bucketq resume ${topic}"`);
    return 0;
  },
});
