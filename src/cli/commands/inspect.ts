/** `bucketq inspect`: a topic's queue.json read straight from storage, no broker involved. */
import { parseState } from '../../core/codec.js';
import { queueKey } from '../../core/keys.js';
import type { BrokerLease, DeadEntry, JobRecord } from '../../core/types.js';
import { QueueError } from '../../errors.js';
import { DEFAULT_STORE } from '../../server/default-store.js';
import { openStore } from '../../storage/open.js';
import { intFlag } from '../args.js';
import { defineCommand } from '../command.js';
import { ENVIRONMENT_USAGE, EXIT_USAGE, GLOBAL_USAGE, leaderText, parse, positionals, preview, print, table, topicArg, when } from '../shared.js';

const DEFAULT_LIMIT = 20;

const usage = `NAME
    bucketq inspect - show a topic's state as stored

SYNOPSIS
    bucketq inspect TOPIC [--store URL] [--limit N]

DESCRIPTION
    Reads topics/TOPIC/queue.json from the store and shows it as it is: the last commit (its
    sequence number, writer and time), the leader's lease, the settings, the counters and the
    jobs (live, dead-lettered, and finished but not yet archived). No broker is needed or
    contacted, and nothing is written: use it to see what the brokers see, or when none runs.

    The object is also checked the way a broker loads it; one a broker would refuse
    (CORRUPT_STATE) is still shown, and the command exits 1 with the reason.

OPTIONS
    --store URL
        The store, e.g. file:/var/lib/bucketq (default $BUCKETQ_STORE, else ${DEFAULT_STORE}, the
        store "bucketq broker" uses by default).

    --limit N
        Jobs listed at most per list in text output (default ${DEFAULT_LIMIT}); JSON output has all.

${GLOBAL_USAGE}

OUTPUT
    {"key", "etag", "bytes", "state": queue.json as stored}

${ENVIRONMENT_USAGE}

${EXIT_USAGE}

EXAMPLES
    bucketq inspect emails --store file:/var/lib/bucketq
    bucketq inspect emails --store file:./data --json | jq '.state.jobs | length'
`;

interface RawState {
  format?: number;
  topic?: string;
  seq?: number;
  writer?: string;
  time?: number;
  broker?: BrokerLease | null;
  settings?: Record<string, unknown>;
  counters?: Record<string, number>;
  dead?: Record<string, DeadEntry>;
  done?: JobRecord[];
  jobs?: JobRecord[];
}

function kib(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function describe(key: string, etag: string, bytes: number, s: RawState, limit: number, problem: string | null): string {
  const jobs = s.jobs ?? [];
  const count = (state: string) => jobs.filter((j) => j.state === state).length;
  const dead = Object.entries(s.dead ?? {});
  const done = s.done ?? [];
  const settings = s.settings ?? {};
  const lines = [
    `${key}  (etag ${etag}, ${kib(bytes)}, format ${s.format ?? '?'})`,
    `commit    seq ${s.seq ?? '?'} by ${s.writer || '?'}${typeof s.time === 'number' ? ` at ${when(s.time)}` : ''}`,
    `leader    ${leaderText(s.broker)}`,
    `settings  maxAttempts ${String(settings.maxAttempts ?? '?')}, backoff ${JSON.stringify(settings.backoff ?? null)}, paused ${settings.paused ? 'yes' : 'no'}`,
    `jobs      ${count('pending')} pending, ${count('delayed')} delayed, ${count('claimed')} claimed; ${dead.length} dead; ${done.length} finished, not yet archived`,
    `counters  ${Object.entries(s.counters ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  ];
  if (problem) lines.push(`PROBLEM   ${problem}`);
  const now = Date.now();
  const list = (title: string, all: JobRecord[]) => {
    if (all.length === 0) return;
    const shown = all.slice(0, limit);
    lines.push('', `${title} (${shown.length < all.length ? `first ${shown.length} of ` : ''}${all.length})`);
    const rows = shown.map((j) => {
      const lease = j.lease as { worker: string; until: number } | undefined;
      const detail =
        j.state === 'claimed' && lease
          ? `${lease.worker}, lease ${lease.until > now ? `${Math.round((lease.until - now) / 1000)}s left` : 'expired'}`
          : j.state === 'delayed'
            ? `due ${new Date(j.runAt).toISOString()}`
            : (j.lastError ?? '');
      return [j.id, j.state, j.priority, j.attempts, detail, j.payloadRef !== undefined ? `(in ${j.payloadRef})` : preview(j.payload, 40)];
    });
    lines.push(table(['ID', 'STATE', 'PRIORITY', 'ATTEMPTS', 'DETAIL', 'PAYLOAD'], rows));
  };
  list('JOBS', jobs);
  if (dead.length > 0) {
    const shown = dead.slice(0, limit);
    lines.push('', `DEAD (${shown.length < dead.length ? `first ${shown.length} of ` : ''}${dead.length})`);
    lines.push(table(['ID', 'DIED', 'ATTEMPTS', 'LAST ERROR', 'ARCHIVE'], shown.map(([id, e]) => [id, new Date(e.at).toISOString(), e.attempts, preview(e.lastError ?? '', 40), e.archive])));
  }
  list('FINISHED, NOT YET ARCHIVED', done);
  return lines.join('\n');
}

export default defineCommand({
  name: 'inspect',
  summary: "show a topic's queue.json as stored (reads the store, no broker needed)",
  usage,
  async run(argv, env) {
    const { flags, ctx } = parse(argv, { limit: { type: 'string' } }, env);
    const [topicText] = positionals(flags.positionals, ['TOPIC']);
    const topic = topicArg(topicText!);
    const limit = intFlag(flags.values.limit, 'limit') ?? DEFAULT_LIMIT;
    const storeUrl = typeof ctx.connection.store === 'string' ? ctx.connection.store : DEFAULT_STORE;
    const store = await openStore(storeUrl);
    let obj;
    const key = queueKey(topic);
    try {
      obj = await store.read(key);
    } finally {
      await store.close();
    }
    if (!obj) throw new QueueError('NOT_FOUND', `no topic ${topic} in ${storeUrl} (no ${key})`);
    const text = Buffer.from(obj.body).toString('utf8');
    let raw: RawState;
    try {
      raw = JSON.parse(text) as RawState;
    } catch (err) {
      throw new QueueError('CORRUPT_STATE', `${key} is not valid JSON (${(err as Error).message})`);
    }
    let problem: QueueError | null = null;
    try {
      parseState(text, key, Date.now());
    } catch (err) {
      problem = err instanceof QueueError ? err : new QueueError('CORRUPT_STATE', String(err));
    }
    print(ctx, { key, etag: obj.etag, bytes: obj.body.byteLength, state: raw }, () => describe(key, obj.etag, obj.body.byteLength, raw, limit, problem?.message ?? null));
    if (problem) throw problem;
    return 0;
  },
});
