/** `bucketq retry`: send a dead-lettered job back to the queue. */
import { defineCommand, UsageError } from '../command.js';
import { ENVIRONMENT_USAGE, EXIT_USAGE, GLOBAL_USAGE, parse, positionals, print, topicArg, withClient } from '../shared.js';

const usage = `NAME
    bucketq retry - send a dead job back to the queue

SYNOPSIS
    bucketq retry TOPIC ID
    bucketq retry --all-dead TOPIC

DESCRIPTION
    Moves a dead-lettered job back to pending with its attempts reset (its payload is read back
    from its archive). A job that is not dead is FAILED_PRECONDITION; an unknown id, or a dead
    job whose archive passed retention, is NOT_FOUND. "bucketq stats TOPIC" shows how many
    jobs are dead; "bucketq inspect TOPIC" lists them.

    --all-dead
        Every dead job of TOPIC back to pending, in one commit. Jobs whose archived record
        cannot be read right now are left dead and listed as skipped (run it again).

${GLOBAL_USAGE}

OUTPUT
    {"id", "state": "pending"}
    with --all-dead: {"retried", "ids", "skipped": [{"id", "code", "message"}]}

${ENVIRONMENT_USAGE}

${EXIT_USAGE}

EXAMPLES
    bucketq retry emails welcome-42
    bucketq retry --all-dead emails
`;

export default defineCommand({
  name: 'retry',
  summary: 'send a dead-lettered job back to the queue',
  usage,
  async run(argv, env) {
    const { flags, ctx } = parse(argv, { 'all-dead': { type: 'boolean' } }, env);
    if (flags.values['all-dead'] === true) {
      const [topicText] = positionals(flags.positionals, ['TOPIC']);
      const topic = topicArg(topicText!);
      const out = await withClient(ctx, topic, (q) => q.retryDead());
      const skipped = out.skipped.length > 0 ? ` (${out.skipped.length} skipped: ${out.skipped.map((s) => `${s.id} ${s.code}`).join(', ')})` : '';
      print(ctx, out, () => `${out.retried} dead job${out.retried === 1 ? '' : 's'} pending again${skipped}`);
      return 0;
    }
    if (flags.positionals.length === 1) throw new UsageError('missing ID (or --all-dead to retry every dead job)');
    const [topicText, id] = positionals(flags.positionals, ['TOPIC', 'ID']);
    const topic = topicArg(topicText!);
    const out = await withClient(ctx, topic, (q) => q.retry(id!));
    print(ctx, out, () => `${out.id} is ${out.state} again`);
    return 0;
  },
});
