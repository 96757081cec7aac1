/** `bucketq work`: a worker that runs a command per job (createWorker over the network client). */
import type { QueueError } from '../../errors.js';
import { createWorker } from '../../worker/index.js';
import type { WorkerJob } from '../../worker/types.js';
import { durationFlag, intFlag } from '../args.js';
import { defineCommand, UsageError } from '../command.js';
import { commandProblem } from '../command-path.js';
import { KILL_GRACE_MS, runCommand } from '../run-command.js';
import { clientFor, duration, ENVIRONMENT_USAGE, GLOBAL_USAGE, LEASE_FOR_FLAGS, LEASE_FOR_USAGE, leaseForFlag, parse, positionals, preview, previewText, topicArg } from '../shared.js';

const DEFAULT_DRAIN_S = 30;
/**
 * After a stop, once no command runs, how long reporting their outcomes (and handing back held
 * jobs) may take before bucketq work stops waiting for a broker that does not answer.
 */
const REPORT_GRACE_MS = 5000;

const usage = `NAME
    bucketq work - run a command for every job of a topic

SYNOPSIS
    bucketq work TOPIC [--concurrency N] [--prefetch N|auto] [--lease-for D] [--worker ID] [--drain-timeout D] -- COMMAND [ARGS...]

DESCRIPTION
    Claims jobs of TOPIC and runs COMMAND once per job (without a shell), up to N at a time. The
    command gets the job's payload as JSON (one line) on stdin, and in its environment
    BUCKETQ_TOPIC, BUCKETQ_JOB_ID, BUCKETQ_ATTEMPT and BUCKETQ_MAX_ATTEMPTS.

    Exit status 0 acks the job: stdout becomes its result (parsed when it is JSON, else the
    text; nothing: no result). A result must be small (64 KiB); a larger one fails the attempt.
    Any other status, or death by a signal, nacks it with the end of stderr (about 2 KiB) as
    the error: the job is retried after its backoff, and dead-lettered once its attempts are
    spent. A command killed because bucketq work itself stops (see SIGNALS) is not the job's
    failure: its job is released, i.e. pending again at once, the attempt not counted.

    COMMAND is checked before anything is claimed: a command that is not found (a bare name is
    looked up in PATH) or not executable is one line on stderr and exit status 2, and no job
    is touched. Nor is the job a command fails to start for later (it vanished since): it is
    released and the worker stops with exit status 1.

    While a command runs, its job's lease is renewed (every third of the lease). If the lease is
    lost anyway (the job was given to someone else), the command gets SIGTERM and its outcome is
    ignored.

    Commands run in their own process group: Ctrl-C on the terminal reaches bucketq, not them.

OPTIONS
    --concurrency N
        Commands running at once (default 1, at most 1000).

    --prefetch N|auto
        Jobs claimed ahead of free slots and held until one frees (concurrency + prefetch at
        most 1000). The default, auto, claims ahead only while commands finish faster than a
        claim's round trip and the queue is deep (rarely, for commands: each is a process),
        and hands held jobs back when every slot is stuck on a long one; 0 never claims ahead.
        Held jobs are released (pending again, attempt not counted) on SIGTERM.

${LEASE_FOR_USAGE}
        Renewed every third of it while the job's command runs.

    --worker ID
        This worker's id in leases (default: host, pid and a random suffix).

    --drain-timeout D
        On SIGTERM, how long running commands may take to finish, a duration (default ${DEFAULT_DRAIN_S}s; a bare
        number is still read as seconds, with a notice; write the unit); then they get
        SIGTERM (SIGKILL ${KILL_GRACE_MS / 1000} s later), and their jobs are released for another worker
        (pending at once, the attempt not counted).

${GLOBAL_USAGE}

OUTPUT
    One line per event: as text, "completed ID ...", "failed ID ...", and so on; as JSON,
    {"event": "started"|"completed"|"failed"|"released"|"lease-lost"|"error"|"draining"|
    "killing"|"stopped", ...}. As text, per-job lines go to stdout and the rest to stderr.
    Connection trouble (a broker down, a leader change) is reported and retried, never fatal,
    once a broker has answered; when none answers the first claim (nothing listens at --url),
    bucketq work says so in one line and exits 1.

SIGNALS
    SIGTERM, SIGINT
        Stop claiming, let the running commands finish (up to --drain-timeout, then stop them
        as above), report their outcomes, release held jobs, and exit. A second signal kills
        the running commands (SIGKILL) at once; their jobs are released (pending again, the
        attempt not counted). Once no command runs, reporting gets ${REPORT_GRACE_MS / 1000} s: when the broker
        cannot be reached, bucketq work says so, names how many jobs it could not report (their
        leases run out and they are delivered again) and exits 1, instead of retrying on.

${ENVIRONMENT_USAGE}

EXIT STATUS
    0 after a drain that reported every job; 1 when no broker answers the first claim, when
    jobs could not be reported at the stop, or when the command could not be started after
    all; 2 on bad arguments, a command that is not found or not executable included.

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
      { concurrency: { type: 'string' }, prefetch: { type: 'string' }, ...LEASE_FOR_FLAGS, worker: { type: 'string' }, 'drain-timeout': { type: 'string' } },
      env,
    );
    const [topicText] = positionals(flags.positionals, ['TOPIC']);
    const topic = topicArg(topicText!);
    const v = flags.values;
    const concurrency = intFlag(v.concurrency, 'concurrency') ?? 1;
    if (concurrency > 1000) throw new UsageError('--concurrency must be at most 1000');
    const prefetch = prefetchFlag(v.prefetch);
    if (prefetch !== 'auto' && concurrency + prefetch > 1000) throw new UsageError(`--prefetch must be at most ${1000 - concurrency} with --concurrency ${concurrency} (together at most 1000)`);
    const leaseMs = leaseForFlag(v);
    const drainMs = durationFlag(v['drain-timeout'], 'drain-timeout', { bareSeconds: true }) ?? DEFAULT_DRAIN_S * 1000;
    // Before anything is claimed: a command that cannot start would cost its first job an attempt.
    const problem = commandProblem(command, process.env.PATH);
    if (problem !== null) throw new UsageError(`cannot run ${JSON.stringify(command)}: ${problem}`);

    /** Set once the outcome is decided: lines from calls still retrying in the background are not printed after it. */
    let finished = false;
    const emit = (event: string, fields: Record<string, unknown>, text: string, toStderr = false) => {
      if (finished) return;
      const line = ctx.json ? JSON.stringify({ event, ...fields }) : text;
      (toStderr && !ctx.json ? process.stderr : process.stdout).write(`${line}\n`);
    };

    let lastError: QueueError | null = null;
    // A call being retried (a broker gone) says why at each back-off, long before it gives up.
    const client = clientFor(ctx, topic, { ...(leaseMs !== undefined ? { leaseMs } : {}), onRetry: ({ error }) => (lastError = error) });
    /** Commands running now, by job id: how to kill each, and whether a stop (not the job) ended it. */
    const running = new Map<string, RunningCommand>();
    /** Jobs whose command started and whose outcome has not been reported yet. */
    const startedAt = new Map<string, number>();
    let fatal: Error | null = null;
    let stop!: (why: 'signal' | 'fatal') => void;
    const stopped = new Promise<'signal' | 'fatal'>((resolve) => (stop = resolve));

    const worker = createWorker<unknown, unknown>(
      client,
      async (job: WorkerJob<unknown>, signal) => {
        const entry: RunningCommand = { kill: null, stop: new AbortController(), stopped: false, done: Promise.resolve() };
        let ended!: () => void;
        entry.done = new Promise<void>((resolve) => (ended = resolve));
        running.set(job.id, entry);
        startedAt.set(job.id, Date.now());
        try {
          const outcome = await runCommand({
            command,
            args,
            input: `${JSON.stringify(job.payload ?? null)}\n`,
            env: { ...process.env, BUCKETQ_TOPIC: topic, BUCKETQ_JOB_ID: job.id, BUCKETQ_ATTEMPT: String(job.attempt), BUCKETQ_MAX_ATTEMPTS: String(job.maxAttempts) },
            signal: AbortSignal.any([signal, entry.stop.signal]),
            onSpawn: (kill) => (entry.kill = kill),
          });
          if (outcome.ok) return outcome.result;
          if ('startError' in outcome) {
            // Found at startup but gone now: the job is not at fault, hand it back and stop.
            fatal = new Error(outcome.message);
            stop('fatal');
            throw handBack(outcome.message);
          }
          // Killed by our stop (drain timeout, second signal): the job did not fail, it goes back untouched.
          if (entry.stopped) throw handBack(`stopped by bucketq work (${outcome.message})`);
          throw new Error(outcome.message);
        } finally {
          running.delete(job.id);
          ended();
        }
      },
      {
        concurrency,
        prefetch,
        ...(leaseMs !== undefined ? { leaseMs } : {}),
        ...(v.worker !== undefined ? { workerId: v.worker } : {}),
        // A backstop only: the drain below stops the commands itself, then bounds the reporting.
        closeTimeoutMs: drainMs + KILL_GRACE_MS + REPORT_GRACE_MS,
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
    worker.on('released', (job, error) => {
      const ms = took(job.id);
      const reason = error instanceof Error ? error.message : String(error);
      emit('released', { id: job.id, attempt: job.attempt, ms, reason }, `released ${job.id} (pending again, attempt ${job.attempt} not counted): ${previewText(reason)}`);
    });
    worker.on('lease-lost', (job, error: QueueError) => {
      // A prefetched job can lose its lease before its command ever started.
      const started = startedAt.delete(job.id);
      emit('lease-lost', { id: job.id, error: error.message, started }, `lease lost ${job.id}: ${error.message}; ${started ? 'its command was stopped' : 'it had not started'}`, true);
    });
    let stopping = false;
    let errorsWhileStopping = 0;
    worker.on('error', (error: QueueError) => {
      if (error.code === 'CLOSED') return;
      lastError = error;
      // The first call found no broker at all: nothing to work for; say so and stop (no retries).
      if (error.details?.unreachable === true && !stopping) {
        fatal = error;
        stop('fatal');
        return;
      }
      // While stopping, one line says the broker is in trouble; the final line says what it cost.
      if (stopping && errorsWhileStopping++ > 0) return;
      emit('error', { code: error.code, message: error.message }, `bucketq work: ${error.message} (${error.code})${stopping ? '' : '; retrying'}`, true);
    });

    /** Stops running commands (the job goes back untouched): SIGTERM then SIGKILL after a grace, or SIGKILL at once. */
    const stopCommands = (now: boolean) => {
      for (const r of running.values()) {
        r.stopped = true;
        if (now) r.kill?.('SIGKILL');
        else r.stop.abort();
      }
    };
    let signals = 0;
    let drainTimer: NodeJS.Timeout | undefined;
    const onSignal = (s: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        emit('draining', { signal: s, running: running.size }, `${s}: draining (no more claims; waiting up to ${duration(drainMs)} for ${running.size} running ${running.size === 1 ? 'command' : 'commands'})`, true);
        stop('signal');
        drainTimer = setTimeout(() => {
          if (running.size === 0) return;
          emit('killing', { reason: 'drain-timeout', running: running.size }, `drain timeout (${duration(drainMs)}): stopping ${running.size} running ${running.size === 1 ? 'command' : 'commands'} (SIGTERM, SIGKILL after ${KILL_GRACE_MS / 1000} s); their jobs go back untouched`, true);
          stopCommands(false);
        }, drainMs);
        return;
      }
      emit('killing', { signal: s, running: running.size }, `${s} again: killing ${running.size} running ${running.size === 1 ? 'command' : 'commands'}; their jobs go back untouched`, true);
      stopCommands(true);
    };
    process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
    worker.start();
    emit('started', { topic, worker: worker.id, concurrency, prefetch, command: [command, ...args] }, `working on ${topic} as ${worker.id}, ${concurrency} at a time: ${[command, ...args].join(' ')}`, true);
    let closedInTime: boolean;
    try {
      await stopped;
      stopping = true;
      const closed = worker.close().then(() => true);
      // Once no command runs, reporting their outcomes (and handing back held jobs) gets a few
      // seconds: a broker that is gone would otherwise keep the worker retrying for a minute.
      const givenUp = commandsEnded(running).then(() => new Promise<false>((resolve) => setTimeout(() => resolve(false), REPORT_GRACE_MS).unref()));
      closedInTime = await Promise.race([closed, givenUp]);
      // The client waits for its requests in flight: only when none is stuck.
      if (closedInTime) await client.close();
      else void client.close();
    } finally {
      clearTimeout(drainTimer);
      process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
    }
    const unreported = startedAt.size + worker.held;
    if (fatal !== null) {
      finished = true;
      throw fatal;
    }
    if (closedInTime && unreported === 0) {
      emit('stopped', {}, 'stopped: every running command finished and was reported', true);
      finished = true;
      return 0;
    }
    const why = lastError !== null ? `the broker could not be reached: ${(lastError as QueueError).message}` : 'the broker did not answer in time';
    emit(
      'stopped',
      { unreported, error: why },
      `stopped without reporting ${unreported} ${unreported === 1 ? 'job' : 'jobs'} (${why}); their leases run out and they are delivered again`,
      true,
    );
    finished = true;
    return 1;
  },
});

interface RunningCommand {
  kill: ((s: NodeJS.Signals) => void) | null;
  /** Aborted by a drain timeout: runCommand sends SIGTERM, then SIGKILL after a grace. */
  stop: AbortController;
  /** Ended by a stop of bucketq work, not by the job: handed back untouched. */
  stopped: boolean;
  /** Resolves when the command has exited. */
  done: Promise<void>;
}

/** A handler error that makes the worker release the job (attempt not counted) instead of nacking it. */
function handBack(message: string): Error {
  return Object.assign(new Error(message), { release: true });
}

/** Resolves once no command runs. */
async function commandsEnded(running: ReadonlyMap<string, RunningCommand>): Promise<void> {
  while (running.size > 0) await Promise.all([...running.values()].map((r) => r.done));
}

/** `--prefetch`: auto (the default) or a whole number. */
function prefetchFlag(value: string | undefined): number | 'auto' {
  if (value === undefined || value.trim() === 'auto') return 'auto';
  if (!/^\s*\d+\s*$/.test(value)) throw new UsageError(`--prefetch must be auto or a whole number, got ${JSON.stringify(value)}`);
  return intFlag(value, 'prefetch', 0)!;
}
