/** `bucketq inspect`: a topic's queue.json read straight from storage, no broker involved. */
import { parseState } from '../../core/codec.js';
import { queueKey } from '../../core/keys.js';
import type { BrokerLease, DeadEntry, JobRecord } from '../../core/types.js';
import { QueueError } from '../../errors.js';
import { DEFAULT_STORE } from '../../server/default-store.js';
import { openStore } from '../../storage/open.js';
import { checkSegments, countMismatch, manifestOf, summarizeBacklog, type BacklogSummary, type SegmentCheck } from '../../storage/topic-backlog.js';
import type { StorageDriver } from '../../storage/types.js';
import { intFlag } from '../args.js';
import { defineCommand } from '../command.js';
import { ENVIRONMENT_USAGE, EXIT_USAGE, GLOBAL_USAGE, kib, leaderText, parse, positionals, preview, print, table, topicArg, when } from '../shared.js';

const DEFAULT_LIMIT = 20;

const usage = `NAME
    bucketq inspect - show a topic's state as stored

SYNOPSIS
    bucketq inspect TOPIC [--store URL] [--limit N] [--segments]

DESCRIPTION
    Reads topics/TOPIC/queue.json from the store and shows it as it is: the last commit (its
    sequence number, writer and time), the leader's lease, the settings, the counters and the
    jobs (live, dead-lettered, and finished but not yet archived). No broker is needed or
    contacted, and nothing is written: use it to see what the brokers see, or when none runs.

    The object is also checked the way a broker loads it; one a broker would refuse
    (CORRUPT_STATE) is still shown, and the command exits 1 with the reason.

    A topic with a deep backlog (format 3, docs/format.md) keeps only a window of the next jobs
    in queue.json; the rest waits in write-once segment objects under segments/TOPIC/. The
    BACKLOG section shows, per priority, the pending jobs in the head (the window ahead of the
    segments, the tail behind them) and in segments; the delayed jobs in the head and in delayed
    segments; how many segments the head names and their bytes; tombstones (jobs cancelled while
    in a segment); and retired segments awaiting deletion by the leader. Older heads have no
    BACKLOG section.

OPTIONS
    --store URL
        The store, e.g. file:/var/lib/bucketq (default $BUCKETQ_STORE, else ${DEFAULT_STORE}, the
        store "bucketq broker" uses by default).

    --limit N
        Jobs listed at most per list in text output (default ${DEFAULT_LIMIT}); JSON output has all.

    --segments
        Also read every segment the head names (its header; payloads are not parsed) and list
        each: key, priority or delayed, jobs, jobs still waiting, bytes. A segment the head names
        that the store lacks, or that does not decode, is a PROBLEM (exit 1). bucketq doctor
        --topic TOPIC checks more (every record and checksum, orphans).

${GLOBAL_USAGE}

OUTPUT
    {"key", "etag", "bytes", "state": queue.json as stored, "backlog" (format 3): {"priorities":
    [{"priority", "window", "tail", "segments", "inSegments"}], "delayed": {"inHead",
    "segments", "inSegments"}, "segments", "bytes", "tombstones", "garbage": [{"key", "at"}],
    "counts"}, "segments" (--segments): [{"key", "kind": "ready"|"delayed", "priority", "jobs",
    "skip", "tombstones", "live", "bytes", "next", "last", "status": "ok"|"missing"|"corrupt"|
    "unreadable", "problem"?}], "problems": [one line each]}

${ENVIRONMENT_USAGE}

${EXIT_USAGE}

EXAMPLES
    bucketq inspect emails --store file:/var/lib/bucketq
    bucketq inspect emails --store file:./data --json | jq '.state.jobs | length'
    bucketq inspect emails --store file:./data --segments
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
  backlog?: unknown;
}

function backlogLines(b: BacklogSummary, segments: SegmentCheck[] | undefined, now: number): string[] {
  if (b.segments === 0 && b.garbage.length === 0 && b.tombstones === 0 && !segments?.length) return ['backlog   no segments: every job is in queue.json'];
  const lines = ['', `BACKLOG (the head holds a window; ${b.segments} segment${b.segments === 1 ? '' : 's'} hold the rest)`];
  if (b.priorities.length > 0) lines.push(table(['PRIORITY', 'WINDOW', 'TAIL', 'SEGMENTS', 'IN SEGMENTS'], b.priorities.map((p) => [p.priority, p.window, p.tail, p.segments, p.inSegments])));
  const inHead = b.priorities.reduce((n, p) => n + p.window + p.tail, 0);
  lines.push(
    `delayed   ${b.delayed.inHead} in the head, ${b.delayed.inSegments} in ${b.delayed.segments} delayed segment${b.delayed.segments === 1 ? '' : 's'}`,
    `segments  ${b.segments} named, ${kib(b.bytes)}; ${b.tombstones} tombstone${b.tombstones === 1 ? '' : 's'} (cancelled in a segment)`,
    `garbage   ${b.garbage.length} retired segment${b.garbage.length === 1 ? '' : 's'} awaiting deletion${b.garbage.length > 0 ? ` (oldest left the manifest ${when(Math.min(...b.garbage.map((g) => g.at)), now)}; the leader deletes each 2 leases after)` : ''}`,
    `total     ${inHead + b.counts.pending} pending (${inHead} in the head, ${b.counts.pending} in segments), ${b.delayed.inHead + b.counts.delayed} delayed`,
  );
  if (segments) {
    lines.push('', `SEGMENTS (${segments.length})`);
    const rows = segments.map((s) => [
      s.key,
      s.kind === 'ready' ? `priority ${s.priority}` : 'delayed',
      s.jobs,
      s.live,
      kib(s.bytes),
      s.kind === 'ready' ? `order ${s.next}..${s.last}` : `due ${new Date(s.next).toISOString()}`,
      s.status,
    ]);
    if (rows.length > 0) lines.push(table(['KEY', 'PLACE', 'JOBS', 'LIVE', 'BYTES', 'NEXT', 'STATUS'], rows));
  }
  return lines;
}

function describe(key: string, etag: string, bytes: number, s: RawState, limit: number, problems: string[], backlog: BacklogSummary | null, segments: SegmentCheck[] | undefined): string {
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
    `jobs      ${count('pending')} pending, ${count('delayed')} delayed, ${count('claimed')} claimed${backlog && backlog.segments > 0 ? ' in the head' : ''}; ${dead.length} dead; ${done.length} finished, not yet archived`,
    `counters  ${Object.entries(s.counters ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  ];
  for (const problem of problems) lines.push(`PROBLEM   ${problem}`);
  const now = Date.now();
  if (backlog) lines.push(...backlogLines(backlog, segments, now));
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

/** The BACKLOG of a format-3 head, and with `read` its segments read from the store; problems are added to `problems`. */
async function backlogOf(store: StorageDriver, key: string, raw: RawState, read: boolean, problems: QueueError[]): Promise<{ backlog: BacklogSummary | null; segments?: SegmentCheck[] }> {
  let manifest;
  try {
    manifest = manifestOf(raw, key);
  } catch {
    return { backlog: null }; // parseState reported it already
  }
  if (!manifest) return { backlog: null };
  const backlog = summarizeBacklog(raw.jobs ?? [], manifest);
  const mismatch = countMismatch(manifest);
  if (mismatch) problems.push(new QueueError('CORRUPT_STATE', `${key}: ${mismatch}`));
  if (!read) return { backlog };
  const segments = await checkSegments(store, manifest, { full: false });
  for (const s of segments) if (s.problem) problems.push(new QueueError(s.status === 'unreadable' ? 'STORE_UNAVAILABLE' : 'CORRUPT_STATE', s.problem));
  return { backlog, segments };
}

export default defineCommand({
  name: 'inspect',
  summary: "show a topic's queue.json as stored (reads the store, no broker needed)",
  usage,
  async run(argv, env) {
    const { flags, ctx } = parse(argv, { limit: { type: 'string' }, segments: { type: 'boolean' } }, env);
    const [topicText] = positionals(flags.positionals, ['TOPIC']);
    const topic = topicArg(topicText!);
    const limit = intFlag(flags.values.limit, 'limit') ?? DEFAULT_LIMIT;
    const storeUrl = typeof ctx.connection.store === 'string' ? ctx.connection.store : DEFAULT_STORE;
    const store = await openStore(storeUrl);
    const key = queueKey(topic);
    try {
      const obj = await store.read(key);
      if (!obj) throw new QueueError('NOT_FOUND', `no topic ${topic} in ${storeUrl} (no ${key})`);
      const text = Buffer.from(obj.body).toString('utf8');
      let raw: RawState;
      try {
        raw = JSON.parse(text) as RawState;
      } catch (err) {
        throw new QueueError('CORRUPT_STATE', `${key} is not valid JSON (${(err as Error).message})`);
      }
      const problems: QueueError[] = [];
      try {
        parseState(text, key, Date.now());
      } catch (err) {
        problems.push(err instanceof QueueError ? err : new QueueError('CORRUPT_STATE', String(err)));
      }
      const seen = await backlogOf(store, key, raw, flags.values.segments === true, problems);
      const lines = problems.map((p) => p.message);
      const out = { key, etag: obj.etag, bytes: obj.body.byteLength, state: raw, ...(seen.backlog ? { backlog: seen.backlog } : {}), ...(seen.segments ? { segments: seen.segments } : {}), ...(lines.length > 0 ? { problems: lines } : {}) };
      print(ctx, out, () => describe(key, obj.etag, obj.body.byteLength, raw, limit, lines, seen.backlog, seen.segments));
      if (problems.length > 0) throw problems.length === 1 ? problems[0]! : new QueueError(problems[0]!.code, `${problems[0]!.message} (and ${problems.length - 1} more problem${problems.length === 2 ? '' : 's'})`);
      return 0;
    } finally {
      await store.close();
    }
  },
});
