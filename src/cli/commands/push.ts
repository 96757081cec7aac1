/** `bucketq push`: one job from an argument, or many from JSON lines on stdin, in batches. */
import { fstatSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { QueueError } from '../../errors.js';
import type { PushOptions, PushResult, Queue } from '../../api.js';
import { durationFlag, intFlag } from '../args.js';
import { defineCommand, UsageError } from '../command.js';
import { createProgress } from '../progress.js';
import { clientFor, ENVIRONMENT_USAGE, EXIT_USAGE, GLOBAL_USAGE, jsonArg, maxAttemptsFlag, parse, positionals, print, topicArg } from '../shared.js';

const DEFAULT_BATCH = 500;
const MAX_BATCH = 10_000;

const usage = `NAME
    bucketq push - add jobs to a topic

SYNOPSIS
    bucketq push TOPIC JSON [--id ID] [--priority N] [--delay D] [--max-attempts N]
    COMMAND | bucketq push TOPIC [--jobs] [--batch N] [--priority N] [--delay D] [--max-attempts N]

DESCRIPTION
    With a JSON argument, pushes one job with that payload and prints its id. Without one,
    reads stdin: every non-empty line is one JSON payload (with --jobs, one job object
    {"payload", "id", "priority", "delayMs", "runAt", "maxAttempts", "backoff"}). Lines are sent
    in batches, one batch in flight while the next is read, each batch one durable commit, in
    input order. On a terminal, a progress line is shown on stderr.

    Every job carries an id (yours, or one made by the client), so a batch that is retried after
    a lost answer adds nothing twice. A job whose id exists already is not added again
    ("created": false): give ids with --jobs to make a whole load safe to run twice.

    A line that is not valid JSON stops the load with an error naming the line; the batches
    before it were pushed (the error says how many jobs).

OPTIONS
    --id ID
        The job's id (one job only). Pushing an id that exists adds nothing.

    --priority N
        Higher is claimed first (integer, default 0); FIFO within a priority.

    --delay D
        Make the job due D from now: a duration such as 30s, 5m, 1h or 500ms (a bare number is
        still read as seconds, with a notice; write the unit).

    --max-attempts N
        Claims before the job is dead-lettered: 1 to 1000000 (default: the topic's, 5).

    --jobs
        Each stdin line is a job object rather than a payload; the options above are defaults.

    --batch N
        Jobs per request when reading stdin (default ${DEFAULT_BATCH}, at most ${MAX_BATCH}).

${GLOBAL_USAGE}

OUTPUT
    One job: {"id": ID, "created": true|false}. Stdin: {"pushed": N, "created": M}.

${ENVIRONMENT_USAGE}

${EXIT_USAGE}

EXAMPLES
    bucketq push emails '{"to": "ada@example.com"}'
    bucketq push emails '{"to": "vip@example.com"}' --id welcome-42 --priority 10
    bucketq push emails '{"to": "later@example.com"}' --delay 15m
    jq -c '.[]' contacts.json | bucketq push emails
    printf '%s\\n' '{"id": "a1", "payload": {"n": 1}, "delayMs": 60000}' | bucketq push emails --jobs
`;

function invalidInput(message: string): QueueError {
  return new QueueError('INVALID_ARGUMENT', message);
}

export default defineCommand({
  name: 'push',
  summary: 'add a job (JSON argument) or many (JSON lines on stdin, batched)',
  usage,
  async run(argv, env) {
    const { flags, ctx } = parse(
      argv,
      {
        id: { type: 'string' },
        priority: { type: 'string' },
        delay: { type: 'string' },
        'max-attempts': { type: 'string' },
        jobs: { type: 'boolean' },
        batch: { type: 'string' },
      },
      env,
    );
    const [topicText, json] = positionals(flags.positionals, ['TOPIC', '[JSON]']);
    const topic = topicArg(topicText!);
    const v = flags.values;
    const defaults: PushOptions = {};
    if (v.priority !== undefined) {
      if (!/^-?\d+$/.test(v.priority)) throw new UsageError(`--priority must be an integer, got ${JSON.stringify(v.priority)}`);
      defaults.priority = Number(v.priority);
    }
    const delayMs = durationFlag(v.delay, 'delay', { bareSeconds: true });
    if (delayMs !== undefined) defaults.delayMs = delayMs;
    const maxAttempts = maxAttemptsFlag(v['max-attempts']);
    if (maxAttempts !== undefined) defaults.maxAttempts = maxAttempts;
    const batch = intFlag(v.batch, 'batch') ?? DEFAULT_BATCH;
    if (batch > MAX_BATCH) throw new UsageError(`--batch must be at most ${MAX_BATCH}, got ${batch}`);

    if (json !== undefined) {
      if (v.jobs || v.batch !== undefined) throw new UsageError('--jobs and --batch are for reading stdin; with a JSON argument, give the job options as flags');
      const payload = jsonArg(json, 'the payload');
      const q = clientFor(ctx, topic);
      try {
        const out = await q.push(payload, { ...defaults, ...(v.id !== undefined ? { id: v.id } : {}) });
        print(ctx, out, () => (out.created ? `pushed ${out.id}` : `${out.id} exists already: nothing added`));
      } finally {
        await q.close();
      }
      return 0;
    }
    if (v.id !== undefined) throw new UsageError('--id is for one job given as an argument; with stdin, use --jobs and an "id" in each line');
    if (process.stdin.isTTY) throw new UsageError('give a JSON payload, or pipe JSON lines into stdin');
    const q = clientFor(ctx, topic);
    try {
      const { pushed, created } = await pushLines(q, defaults, batch, !!v.jobs);
      print(ctx, { pushed, created }, () => `pushed ${pushed} ${pushed === 1 ? 'job' : 'jobs'} (${created} new${pushed > created ? `, ${pushed - created} existed already` : ''})`);
    } finally {
      await q.close();
    }
    return 0;
  },
});

/** What was pushed before a failure, for its message. */
function sofar(pushed: number): string {
  return pushed === 0 ? 'nothing was pushed' : `the ${pushed} ${pushed === 1 ? 'job' : 'jobs'} before it were pushed`;
}

/** The size of stdin when it is a regular file (for the progress bar), else undefined. */
function stdinSize(): number | undefined {
  try {
    const st = fstatSync(0);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

async function pushLines(q: Queue, defaults: PushOptions, batchSize: number, jobLines: boolean): Promise<{ pushed: number; created: number }> {
  const progress = createProgress(process.stderr, 'jobs', stdinSize());
  let pushed = 0;
  let created = 0;
  let bytes = 0;
  let inFlight: Promise<void> | null = null;
  const send = async (jobs: Array<{ payload: unknown } & PushOptions>, lines: number[], readBytes: number): Promise<void> => {
    let out: PushResult[];
    try {
      out = await q.pushMany(jobs);
    } catch (err) {
      // The broker names a bad job by its index in the batch: name its line instead.
      if (!(err instanceof QueueError) || !/jobs\[\d+\]/.test(err.message)) throw err;
      const message = err.message.replace(/jobs\[(\d+)\](\.?)/g, (_m, i: string, dot: string) => `line ${lines[Number(i)] ?? '?'}${dot ? ': ' : ''}`);
      throw new QueueError(err.code, message, { cause: err });
    }
    pushed += out.length;
    created += out.filter((r) => r.created).length;
    progress.update(pushed, readBytes);
  };
  let batch: Array<{ payload: unknown } & PushOptions> = [];
  let batchLines: number[] = [];
  let lineNo = 0;
  try {
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      lineNo++;
      bytes += Buffer.byteLength(line) + 1;
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line) as unknown;
      } catch (err) {
        await inFlight;
        throw invalidInput(`line ${lineNo} is not valid JSON (${(err as Error).message}); ${sofar(pushed)}`);
      }
      if (jobLines) {
        if (typeof value !== 'object' || value === null || Array.isArray(value) || !('payload' in value)) {
          await inFlight;
          throw invalidInput(`line ${lineNo} is not a job object with a "payload" (--jobs); ${sofar(pushed)}`);
        }
        batch.push({ ...defaults, ...(value as { payload: unknown }) });
      } else {
        batch.push({ ...defaults, payload: value });
      }
      batchLines.push(lineNo);
      if (batch.length >= batchSize) {
        await inFlight;
        inFlight = send(batch, batchLines, bytes);
        // A failed batch is reported by the next await; keep the rejection from being unhandled meanwhile.
        inFlight.catch(() => {});
        batch = [];
        batchLines = [];
      }
    }
    await inFlight;
    if (batch.length > 0) await send(batch, batchLines, bytes);
  } catch (err) {
    if (err instanceof QueueError && !err.message.endsWith(sofar(pushed))) throw new QueueError(err.code, `${err.message}; ${sofar(pushed)}`, { cause: err });
    throw err;
  } finally {
    progress.done();
  }
  return { pushed, created };
}
