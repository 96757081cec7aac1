/** `bucketq nack`: fail an attempt of a claimed job. */
import { defineCommand } from '../command.js';
import { ENVIRONMENT_USAGE, EXIT_USAGE, GLOBAL_USAGE, LEASE_FLAGS, LEASE_USAGE, leaseHandle, parse, positionals, print, topicArg, when, withLeaseClient } from '../shared.js';
import { durationFlag } from '../args.js';

const usage = `NAME
    bucketq nack - fail an attempt of a claimed job

SYNOPSIS
    bucketq nack TOPIC ID --worker ID --lease L [--error TEXT] [--delay D]

DESCRIPTION
    Fails the current attempt: the job is retried after its backoff (or after --delay), or goes
    to the dead-letter list when its attempts are spent. The worker id and lease token must be
    the claim's, else LEASE_LOST.

OPTIONS
${LEASE_USAGE}

    --error TEXT
        Why it failed; kept as the job's lastError.

    --delay D
        Retry after D, a duration (30s, 5m, 0s: at once), instead of the job's backoff (a bare
        number is still read as seconds, with a notice; write the unit).

${GLOBAL_USAGE}

OUTPUT
    {"id", "state": "pending"|"delayed"|"dead", "runAt"?}

${ENVIRONMENT_USAGE}

${EXIT_USAGE}

EXAMPLES
    bucketq nack emails 7Hq2x --worker me --lease abc.0 --error 'smtp timeout' --delay 60s
`;

export default defineCommand({
  name: 'nack',
  summary: 'fail an attempt of a claimed job (retried later, or dead-lettered)',
  usage,
  async run(argv, env) {
    const { flags, ctx } = parse(argv, { ...LEASE_FLAGS, error: { type: 'string' }, delay: { type: 'string' } }, env);
    const [topicText, id] = positionals(flags.positionals, ['TOPIC', 'ID']);
    const topic = topicArg(topicText!);
    const handle = leaseHandle(id!, flags.values);
    const delayMs = durationFlag(flags.values.delay, 'delay', { bareSeconds: true });
    const out = await withLeaseClient(ctx, topic, handle, (q) => q.nack(handle, flags.values.error, delayMs === undefined ? {} : { delayMs }));
    print(ctx, out, () =>
      out.state === 'dead' ? `nacked ${out.id}: dead (its attempts are spent)` : `nacked ${out.id}: ${out.state}${out.runAt !== undefined ? `, due ${when(out.runAt)}` : ''}`,
    );
    return 0;
  },
});
