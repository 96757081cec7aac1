/** `bucketq retry`: send a dead-lettered job back to the queue. */
import { defineCommand } from '../command.js';
import { ENVIRONMENT_USAGE, EXIT_USAGE, GLOBAL_USAGE, parse, positionals, print, topicArg, withClient } from '../shared.js';

const usage = `NAME
    bucketq retry - send a dead job back to the queue

SYNOPSIS
    bucketq retry TOPIC ID

DESCRIPTION
    Moves a dead-lettered job back to pending with its attempts reset (its payload is read back
    from its archive). A job that is not dead is FAILED_PRECONDITION; an unknown id, or a dead
    job whose archive passed retention, is NOT_FOUND. "bucketq stats TOPIC" shows how many
    jobs are dead; "bucketq inspect TOPIC" lists them.

${GLOBAL_USAGE}

OUTPUT
    {"id", "state": "pending"}

${ENVIRONMENT_USAGE}

${EXIT_USAGE}

EXAMPLES
    bucketq retry emails welcome-42
`;

export default defineCommand({
  name: 'retry',
  summary: 'send a dead-lettered job back to the queue',
  usage,
  async run(argv, env) {
    const { flags, ctx } = parse(argv, {}, env);
    const [topicText, id] = positionals(flags.positionals, ['TOPIC', 'ID']);
    const topic = topicArg(topicText!);
    const out = await withClient(ctx, topic, (q) => q.retry(id!));
    print(ctx, out, () => `${out.id} is ${out.state} again`);
    return 0;
  },
});
