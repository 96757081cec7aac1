/** `bucketq heartbeat`: extend the lease of a claimed job. */
import { defineCommand } from '../command.js';
import { ENVIRONMENT_USAGE, EXIT_USAGE, GLOBAL_USAGE, LEASE_FLAGS, LEASE_FOR_FLAGS, LEASE_FOR_USAGE, LEASE_USAGE, leaseForFlag, leaseHandle, parse, positionals, print, topicArg, when, withLeaseClient } from '../shared.js';

const usage = `NAME
    bucketq heartbeat - extend the lease of a claimed job

SYNOPSIS
    bucketq heartbeat TOPIC ID --worker ID --lease L [--lease-for D]

DESCRIPTION
    Extends the job's lease to D from now, so nobody else gets it while you work. The
    worker id and lease token must be the claim's, else LEASE_LOST (the job is not yours any more:
    stop working on it).

OPTIONS
${LEASE_USAGE}

${LEASE_FOR_USAGE}

${GLOBAL_USAGE}

OUTPUT
    {"leaseUntil": EPOCH_MS}

${ENVIRONMENT_USAGE}

${EXIT_USAGE}

EXAMPLES
    bucketq heartbeat emails 7Hq2x --worker me --lease abc.0 --lease-for 2m
`;

export default defineCommand({
  name: 'heartbeat',
  summary: 'extend the lease of a claimed job',
  usage,
  async run(argv, env) {
    const { flags, ctx } = parse(argv, { ...LEASE_FLAGS, ...LEASE_FOR_FLAGS }, env);
    const [topicText, id] = positionals(flags.positionals, ['TOPIC', 'ID']);
    const topic = topicArg(topicText!);
    const handle = leaseHandle(id!, flags.values);
    const leaseMs = leaseForFlag(flags.values);
    const out = await withLeaseClient(ctx, topic, handle, (q) => q.heartbeat(handle, leaseMs));
    print(ctx, out, () => `lease of ${handle.id} extended until ${when(out.leaseUntil)}`);
    return 0;
  },
});
