/** `bucketq doctor`: checks a store's conditional writes before you trust it (src/storage/doctor.ts). */
import { isQueueError, QueueError } from '../../errors.js';
import { DEFAULT_STORE } from '../../server/default-store.js';
import type { CheckResult, DoctorReport } from '../../storage/doctor.js';
import { openStore } from '../../storage/open.js';
import { intFlag } from '../args.js';
import { defineCommand, UsageError } from '../command.js';
import { kib, parse, table, topicArg, when } from '../shared.js';
import type { TopicDoctorReport } from '../../storage/topic-doctor.js';
import type { StorageDriver } from '../../storage/types.js';

const usage = `NAME
    bucketq doctor - check that a store keeps the promises bucketq relies on

SYNOPSIS
    bucketq doctor [--store URL] [--racers N] [--rounds N] [--writes N] [--json]
    bucketq doctor --topic TOPIC [--store URL] [--json]

DESCRIPTION
    bucketq is exactly as safe as its store's conditional writes: every topic is one object that
    brokers replace only with If-Match (compare-and-swap). Some stores get this wrong (fakes such
    as s3rver ignore the conditions; MinIO once accepted If-Match on a missing key). Run doctor
    against your real bucket, with the credentials the brokers will use, before you trust it.

    It works under a scratch prefix of its own (bucketq-doctor-<random>/ inside the store's
    prefix), touches nothing else, and deletes what it wrote. The checks, in order:

      reach                credentials and reachability: a missing key reads as not found
      read-write           an object reads back with its bytes and the etag its write returned
      list                 a prefix lists exactly its keys, sorted
      delete               a deleted object reads as missing; deleting it again is fine
      create-if-absent     If-None-Match: * creates once; the second create is refused
      conditional-replace  If-Match with the current etag replaces the object
      stale-etag           If-Match with an old etag is refused and changes nothing
      if-match-missing     If-Match on a missing key is refused and creates nothing
      race                 N writers with the same etag at once, several rounds: exactly one
                           wins each round (answers the store calls ambiguous are resolved by
                           re-reading, as brokers do)
      cleanup              the scratch objects are gone

    A check that needs an earlier one is skipped when that one did not pass. Then the latency of
    sequential conditional writes (what one broker commit costs) is printed as p50 and p99.

    A check FAILs when the store broke a promise: the verdict is NOT SAFE. A check that could not
    run because the store did not answer (unreachable, credentials refused, a missing bucket or
    directory that cannot be written) is an ERROR, which says nothing about conditional writes:
    with no failure, the verdict is COULD NOT CHECK, with the reason.

    With --topic TOPIC it checks that topic's data instead (nothing is written): a topic with a
    deep backlog keeps its next jobs in queue.json and the rest in write-once segment objects
    under segments/TOPIC/ (docs/format.md). Every segment the head names is read and decoded,
    its checksum and records checked; one that is missing or does not decode is a lost part of
    the backlog, reported in one line (exit 1): its jobs are not served until the object is
    restored. The manifest's counts must add up. Segments no head names are listed with how many
    commits ago they were written: orphans of a failed commit or a crashed broker, normal for a
    while, which the leader deletes (it lists segments every 10 minutes and after a takeover, and
    deletes an orphan that a listing at least 2 leases after the first still finds); segments of
    a commit newer than the head are in flight, not orphans. Retired segments awaiting deletion
    are listed too.

OPTIONS
    --store URL
        The store to check, e.g. s3://my-bucket/queues?region=eu-west-1 (default $BUCKETQ_STORE,
        else ${DEFAULT_STORE}, the store "bucketq broker" uses by default).

    --topic TOPIC
        Check this topic's segments instead of the store's conditional writes (see above).

    --racers N
        Concurrent writers per race round (default 8).

    --rounds N
        Race rounds (default 5).

    --writes N
        Sequential conditional writes timed for the latency figure (default 20).

    --json
        Print the report as one JSON document (the default when stdout is not a terminal).

    --human
        Print text even when stdout is not a terminal.

    -h, --help
        This manual.

OUTPUT
    {"store", "driver", "scratch", "checks": [{"name", "verdict": "pass"|"fail"|"skip"|"error",
    "detail", "ms"}], "latency": {"writes", "p50Ms", "p99Ms"} | null, "ok",
    "verdict": "ok"|"not-safe"|"could-not-check", "failed": [names], "errors": [names]}

    With --topic: {"store", "topic", "head": {"key", "format", "seq", "epoch", "writer", "time"},
    "backlog" (as bucketq inspect --json), "segments": [{"key", "kind", "priority", "jobs",
    "skip", "tombstones", "live", "bytes", "next", "last", "status", "stored", "problem"?}],
    "unnamed": [{"key", "epoch", "seq", "kind": "orphan"|"pending", "commitsBehind"}],
    "garbage": [{"key", "at", "stored"}], "problems": [lines], "unreadable": [lines], "ok"}

ENVIRONMENT
    BUCKETQ_STORE    default of --store. Cloud credentials come from each SDK's own chain
                     (e.g. AWS_ACCESS_KEY_ID / AWS_PROFILE for s3://).

EXIT STATUS
    0 when every check passed (OK); 1 when one failed (NOT SAFE), with one line on stderr naming
    the failed checks ("bucketq doctor: ... failed: create-if-absent, ..."); 3 when none failed
    but the store could not be checked (COULD NOT CHECK), with one line on stderr giving the
    reason ("bucketq doctor: could not check URL: ..."); 2 on bad arguments.
    With --topic: 0 when the topic's segments are all there and decode; 1 when one is missing
    or corrupt (or the counts do not add up), the first on stderr ("bucketq doctor: topic T:
    segment KEY (ready, priority 0, 40 jobs waiting) is named by the head but missing from the
    store ..."); 3 when the store failed a read, so the check is incomplete.

EXAMPLES
    bucketq doctor --store s3://my-bucket/bucketq?region=eu-west-1
    bucketq doctor --store 's3://queues?endpoint=http://127.0.0.1:9000&forcePathStyle=true'
    bucketq doctor --store file:/var/lib/bucketq --json | jq .latency
    bucketq doctor --store file:/var/lib/bucketq --topic emails
`;

/** Exit status when the store could not be checked (distinct from 1, NOT SAFE). */
const COULD_NOT_CHECK = 3;

function line(c: CheckResult): string {
  const mark = c.verdict === 'pass' ? 'PASS' : c.verdict === 'fail' ? 'FAIL' : c.verdict === 'error' ? 'ERR ' : 'SKIP';
  return `  ${mark}  ${c.name.padEnd(19)}  ${c.detail}${c.verdict === 'skip' ? '' : ` (${c.ms} ms)`}`;
}

/** Why the store could not be checked: the first check that could not run. */
function reason(r: DoctorReport): string {
  const first = r.checks.find((c) => c.verdict === 'error');
  return first ? `${first.name}: ${first.detail.replace(/^could not run: /, '')}` : 'no check ran';
}

function summary(r: DoctorReport): string {
  const lat = r.latency
    ? `write latency: p50 ${r.latency.p50Ms} ms, p99 ${r.latency.p99Ms} ms (${r.latency.writes} sequential conditional writes)`
    : `write latency: not measured (${r.verdict === 'not-safe' ? 'conditional writes do not work' : 'no conditional write could be made'})`;
  const verdict =
    r.verdict === 'ok'
      ? 'verdict: OK, this store keeps the promises bucketq relies on'
      : r.verdict === 'not-safe'
        ? `verdict: NOT SAFE for bucketq, failed: ${r.failed.join(', ')}`
        : `verdict: COULD NOT CHECK: ${reason(r)}`;
  return [lat, verdict].join('\n');
}

function topicText(r: TopicDoctorReport, now: number): string {
  const lines = [`head      ${r.head.key}: commit ${r.head.seq} by ${r.head.writer || '?'}, format ${r.head.format}, epoch ${r.head.epoch}`];
  if (!r.backlog) {
    lines.push('segments  none: this head is older than format 3 and keeps every job in queue.json', 'verdict: OK');
    return lines.join('\n');
  }
  const bad = r.segments.filter((s) => s.status !== 'ok');
  const bytes = r.segments.reduce((n, s) => n + s.bytes, 0);
  lines.push(`segments  ${r.segments.length - bad.length} of ${r.segments.length} named segment${r.segments.length === 1 ? '' : 's'} read and decoded, checksums checked (${kib(bytes)})`);
  if (bad.length > 0) lines.push(table(['KEY', 'PLACE', 'LIVE', 'STATUS'], bad.map((s) => [s.key, s.kind === 'ready' ? `priority ${s.priority}` : 'delayed', s.live, s.status])));
  const orphans = r.unnamed.filter((u) => u.kind === 'orphan');
  const pending = r.unnamed.filter((u) => u.kind === 'pending');
  lines.push(`orphans   ${orphans.length} segment${orphans.length === 1 ? '' : 's'} no head names${orphans.length > 0 ? ` (normal for a while after a failed commit or a crash: ${ORPHANS_NOTE})` : ''}`);
  if (orphans.length > 0) lines.push(table(['KEY', 'WRITTEN FOR', 'AGE'], orphans.map((o) => [o.key, `commit ${o.seq}, epoch ${o.epoch}`, `${o.commitsBehind} commit${o.commitsBehind === 1 ? '' : 's'} ago`])));
  if (pending.length > 0) lines.push(`in flight ${pending.length} segment${pending.length === 1 ? '' : 's'} of a commit newer than the head (not orphans): ${pending.map((p) => p.key).join(', ')}`);
  const stored = r.garbage.filter((g) => g.stored);
  lines.push(`garbage   ${r.garbage.length} retired segment${r.garbage.length === 1 ? '' : 's'} awaiting deletion (${stored.length} still stored)${r.garbage.length > 0 ? `, the oldest retired ${when(Math.min(...r.garbage.map((g) => g.at)), now)}; the leader deletes each 2 leases after` : ''}`);
  for (const u of r.unreadable) lines.push(`ERROR     ${u}`);
  for (const p of r.problems) lines.push(`PROBLEM   ${p}`);
  lines.push(r.problems.length > 0 ? `verdict: BROKEN: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}` : r.unreadable.length > 0 ? 'verdict: COULD NOT CHECK every segment' : 'verdict: OK');
  return lines.join('\n');
}

const ORPHANS_NOTE = 'the leader lists segments every 10 minutes and after a takeover, and deletes an orphan still found by a listing at least 2 leases later';

/** `--topic`: the topic's segments (storage/topic-doctor.ts); exit 1 on a lost or corrupt segment. */
async function doctorTopic(store: StorageDriver, storeUrl: string, topic: string, json: boolean): Promise<number> {
  const { runTopicDoctor } = await import('../../storage/topic-doctor.js');
  const report = await runTopicDoctor(store, topic);
  process.stdout.write(json ? `${JSON.stringify({ store: storeUrl, ...report })}\n` : `${topicText(report, Date.now())}\n`);
  if (report.problems.length > 0) {
    const more = report.problems.length - 1;
    throw new QueueError('CORRUPT_STATE', `${report.problems[0]!}${more > 0 ? ` (and ${more} more problem${more === 1 ? '' : 's'})` : ''}`);
  }
  if (report.unreadable.length > 0) {
    process.stderr.write(`bucketq doctor: could not check topic ${topic} in ${storeUrl}: ${report.unreadable[0]!}\n`);
    return COULD_NOT_CHECK;
  }
  return 0;
}

export default defineCommand({
  name: 'doctor',
  summary: "check a store's conditional writes (CAS) and latency before trusting it",
  usage,
  async run(argv, env) {
    const { flags, ctx } = parse(argv, { racers: { type: 'string' }, rounds: { type: 'string' }, writes: { type: 'string' }, topic: { type: 'string' } }, env);
    if (flags.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(flags.positionals[0])}`);
    const storeUrl = typeof ctx.connection.store === 'string' ? ctx.connection.store : DEFAULT_STORE;
    const racers = intFlag(flags.values.racers, 'racers', 2);
    const rounds = intFlag(flags.values.rounds, 'rounds');
    const writes = intFlag(flags.values.writes, 'writes');
    const { runDoctor } = await import('../../storage/doctor.js');
    let store;
    try {
      store = await openStore(storeUrl);
    } catch (err) {
      if (isQueueError(err, 'INVALID_ARGUMENT')) throw err;
      process.stderr.write(`bucketq doctor: could not check ${storeUrl}: ${err instanceof Error ? err.message : String(err)}\n`);
      return COULD_NOT_CHECK;
    }
    if (typeof flags.values.topic === 'string') {
      const topic = topicArg(flags.values.topic);
      if (!ctx.json) process.stdout.write(`bucketq doctor --topic ${topic} ${storeUrl} (driver ${store.name})\n`);
      try {
        return await doctorTopic(store, storeUrl, topic, ctx.json);
      } finally {
        await store.close();
      }
    }
    const live = !ctx.json;
    if (live) process.stdout.write(`bucketq doctor ${storeUrl} (driver ${store.name})\n`);
    let report: DoctorReport;
    try {
      report = await runDoctor(store, {
        ...(racers !== undefined ? { racers } : {}),
        ...(rounds !== undefined ? { rounds } : {}),
        ...(writes !== undefined ? { writes } : {}),
        ...(live ? { onCheck: (c: CheckResult) => process.stdout.write(`${line(c)}\n`) } : {}),
      });
    } finally {
      await store.close();
    }
    process.stdout.write(ctx.json ? `${JSON.stringify({ store: storeUrl, ...report })}\n` : `${summary(report)}\n`);
    if (report.verdict === 'could-not-check') {
      process.stderr.write(`bucketq doctor: could not check ${storeUrl}: ${reason(report)}\n`);
      return COULD_NOT_CHECK;
    }
    if (!report.ok) {
      const first = report.checks.find((c) => c.verdict === 'fail');
      throw new QueueError('FAILED_PRECONDITION', `${storeUrl} failed: ${report.failed.join(', ')}${first ? ` (${first.name}: ${first.detail})` : ''}`);
    }
    return 0;
  },
});
