/** `bucketq claim`: lease due jobs to a worker id and print them with their lease tokens. */
import { hostname } from 'node:os';
import { durationFlag, intFlag } from '../args.js';
import { defineCommand } from '../command.js';
import { ENVIRONMENT_USAGE, EXIT_USAGE, GLOBAL_USAGE, LEASE_FOR_FLAGS, LEASE_FOR_USAGE, leaseForFlag, parse, positionals, preview, print, table, topicArg, when, withClient } from '../shared.js';

const usage = `NAME
    bucketq claim - lease due jobs of a topic

SYNOPSIS
    bucketq claim TOPIC [--max N] [--wait D] [--worker ID] [--lease-for D]

DESCRIPTION
    Claims up to N due jobs (highest priority first, FIFO within a priority) for the worker id,
    each under a lease: until the lease ends, nobody else gets the job. Finish each one with
    "bucketq ack" or "bucketq nack", or extend it with "bucketq heartbeat", presenting the worker
    id and the job's lease token. A job whose lease runs out goes back to the queue (or to the
    dead-letter list once its attempts are spent).

    With --wait, waits up to D for a job when none is due (a long poll). Prints nothing
    to claim as an empty list; the exit status is 0 either way.

    The claim is not retried once it may have reached the broker (a lost answer leaves its jobs
    leased until the lease expires, then they are delivered again).

OPTIONS
    --max N
        Jobs to claim at most (default 1).

    --wait D
        Wait up to D (a duration, at most 30s) for a job when none is due (default 0s; a bare
        number is still read as seconds, with a notice; write the unit).

    --worker ID
        The worker id to claim for (default cli-HOST-PID). Ack, nack and heartbeat must present it.

${LEASE_FOR_USAGE}

${GLOBAL_USAGE}

OUTPUT
    {"jobs": [{"id", "payload", "attempt", "maxAttempts", "priority", "lease", "leaseUntil",
    "createdAt", "lastError"?, "workerId"}]}; as text, a table and the command to ack each job.

${ENVIRONMENT_USAGE}

${EXIT_USAGE}

EXAMPLES
    bucketq claim emails --max 10 --wait 5s --lease-for 2m
    job=$(bucketq claim emails --json --worker me | jq -c '.jobs[0]')
`;

export default defineCommand({
  name: 'claim',
  summary: 'lease due jobs to a worker and print them with their lease tokens',
  usage,
  async run(argv, env) {
    const { flags, ctx } = parse(argv, { max: { type: 'string' }, wait: { type: 'string' }, worker: { type: 'string' }, ...LEASE_FOR_FLAGS }, env);
    const [topicText] = positionals(flags.positionals, ['TOPIC']);
    const topic = topicArg(topicText!);
    const v = flags.values;
    const max = intFlag(v.max, 'max') ?? 1;
    const waitMs = durationFlag(v.wait, 'wait', { max: 30_000, bareSeconds: true }) ?? 0;
    const leaseMs = leaseForFlag(v);
    const workerId = v.worker ?? `cli-${hostname().replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 64) || 'host'}-${process.pid}`;
    const jobs = await withClient(ctx, topic, (q) => q.claim({ workerId, max, waitMs, ...(leaseMs !== undefined ? { leaseMs } : {}) }));
    print(ctx, { jobs }, () => {
      if (jobs.length === 0) return `no job due in ${topic}`;
      const rows = jobs.map((j) => [j.id, j.attempt, j.priority, j.lease, when(j.leaseUntil), preview(j.payload, 40)]);
      const first = jobs[0]!;
      return [
        table(['ID', 'ATTEMPT', 'PRIORITY', 'LEASE', 'LEASE UNTIL', 'PAYLOAD'], rows),
        '',
        `claimed ${jobs.length} for worker ${workerId}; finish with:`,
        `  bucketq ack ${topic} ${first.id} --worker ${workerId} --lease ${first.lease}`,
      ].join('\n');
    });
    return 0;
  },
});
