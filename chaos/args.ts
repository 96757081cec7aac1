/** `npm run chaos -- [options]`: the options, their defaults and the manual. */
import { intFlag, parseFlags } from '../src/cli/args.js';
import { UsageError } from '../src/cli/command.js';
import { checkBacklogLimits, parseBacklogSpec } from '../src/core/segments/limits-spec.js';

/** Small head bounds: the window holds 32 jobs, segments 64, so every run's backlog uses segments. */
const DEFAULT_BACKLOG = 'windowJobs=32,lowWater=16,tailSealJobs=8,tailTotalJobs=32,segmentMaxJobs=64,delayedHeadMax=8,delayedLookaheadMs=500,tombstoneMax=16';

export const usage = `NAME
    npm run chaos - break a bucketq cluster on purpose, record what clients saw, check the history

SYNOPSIS
    npm run chaos -- [--seconds N] [--seed N] [--brokers 2|3] [--producers N] [--workers N]
                     [--store DIR] [--history DIR] [--faults SPEC] [--backlog SPEC] [--json]

DESCRIPTION
    Starts brokers (bucketq broker processes) on one file: store with the fault decorator on,
    producer and worker processes (createClient, createWorker), and a nemesis that SIGKILLs,
    SIGSTOPs/SIGCONTs and restarts brokers and workers at times drawn from the seed. Every client
    appends what it saw to a history. After --seconds the nemesis stops, the queue is drained,
    and the checker reads the history and the store. See docs/chaos.md.

OPTIONS
    --seconds N        How long the nemesis runs (default 60), before the drain.
    --seed N           Seeds the nemesis plan, the job mix and the store faults (default: random;
                       the report names it, so a failing run can be repeated).
    --brokers N        2 or 3 broker processes (default 3).
    --producers N      Producer processes (default 2), each pushing --rate jobs per second.
    --rate N           Pushes per second per producer (default 40).
    --workers N        Worker processes (default 3), concurrency 8 each.
    --store DIR        The store directory (default: a new temporary one, deleted after a pass).
    --history DIR      Where the history files go (default: a new temporary one, deleted after a
                       pass; kept and named in the report when a check fails).
    --faults SPEC      Store faults of the brokers, as latency=MS,jitter=MS,failRate=P,ambiguousRate=P
                       (default latency=5,jitter=10,failRate=0.02,ambiguousRate=0.02).
    --backlog SPEC     The brokers' head bounds (bucketq broker --backlog), default small ones
                       (${DEFAULT_BACKLOG}) so that a backlog of a few dozen jobs
                       spans write-once segments; "default" runs with the broker's own defaults.
    --broker-lease-ms N  Leadership lease (default 1500).
    --job-lease-ms N   Lease of each claim (default 2000).
    --json             Print the report as JSON instead of a table.
    -h, --help         This manual.

EXIT STATUS
    0 when every must-be-0 check is 0; 1 when one is not (or the run broke); 2 on bad arguments.
`;

export interface ChaosOptions {
  seconds: number;
  seed: number;
  brokers: number;
  producers: number;
  rate: number;
  workers: number;
  store: string | undefined;
  history: string | undefined;
  faults: Record<string, number>;
  /** bucketq broker --backlog SPEC, or undefined for the broker's defaults. */
  backlog: string | undefined;
  brokerLeaseMs: number;
  jobLeaseMs: number;
  json: boolean;
  help: boolean;
}

const FAULT_NAMES = ['latency', 'jitter', 'failRate', 'ambiguousRate'];

/** The --backlog spec checked here (one line, exit 2) rather than by each broker at start. */
function parseBacklog(spec: string): string | undefined {
  if (spec === 'default') return undefined;
  try {
    checkBacklogLimits(parseBacklogSpec(spec));
  } catch (e) {
    throw new UsageError(`--backlog: ${(e as Error).message}`);
  }
  return spec;
}
const DEFAULT_FAULTS = 'latency=5,jitter=10,failRate=0.02,ambiguousRate=0.02';

export function parseChaosArgs(argv: string[]): ChaosOptions {
  const { values } = parseFlags(argv, {
    seconds: { type: 'string' }, seed: { type: 'string' }, brokers: { type: 'string' }, producers: { type: 'string' },
    rate: { type: 'string' }, workers: { type: 'string' }, store: { type: 'string' }, history: { type: 'string' },
    faults: { type: 'string' }, backlog: { type: 'string' }, 'broker-lease-ms': { type: 'string' }, 'job-lease-ms': { type: 'string' },
    json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  });
  const brokers = intFlag(values.brokers, 'brokers') ?? 3;
  if (brokers !== 2 && brokers !== 3) throw new UsageError(`--brokers must be 2 or 3, got ${brokers}`);
  const workers = intFlag(values.workers, 'workers') ?? 3;
  if (workers < 2) throw new UsageError('--workers must be at least 2 (the nemesis keeps one up while it breaks another)');
  return {
    seconds: intFlag(values.seconds, 'seconds') ?? 60,
    seed: intFlag(values.seed, 'seed', 0) ?? Math.floor(Math.random() * 1_000_000),
    brokers,
    producers: intFlag(values.producers, 'producers') ?? 2,
    rate: intFlag(values.rate, 'rate') ?? 40,
    workers,
    store: values.store,
    history: values.history,
    faults: parseFaults(values.faults ?? DEFAULT_FAULTS),
    backlog: parseBacklog(values.backlog ?? DEFAULT_BACKLOG),
    brokerLeaseMs: intFlag(values['broker-lease-ms'], 'broker-lease-ms', 100) ?? 1500,
    jobLeaseMs: intFlag(values['job-lease-ms'], 'job-lease-ms', 100) ?? 2000,
    json: values.json ?? false,
    help: values.help ?? false,
  };
}

function parseFaults(spec: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of spec.split(',').filter((p) => p.trim() !== '')) {
    const [name, raw] = part.split('=').map((s) => s.trim());
    const value = Number(raw);
    if (!name || !FAULT_NAMES.includes(name)) throw new UsageError(`--faults: unknown fault ${JSON.stringify(name ?? part)} (known: ${FAULT_NAMES.join(', ')})`);
    if (raw === undefined || raw === '' || !Number.isFinite(value) || value < 0) throw new UsageError(`--faults: ${name} must be a non-negative number, got ${JSON.stringify(raw ?? '')}`);
    if ((name === 'failRate' || name === 'ambiguousRate') && value > 1) throw new UsageError(`--faults: ${name} is a probability between 0 and 1, got ${value}`);
    out[name] = value;
  }
  return out;
}
