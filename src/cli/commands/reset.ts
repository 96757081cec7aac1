/** `bucketq reset`: serve a topic whose state was lost again (an operator's deliberate act). */
import { httpRequest } from '../../client/http.js';
import { defineCommand, UsageError } from '../command.js';
import { DEFAULT_URL, ENVIRONMENT_USAGE, EXIT_USAGE, GLOBAL_USAGE, parse, positionals, print, topicArg } from '../shared.js';

const usage = `NAME
    bucketq reset - serve a topic whose state was lost again

SYNOPSIS
    bucketq reset TOPIC --confirm [--restore-from-memory] --url BROKER

DESCRIPTION
    A broker that read or wrote a topic's queue.json and then finds it missing (deleted by hand,
    a lifecycle rule, a bucket restore) or back at an older commit stops serving the topic: every
    request answers STATE_LOST, /readyz is not ready, and it never re-creates the topic by itself
    (that would silently drop every job the object held). This command is the explicit action
    that serves it again, on the broker given by --url (each broker decides for itself; other
    brokers that found the topic lost follow by themselves once it is reset, within a second).

    What the broker does:
      - queue.json is back (restored by hand, or reset through another broker): it serves that
        object as it is;
      - queue.json is missing: it starts the topic empty (its commit sequence and leadership
        epoch go on from where they were), or with --restore-from-memory writes back the last
        commit it landed while it led the topic: every job, lease and setting as of that commit.

    It refuses a topic whose state is in place (FAILED_PRECONDITION) and a topic that never
    existed (NOT_FOUND), and never overwrites an object. See docs/operations.md, "When a topic's
    state vanishes", for what else can be recovered (archives, payload objects).

    --confirm
        Required: resetting gives up whatever the lost object held that is not restored.

    --restore-from-memory
        Write back the broker's last commit instead of starting empty. Only the broker that led
        the topic when its state vanished holds one, and only until it restarts: "GET /v1/broker"
        shows it as stateLost.memorySeq.

${GLOBAL_USAGE}

OUTPUT
    {"topic", "action": "fresh" | "restored" | "adopted", "seq", "jobs"?: {"pending", "delayed", "claimed", "dead"}}

${ENVIRONMENT_USAGE}

${EXIT_USAGE}

EXAMPLES
    bucketq reset emails --confirm --restore-from-memory --url http://10.0.0.5:8080
    bucketq reset emails --confirm --url http://10.0.0.5:8080
`;

interface ResetAnswer {
  topic: string;
  action: 'fresh' | 'restored' | 'adopted';
  seq: number;
  jobs?: { pending: number; delayed: number; claimed: number; dead: number };
}

export default defineCommand({
  name: 'reset',
  summary: 'serve a topic whose state was lost again (fresh, or restored from the broker\'s memory)',
  usage,
  async run(argv, env) {
    const { flags, ctx } = parse(argv, { confirm: { type: 'boolean' }, 'restore-from-memory': { type: 'boolean' } }, env);
    const [topicText] = positionals(flags.positionals, ['TOPIC']);
    const topic = topicArg(topicText!);
    if (flags.values.confirm !== true) throw new UsageError('--confirm is required: a reset gives up whatever the lost state held that is not restored');
    const c = ctx.connection;
    // One broker, no redirects: the reset is that broker's decision (and its memory).
    const out = await httpRequest<ResetAnswer>({
      method: 'POST',
      base: (c.url ?? DEFAULT_URL).replace(/\/+$/, ''),
      path: `/v1/topics/${encodeURIComponent(topic)}/reset`,
      body: { restoreFromMemory: flags.values['restore-from-memory'] === true },
      token: c.token,
      ca: c.ca,
      timeoutMs: c.retry?.deadlineMs || 10_000,
    });
    print(ctx, out, () => {
      const jobs = out.jobs ? `: ${out.jobs.pending} pending, ${out.jobs.delayed} delayed, ${out.jobs.claimed} claimed, ${out.jobs.dead} dead` : '';
      const what = out.action === 'adopted' ? 'serving the queue.json found in place' : out.action === 'restored' ? 'restored from the broker\'s memory' : 'started empty';
      return `topic ${topic} reset, ${what} (commit ${out.seq})${jobs}`;
    });
    return 0;
  },
});
