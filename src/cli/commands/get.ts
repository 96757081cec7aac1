/** `bucketq get`: one job with its payload. */
import type { JobRecord } from '../../api.js';
import { defineCommand } from '../command.js';
import { ENVIRONMENT_USAGE, EXIT_USAGE, GLOBAL_USAGE, parse, positionals, print, topicArg, when, withClient } from '../shared.js';

const usage = `NAME
    bucketq get - show one job

SYNOPSIS
    bucketq get TOPIC ID

DESCRIPTION
    Shows a job by id with its payload: live jobs (pending, delayed, claimed), dead-lettered
    jobs (read back from their archive), and completed or cancelled jobs: from queue.json until
    they are archived, then from their archive object while the broker's recent window
    (--recent-window-ms, default 60 s) remembers their id; after that NOT_FOUND (their record
    stays in the store's archive/TOPIC/ objects for the retention period). A claimed job shows its
    worker and lease end, never its lease token.

${GLOBAL_USAGE}

OUTPUT
    The job record: {"id", "state", "payload", "priority", "attempts", "maxAttempts", "runAt",
    "createdAt", "updatedAt", "lease"?: {"worker", "until"}, "lastError"?, "result"?, ...}

${ENVIRONMENT_USAGE}

${EXIT_USAGE}

EXAMPLES
    bucketq get emails welcome-42
`;

function describe(job: JobRecord): string {
  const lines: Array<[string, string]> = [
    ['id', job.id],
    ['state', job.state],
    ['priority', String(job.priority)],
    ['attempts', `${job.attempts} of ${job.maxAttempts}`],
    ['created', when(job.createdAt)],
    ['updated', when(job.updatedAt)],
  ];
  if (job.state === 'pending' || job.state === 'delayed') lines.push(['due', when(job.runAt)]);
  const lease = job.lease as { worker: string; until: number } | undefined;
  if (lease) lines.push(['leased to', `${lease.worker} until ${when(lease.until)}`]);
  if (job.lastError !== undefined) lines.push(['last error', job.lastError]);
  if (job.finishedAt !== undefined) lines.push(['finished', when(job.finishedAt)]);
  if (job.result !== undefined) lines.push(['result', JSON.stringify(job.result)]);
  const width = Math.max(...lines.map(([k]) => k.length));
  const payload = JSON.stringify(job.payload, null, 2) ?? 'null';
  return [...lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`), 'payload', ...payload.split('\n').map((l) => `  ${l}`)].join('\n');
}

export default defineCommand({
  name: 'get',
  summary: 'show one job with its payload',
  usage,
  async run(argv, env) {
    const { flags, ctx } = parse(argv, {}, env);
    const [topicText, id] = positionals(flags.positionals, ['TOPIC', 'ID']);
    const topic = topicArg(topicText!);
    const job = await withClient(ctx, topic, (q) => q.get(id!));
    print(ctx, job, () => describe(job));
    return 0;
  },
});
