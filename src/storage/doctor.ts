/**
 * `bucketq doctor`: checks that a real store keeps the promises bucketq relies on, before a user
 * trusts it with a queue. Some stores get compare-and-swap wrong (MinIO once accepted If-Match on
 * a missing key; s3rver and similar fakes ignore conditions), and bucketq is only as safe as its
 * store's conditional writes, so this is a user-facing safety check, not a test helper.
 *
 * Works on any StorageDriver, inside a scratch prefix of its own, and deletes what it wrote. Each
 * check gives a verdict with a reason; a check that needs an earlier one's result is skipped when
 * that one failed. Outcomes a store reports as ambiguous (STORE_AMBIGUOUS) are resolved by
 * re-reading, as the broker does.
 *
 * A check that *fails* saw the store break a promise: the store is not safe. A check that *errs*
 * could not run because the store did not answer (unreachable, credentials refused, a missing
 * bucket: STORE_UNAVAILABLE, FAILED_PRECONDITION, or any other exception): that says nothing
 * about its conditional writes, so the report's verdict is then "could-not-check", never
 * "not-safe", unless another check failed.
 */
import { randomBytes } from 'node:crypto';
import { isQueueError } from '../errors.js';
import type { StorageDriver } from './types.js';

export type CheckName = 'reach' | 'read-write' | 'list' | 'delete' | 'create-if-absent' | 'conditional-replace' | 'stale-etag' | 'if-match-missing' | 'race' | 'cleanup';

export interface CheckResult {
  name: CheckName;
  /** `error`: the check could not run, the store failed (see the module comment). */
  verdict: 'pass' | 'fail' | 'skip' | 'error';
  /** Why it passed or failed, in a sentence. */
  detail: string;
  ms: number;
}

export interface DoctorReport {
  driver: string;
  /** The scratch prefix the checks wrote under (inside the store's own prefix). */
  scratch: string;
  checks: CheckResult[];
  /** Sequential conditional writes timed for the latency figure. */
  latency: { writes: number; p50Ms: number; p99Ms: number } | null;
  ok: boolean;
  /** ok; not-safe: a check saw the store break a promise; could-not-check: none failed, some could not run. */
  verdict: 'ok' | 'not-safe' | 'could-not-check';
  /** Checks that ran and failed. */
  failed: CheckName[];
  /** Checks that could not run (the store failed). */
  errors: CheckName[];
}

export interface DoctorOptions {
  /** Concurrent conditional writers per race round (default 8). */
  racers?: number;
  /** Race rounds (default 5). */
  rounds?: number;
  /** Sequential conditional writes timed for p50/p99 (default 20). */
  writes?: number;
  /** Called as each check settles, for live output. */
  onCheck?: (check: CheckResult) => void;
}

const text = (body: Uint8Array): string => Buffer.from(body).toString('utf8');
const errText = (err: unknown): string => (isQueueError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err));

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** The store did not answer (as opposed to answering wrongly): the check cannot tell anything. */
function storeDidNotAnswer(err: unknown): boolean {
  return isQueueError(err, 'STORE_UNAVAILABLE') || isQueueError(err, 'FAILED_PRECONDITION');
}

/**
 * A write's outcome as a word: ok (with etag), conflict, ambiguous, or error (an answer that is
 * neither success nor conflict). Throws when the store did not answer at all: the check errs.
 */
async function attempt(p: Promise<{ etag: string }>): Promise<{ kind: 'ok'; etag: string } | { kind: 'conflict' | 'ambiguous' | 'error'; why: string }> {
  try {
    return { kind: 'ok', etag: (await p).etag };
  } catch (err) {
    if (isQueueError(err, 'STORE_CONFLICT')) return { kind: 'conflict', why: errText(err) };
    if (isQueueError(err, 'STORE_AMBIGUOUS')) return { kind: 'ambiguous', why: errText(err) };
    if (storeDidNotAnswer(err)) throw err;
    return { kind: 'error', why: errText(err) };
  }
}

class CheckFailed extends Error {}
class CheckSkipped extends Error {}
const fail = (why: string): never => {
  throw new CheckFailed(why);
};

export async function runDoctor(store: StorageDriver, options: DoctorOptions = {}): Promise<DoctorReport> {
  const racers = options.racers ?? 8;
  const rounds = options.rounds ?? 5;
  const writes = options.writes ?? 20;
  const scratch = `bucketq-doctor-${randomBytes(6).toString('hex')}/`;
  const k = (name: string): string => `${scratch}${name}`;
  const checks: CheckResult[] = [];
  const latencies: number[] = [];

  async function check(name: CheckName, needs: CheckName[], run: () => Promise<string>): Promise<boolean> {
    const started = performance.now();
    const missing = needs.filter((n) => checks.find((c) => c.name === n)?.verdict !== 'pass');
    let result: CheckResult;
    if (missing.length > 0) {
      result = { name, verdict: 'skip', detail: `skipped: needs ${missing.join(', ')}`, ms: 0 };
    } else {
      try {
        result = { name, verdict: 'pass', detail: await run(), ms: 0 };
      } catch (err) {
        if (err instanceof CheckSkipped) result = { name, verdict: 'skip', detail: `skipped: ${err.message}`, ms: 0 };
        else if (err instanceof CheckFailed) result = { name, verdict: 'fail', detail: err.message, ms: 0 };
        else result = { name, verdict: 'error', detail: `could not run: ${errText(err)}`, ms: 0 };
      }
      result.ms = Math.round(performance.now() - started);
    }
    checks.push(result);
    options.onCheck?.(result);
    return result.verdict === 'pass';
  }

  await check('reach', [], async () => {
    const got = await store.read(k('never-written'));
    if (got !== null) fail('a key that was never written reads as an object');
    return 'credentials accepted, store reachable: a missing key reads as not found';
  });

  let plainEtag = '';
  await check('read-write', ['reach'], async () => {
    const body = `hello ${scratch}`;
    plainEtag = (await store.write(k('plain'), body)).etag;
    const got = await store.read(k('plain'));
    if (!got) return fail('an object just written reads as missing');
    if (text(got.body) !== body) fail('an object reads back with other bytes than were written');
    if (got.etag !== plainEtag) fail(`the etag read (${got.etag}) differs from the one the write returned (${plainEtag})`);
    return 'an object reads back with the same bytes and the etag its write returned';
  });

  await check('list', ['read-write'], async () => {
    await store.write(k('list/b'), 'b');
    await store.write(k('list/a'), 'a');
    const keys = await store.list(k('list/'));
    if (keys.join(' ') !== `${k('list/a')} ${k('list/b')}`) fail(`listing ${k('list/')} gave ${JSON.stringify(keys)}`);
    return 'a prefix lists exactly its keys, sorted';
  });

  await check('delete', ['read-write'], async () => {
    await store.delete(k('plain'));
    if ((await store.read(k('plain'))) !== null) fail('a deleted object still reads');
    await store.delete(k('plain'));
    return 'a deleted object reads as missing; deleting it again is fine';
  });

  let etag = '';
  await check('create-if-absent', ['reach'], async () => {
    const first = await attempt(store.write(k('cas'), 'v1', { ifNoneMatch: '*' }));
    if (first.kind !== 'ok') return fail(`creating a new object with If-None-Match: * failed (${first.why})`);
    etag = first.etag;
    const second = await attempt(store.write(k('cas'), 'v1-again', { ifNoneMatch: '*' }));
    const now = await store.read(k('cas'));
    if (second.kind === 'ok' || text(now?.body ?? new Uint8Array()) !== 'v1') {
      return fail('a second create-if-absent of the same key succeeded: the store ignores If-None-Match, two brokers could both create a topic');
    }
    if (second.kind === 'error') fail(`the second create was refused with an error instead of a conflict (${second.why})`);
    return second.kind === 'conflict' ? 'the second create of a key is refused as a conflict' : 'the second create of a key is refused (reported as ambiguous; a re-read shows it did not land)';
  });

  let staleEtag = '';
  // Runs even when the second create wrongly succeeded: the object exists, and what If-Match
  // does on such a store is worth knowing too.
  await check('conditional-replace', ['reach'], async () => {
    if (etag === '') throw new CheckSkipped('needs the object create-if-absent makes');
    const before = (await store.read(k('cas')))?.etag ?? etag; // the create-if-absent check may have replaced it
    const out = await attempt(store.write(k('cas'), 'v2', { ifMatch: before }));
    if (out.kind !== 'ok') return fail(`replacing with the current etag failed (${out.why})`);
    if (out.etag === before) fail('a replace returned the same etag as before');
    const now = await store.read(k('cas'));
    if (text(now?.body ?? new Uint8Array()) !== 'v2' || now?.etag !== out.etag) fail('after a conditional replace the object does not show the new bytes and etag');
    staleEtag = before;
    etag = out.etag;
    return 'a write with If-Match: <current etag> replaces the object';
  });

  await check('stale-etag', ['conditional-replace'], async () => {
    const out = await attempt(store.write(k('cas'), 'stale', { ifMatch: staleEtag }));
    const now = await store.read(k('cas'));
    if (out.kind === 'ok' || text(now?.body ?? new Uint8Array()) !== 'v2') fail('a write with a stale etag replaced the object: the store ignores If-Match, so brokers would overwrite each other');
    if (out.kind === 'error') fail(`a stale etag was refused with an error instead of a conflict (${out.why})`);
    return 'a write with a stale etag is refused and changes nothing';
  });

  await check('if-match-missing', ['conditional-replace'], async () => {
    const out = await attempt(store.write(k('absent'), 'x', { ifMatch: etag }));
    const now = await store.read(k('absent'));
    if (out.kind === 'ok' || now !== null) fail('If-Match on a missing key created it (MinIO once did this): a deleted topic could be resurrected');
    if (out.kind === 'error') fail(`If-Match on a missing key was refused with an error instead of a conflict (${out.why})`);
    return 'If-Match on a missing key is refused and creates nothing';
  });

  await check('race', ['conditional-replace'], async () => {
    let current = { etag, body: 'v2' };
    const notes: string[] = [];
    for (let round = 1; round <= rounds; round++) {
      const bodies = Array.from({ length: racers }, (_, i) => `round ${round} writer ${i}`);
      const outcomes = await Promise.all(bodies.map((b) => attempt(store.write(k('cas'), b, { ifMatch: current.etag }))));
      const now = await store.read(k('cas'));
      if (!now) return fail(`round ${round}: the raced object disappeared`);
      const told = outcomes.flatMap((o, i) => (o.kind === 'ok' ? [i] : []));
      const errors = outcomes.filter((o) => o.kind === 'error');
      if (told.length > 1) fail(`round ${round}: ${told.length} of ${racers} writers with the same etag were told they won: the store does not enforce If-Match under concurrency`);
      if (errors.length > 0) fail(`round ${round}: a writer failed with an error (${(errors[0] as { why: string }).why})`);
      const holder = bodies.indexOf(text(now.body));
      if (told.length === 1 && holder !== told[0]) fail(`round ${round}: writer ${told[0]} was told it won, but the object holds ${JSON.stringify(text(now.body))}`);
      if (told.length === 0) {
        const ambiguous = outcomes.flatMap((o, i) => (o.kind === 'ambiguous' ? [i] : []));
        if (holder !== -1 && !ambiguous.includes(holder)) fail(`round ${round}: the object holds the bytes of writer ${holder}, which was told it lost`);
        if (holder === -1 && ambiguous.length === 0) fail(`round ${round}: no writer won although all used the current etag`);
        notes.push(holder === -1 ? `round ${round}: none landed` : `round ${round}: writer ${holder} won (resolved by re-reading)`);
      }
      current = { etag: now.etag, body: text(now.body) };
    }
    const ambiguous = notes.length > 0 ? `; ambiguous answers resolved by re-reading in ${notes.length} round(s)` : '';
    return `${rounds} rounds of ${racers} concurrent writers with the same etag: one winner each${ambiguous}`;
  });
  etag = (await store.read(k('cas')).catch(() => null))?.etag ?? etag;

  // Latency of the writes bucketq makes: sequential conditional replaces of one object.
  if (checks.find((c) => c.name === 'conditional-replace')?.verdict === 'pass') {
    for (let i = 0; i < writes; i++) {
      const started = performance.now();
      const out = await attempt(store.write(k('cas'), `latency ${i}`, { ifMatch: etag })).catch(() => null);
      if (out?.kind !== 'ok') break;
      latencies.push(performance.now() - started);
      etag = out.etag;
    }
  }

  await check('cleanup', [], async () => {
    const left = await store.list(scratch);
    for (const key of left) await store.delete(key);
    const after = await store.list(scratch);
    if (after.length > 0) fail(`could not delete ${after.join(', ')}`);
    return `deleted the ${left.length} scratch object(s) under ${scratch}`;
  });

  const sorted = [...latencies].sort((a, b) => a - b);
  const failed = checks.filter((c) => c.verdict === 'fail').map((c) => c.name);
  const errors = checks.filter((c) => c.verdict === 'error').map((c) => c.name);
  const ok = failed.length === 0 && checks.every((c) => c.verdict === 'pass');
  return {
    driver: store.name,
    scratch,
    checks,
    latency: sorted.length > 0 ? { writes: sorted.length, p50Ms: round1(quantile(sorted, 0.5)), p99Ms: round1(quantile(sorted, 0.99)) } : null,
    ok,
    verdict: ok ? 'ok' : failed.length > 0 ? 'not-safe' : 'could-not-check',
    failed,
    errors,
  };
}

const round1 = (ms: number): number => Math.round(ms * 10) / 10;
