/** `bucketq doctor`: checks a store's conditional writes before you trust it (src/storage/doctor.ts). */
import { QueueError } from '../../errors.js';
import type { CheckResult, DoctorReport } from '../../storage/doctor.js';
import { openStore } from '../../storage/open.js';
import { intFlag } from '../args.js';
import { defineCommand, UsageError } from '../command.js';
import { parse } from '../shared.js';

const usage = `NAME
    bucketq doctor - check that a store keeps the promises bucketq relies on

SYNOPSIS
    bucketq doctor --store URL [--racers N] [--rounds N] [--writes N] [--json]

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

    A check that needs an earlier one is skipped when that one failed. Then the latency of
    sequential conditional writes (what one broker commit costs) is printed as p50 and p99.

OPTIONS
    --store URL
        The store to check (default $BUCKETQ_STORE), e.g. s3://my-bucket/queues?region=eu-west-1.
        Required.

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
    {"store", "driver", "scratch", "checks": [{"name", "verdict": "pass"|"fail"|"skip", "detail",
    "ms"}], "latency": {"writes", "p50Ms", "p99Ms"} | null, "ok", "failed": [names]}

ENVIRONMENT
    BUCKETQ_STORE    default of --store. Cloud credentials come from each SDK's own chain
                     (e.g. AWS_ACCESS_KEY_ID / AWS_PROFILE for s3://).

EXIT STATUS
    0 when every check passed; 1 when one failed, with one line on stderr naming the failed
    checks ("bucketq doctor: ... failed: create-if-absent, ..."); 2 on bad arguments.

EXAMPLES
    bucketq doctor --store s3://my-bucket/bucketq?region=eu-west-1
    bucketq doctor --store 's3://queues?endpoint=http://127.0.0.1:9000&forcePathStyle=true'
    bucketq doctor --store file:/var/lib/bucketq --json | jq .latency
`;

function line(c: CheckResult): string {
  const mark = c.verdict === 'pass' ? 'PASS' : c.verdict === 'fail' ? 'FAIL' : 'SKIP';
  return `  ${mark}  ${c.name.padEnd(19)}  ${c.detail}${c.verdict === 'skip' ? '' : ` (${c.ms} ms)`}`;
}

function summary(store: string, r: DoctorReport): string {
  const lat = r.latency ? `write latency: p50 ${r.latency.p50Ms} ms, p99 ${r.latency.p99Ms} ms (${r.latency.writes} sequential conditional writes)` : 'write latency: not measured (conditional writes do not work)';
  const verdict = r.ok ? 'verdict: OK, this store keeps the promises bucketq relies on' : `verdict: NOT SAFE for bucketq, failed: ${r.failed.join(', ')}`;
  return [lat, verdict].join('\n');
}

export default defineCommand({
  name: 'doctor',
  summary: "check a store's conditional writes (CAS) and latency before trusting it",
  usage,
  async run(argv, env) {
    const { flags, ctx } = parse(argv, { racers: { type: 'string' }, rounds: { type: 'string' }, writes: { type: 'string' } }, env);
    if (flags.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(flags.positionals[0])}`);
    const storeUrl = ctx.connection.store;
    if (typeof storeUrl !== 'string') throw new UsageError('give the store to check with --store URL (or BUCKETQ_STORE)');
    const racers = intFlag(flags.values.racers, 'racers', 2);
    const rounds = intFlag(flags.values.rounds, 'rounds');
    const writes = intFlag(flags.values.writes, 'writes');
    const { runDoctor } = await import('../../storage/doctor.js');
    const store = await openStore(storeUrl);
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
    process.stdout.write(ctx.json ? `${JSON.stringify({ store: storeUrl, ...report })}\n` : `${summary(storeUrl, report)}\n`);
    if (!report.ok) {
      const first = report.checks.find((c) => c.verdict === 'fail');
      throw new QueueError('FAILED_PRECONDITION', `${storeUrl} failed: ${report.failed.join(', ')}${first ? ` (${first.name}: ${first.detail})` : ''}`);
    }
    return 0;
  },
});
