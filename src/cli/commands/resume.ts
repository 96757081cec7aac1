/** `bucketq resume`: hand out a paused topic's jobs again. */
import { defineCommand } from '../command.js';
import { ENVIRONMENT_USAGE, EXIT_USAGE, GLOBAL_USAGE, parse, positionals, print, topicArg, withClient } from '../shared.js';

const usage = `NAME
    bucketq resume - hand out a paused topic's jobs again

SYNOPSIS
    bucketq resume TOPIC

DESCRIPTION
    Undoes "bucketq pause TOPIC": claims get jobs again, and long polls that were waiting on the
    paused topic are answered at once. Resuming a topic that is not paused changes nothing.

${GLOBAL_USAGE}

OUTPUT
    The topic's settings after the change: {"topic", "maxAttempts", "backoff", "paused": false}

${ENVIRONMENT_USAGE}

${EXIT_USAGE}

EXAMPLES
    bucketq resume emails
`;

export default defineCommand({
  name: 'resume',
  summary: 'hand out a paused topic\'s jobs again',
  usage,
  async run(argv, env) {
    const { flags, ctx } = parse(argv, {}, env);
    const [topicText] = positionals(flags.positionals, ['TOPIC']);
    const topic = topicArg(topicText!);
    const settings = await withClient(ctx, topic, (q) => q.resume());
    print(ctx, { topic, ...settings }, () => `resumed ${topic}: jobs are handed out again`);
    return 0;
  },
});
