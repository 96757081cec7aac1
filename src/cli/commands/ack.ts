/** `bucketq ack`: complete a claimed job. */
import { defineCommand } from '../command.js';
import { ENVIRONMENT_USAGE, EXIT_USAGE, GLOBAL_USAGE, jsonArg, LEASE_FLAGS, LEASE_USAGE, leaseHandle, parse, positionals, print, topicArg, withLeaseClient } from '../shared.js';

const usage = `NAME
    bucketq ack - complete a claimed job

SYNOPSIS
    bucketq ack TOPIC ID --worker ID --lease L [--result JSON]

DESCRIPTION
    Completes the job, storing the result with it (it is archived right after). The worker id
    and lease token must be the claim's: anything else (another worker, an expired lease, a job
    claimed again since) fails with LEASE_LOST.

    A retried ack whose first try landed answers ok while the job is not yet archived (a few
    milliseconds), LEASE_LOST after that; the error then says that an earlier try may have landed.

OPTIONS
${LEASE_USAGE}

    --result JSON
        The job's result (small JSON, at most 64 KiB).

${GLOBAL_USAGE}

OUTPUT
    {"id": ID}

${ENVIRONMENT_USAGE}

${EXIT_USAGE}

EXAMPLES
    bucketq ack emails 7Hq2x --worker me --lease abc.0 --result '{"sent": true}'
`;

export default defineCommand({
  name: 'ack',
  summary: 'complete a claimed job (with an optional JSON result)',
  usage,
  async run(argv, env) {
    const { flags, ctx } = parse(argv, { ...LEASE_FLAGS, result: { type: 'string' } }, env);
    const [topicText, id] = positionals(flags.positionals, ['TOPIC', 'ID']);
    const topic = topicArg(topicText!);
    const handle = leaseHandle(id!, flags.values);
    const result = flags.values.result === undefined ? undefined : jsonArg(flags.values.result, 'the result');
    const out = await withLeaseClient(ctx, topic, handle, (q) => q.ack(handle, result));
    print(ctx, out, () => `acked ${out.id}`);
    return 0;
  },
});
