/** `bucketq work`: a worker that runs a command per job (createWorker over the network client). */
import type { QueueError } from '../../errors.js';
import { createWorker } from '../../worker/index.js';
import type { WorkerJob } from '../../worker/types.js';
import { intFlag } from '../args.js';
import { defineCommand, UsageError } from '../command.js';
import { runCommand } from '../run-command.js';
import { clientFor, duration, ENVIRONMENT_USAGE, GLOBAL_USAGE, parse, positionals, preview, previewText, secondsFlag, topicArg } from '../shared.js';

const DEFAULT_DRAIN_S = 30;

const usage = `NAME
    bucketq work - run a command for every job of a topic

SYNOPSIS
    bucketq work TOPIC [--concurrency N] [--prefetch N] [--lease-seconds S] [--worker ID] [--drain-timeout S] -- COMMAND [ARGS...]

DESCRIPTION
    Claims jobs of TOPIC and runs COMMAND once per job (without a shell), up to N at a time. The
    command gets the job's payload as JSON (one line) on stdin, and in its environment
    BUCKETQ_TOPIC, BUCKETQ_JOB_ID, BUCKETQ_ATTEMPT and BUCKETQ_MAX_ATTEMPTS.

    Exit status 0 acks the job: stdout becomes its result (parsed when it is JSON, else the
    text; nothing: no result). A result must be small (64 KiB); a larger one fails the attempt.
    Any other status, or death by a signal, nacks it with the end of stderr (about 2 KiB) as
    the error: the job is retried after its backoff, and dead-lettered once its attempts are
    spent. A command that cannot be started at all (not found, not executable) nacks the job it
    was started for and stops the worker with exit status 1.

    While a command runs, its job's lease is renewed (every third of the lease). If the lease is
    lost anyway (the job was given to someone else), the command gets SIGTERM and its outcome is
    ignored.

    Commands run in their own process group: Ctrl-C on the terminal reaches bucketq, not them.

OPTIONS
    --concurrency N
        Commands running at once (default 1, at most 1000).

    --prefetch N
        Jobs claimed ahead of free slots and held until one frees (default 0; concurrency +
        prefetch at most 1000). Worth it for many short jobs; held jobs are handed back untouched
        on SIGTERM.

    --lease-seconds S
        Lease of each job (default 30, at least 1); renewed every S/3 seconds while its command runs.

    --worker ID
        This worker's id in leases (default: host, pid and a random suffix).

    --drain-timeout S
        On SIGTERM, how long running commands may take to finish (default ${DEFAULT_DRAIN_S}); then they get
        SIGTERM, and their jobs are handed back at once for another worker.

${GLOBAL_USAGE}

OUTPUT
    One line per event: as text, "completed ID ...", "failed ID ...", and so on; as JSON,
    {"event": "started"|"completed"|"failed"|"lease-lost"|"error"|"draining"|"killing"|"stopped",
    ...}. As text, per-job lines go to stdout and the rest to stderr.
    Connection trouble (a broker down, a leader change) is reported and retried, never fatal.

SIGNALS
    SIGTERM, SIGINT
        Stop claiming, let the running commands finish (up to --drain-timeout), report them,
        and exit 0. A second signal kills the running commands (SIGKILL) at once; their jobs
        are nacked.

${ENVIRONMENT_USAGE}

EXIT STATUS
    0 after a drain; 1 when a command cannot be started; 2 on bad arguments.

EXAMPLES
    bucketq work emails --concurrency 8 -- ./send-mail.sh
    bucketq work thumbnails -- node -e 'process.stdin.pipe(process.stdout)'
`;

export default defineCommand({
  name: 'work',
  summary: 'run a command per job: payload on stdin, exit 0 acks with stdout, else nacks',
  usage,
  async run(argv, env) {
    const end = argv.indexOf('--');
    if (end === -1) throw new UsageError('give the command after --, e.g. bucketq work TOPIC -- ./handle.sh');
    const [command, ...args] = argv.slice(end + 1);
    if (command === undefined || command === '') throw new UsageError('the command after -- is missing');
    const { flags, ctx } = parse(
      argv.slice(0, end),
      { concurrency: { type: 'string' }, prefetch: { type: 'string' }, 'lease-seconds': { type: 'string' }, worker: { type: 'string' }, 'drain-timeout': { type: 'string' } },
      env,
    );
    const [topicText] = positionals(flags.positionals, ['TOPIC']);
    const topic = topicArg(topicText!);
    const v = flags.values;
    const concurrency = intFlag(v.concurrency, 'concurrency') ?? 1;
    if (concurrency > 1000) throw new UsageError('--concurrency must be at most 1000');
    const prefetch = intFlag(v.prefetch, 'prefetch', 0) ?? 0;
    if (concurrency + prefetch > 1000) throw new UsageError(`--prefetch must be at most ${1000 - concurrency} with --concurrency ${concurrency} (together at most 1000)`);
    const leaseMs = secondsFlag(v['lease-seconds'], 'lease-seconds', 3600);
    if (leaseMs !== undefined && leaseMs < 1000) throw new UsageError('--lease-seconds must be at least 1');
    const drainMs = secondsFlag(v['drain-timeout'], 'drain-timeout') ?? DEFAULT_DRAIN_S * 1000;

    const emit = (event: string, fields: Record<string, unknown>, text: string, toStderr = false) => {
      const line = ctx.json ? JSON.stringify({ event, ...fields }) : text;
      (toStderr && !ctx.json ? process.stderr : process.stdout).write(`${line}\n`);
    };

    const client = clientFor(ctx, topic, leaseMs !== undefined ? { leaseMs } : {});
    /** Commands running now, by job id, with a way to kill each. */
    const running = new Map<string, { kill: ((s: NodeJS.Signals) => void) | null }>();
    const startedAt = new Map<string, number>();
    let fatal: string | null = null;
    let stop!: (why: 'signal' | 'fatal') => void;
    const stopped = new Promise<'signal' | 'fatal'>((resolve) => (stop = resolve));

    const worker = createWorker<unknown, unknown>(
      client,
      async (job: WorkerJob<unknown>, signal) => {
        const entry: { kill: ((s: NodeJS.Signals) => void) | null } = { kill: null };
        running.set(job.id, entry);
        startedAt.set(job.id, Date.now());
        try {
          const outcome = await runCommand({
            command,
            args,
            input: `${JSON.stringify(job.payload ?? null)}\n`,
            env: { ...process.env, BUCKETQ_TOPIC: topic, BUCKETQ_JOB_ID: job.id, BUCKETQ_ATTEMPT: String(job.attempt), BUCKETQ_MAX_ATTEMPTS: String(job.maxAttempts) },
            signal,
            onSpawn: (kill) => (entry.kill = kill),
          });
          if (outcome.ok) return outcome.result;
          if ('startError' in outcome) {
            fatal = outcome.message;
            stop('fatal');
          }
          throw new Error(outcome.message);
        } finally {
          running.delete(job.id);
        }
      },
      {
        concurrency,
        prefetch,
        ...(leaseMs !== undefined ? { leaseMs } : {}),
        ...(v.worker !== undefined ? { workerId: v.worker } : {}),
        closeTimeoutMs: drainMs,
        autoStart: false,
      },
    );
    /** Milliseconds since the job's command started (the entry is dropped once the job is reported). */
    const took = (id: string) => {
      const at = startedAt.get(id);
      startedAt.delete(id);
      return at === undefined ? 0 : Date.now() - at;
    };
    worker.on('completed', (job, result) => {
      const ms = took(job.id);
      emit('completed', { id: job.id, attempt: job.attempt, ms, ...(result !== undefined ? { result } : {}) }, `completed ${job.id} (attempt ${job.attempt}, ${duration(ms)})${result !== undefined ? `: ${preview(result)}` : ''}`);
    });
    worker.on('failed', (job, error, outcome) => {
      const ms = took(job.id);
      const message = error instanceof Error ? error.message : String(error);
      const next = outcome.state === 'dead' ? 'dead: attempts spent' : `${outcome.state}${outcome.runAt !== undefined ? ` until ${new Date(outcome.runAt).toISOString()}` : ''}`;
      emit('failed', { id: job.id, attempt: job.attempt, ms, error: message, state: outcome.state, ...(outcome.runAt !== undefined ? { runAt: outcome.runAt } : {}) }, `failed ${job.id} (attempt ${job.attempt} of ${job.maxAttempts}, ${next}): ${previewText(message)}`);
    });
    worker.on('lease-lost', (job, error: QueueError) => {
      // A prefetched job can lose its lease before its command ever started.
      const started = startedAt.delete(job.id);
      emit('lease-lost', { id: job.id, error: error.message, started }, `lease lost ${job.id}: ${error.message}; ${started ? 'its command was stopped' : 'it had not started'}`, true);
    });
    worker.on('error', (error: QueueError) => {
      if (error.code === 'CLOSED') return;
      emit('error', { code: error.code, message: error.message }, `bucketq work: ${error.message} (${error.code}); retrying`, true);
    });

    let signals = 0;
    const onSignal = (s: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        emit('draining', { signal: s, running: running.size }, `${s}: draining (no more claims; waiting for ${running.size} running ${running.size === 1 ? 'command' : 'commands'})`, true);
        stop('signal');
        return;
      }
      emit('killing', { signal: s, running: running.size }, `${s} again: killing ${running.size} running ${running.size === 1 ? 'command' : 'commands'}`, true);
      for (const r of running.values()) r.kill?.('SIGKILL');
    };
    process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
    worker.start();
    emit('started', { topic, worker: worker.id, concurrency, prefetch, command: [command, ...args] }, `working on ${topic} as ${worker.id}, ${concurrency} at a time: ${[command, ...args].join(' ')}`, true);
    try {
      await stopped;
      await worker.close();
      await client.close();
    } finally {
      process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
    }
    emit('stopped', {}, 'stopped: every running command finished and was reported', true);
    if (fatal !== null) throw new Error(fatal);
    return 0;
  },
});
