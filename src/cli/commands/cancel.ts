/** `bucketq cancel`: cancel a pending or delayed job. */
import { defineCommand } from '../command.js';
import { ENVIRONMENT_USAGE, EXIT_USAGE, GLOBAL_USAGE, parse, positionals, print, topicArg, withClient } from '../shared.js';

const usage = `NAME
    bucketq cancel - cancel a pending or delayed job

SYNOPSIS
    bucketq cancel TOPIC ID

DESCRIPTION
    Removes a job that is waiting (pending or delayed); it is archived as cancelled. A claimed
    job cannot be cancelled (FAILED_PRECONDITION): its worker owns it until it acks, nacks or
    its lease runs out. An unknown or already archived id is NOT_FOUND.

${GLOBAL_USAGE}

OUTPUT
    {"id", "state": "cancelled"}

${ENVIRONMENT_USAGE}

${EXIT_USAGE}

EXAMPLES
    bucketq cancel emails welcome-42
`;

export default defineCommand({
  name: 'cancel',
  summary: 'cancel a pending or delayed job',
  usage,
  async run(argv, env) {
    const { flags, ctx } = parse(argv, {}, env);
    const [topicText, id] = positionals(flags.positionals, ['TOPIC', 'ID']);
    const topic = topicArg(topicText!);
    const out = await withClient(ctx, topic, (q) => q.cancel(id!));
    print(ctx, out, () => `cancelled ${out.id}`);
    return 0;
  },
});
