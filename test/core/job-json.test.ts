/**
 * A job record's bytes, written piece by piece into slabs (job-json.ts, slab-writer.ts), are
 * exactly the UTF-8 of the text the record was built as before: the reference below is that
 * builder, kept here as the specification (segment-format.test.ts pins the same on fixtures).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cachedJson, dropJsonCache, jobBytes, recordBuffer, recordLength, recordStart } from '../../src/core/job-json.js';
import type { JobRecord, JobState } from '../../src/core/types.js';

const str = JSON.stringify;

/** The record's text as it was built before (job-json.ts at 5c5b46a). */
function referenceText(job: JobRecord): string {
  let s = `{"id":${str(job.id)},"state":"${job.state}"`;
  s += job.payloadRef !== undefined ? `,"payloadRef":${str(job.payloadRef)}` : `,"payload":${str(job.payload ?? null)}`;
  s += `,"priority":${job.priority},"order":${job.order},"runAt":${job.runAt},"attempts":${job.attempts},"maxAttempts":${job.maxAttempts}`;
  if (job.backoff !== undefined) s += `,"backoff":${str(job.backoff)}`;
  if (job.lease !== undefined) s += `,"lease":{"worker":${str(job.lease.worker)},"token":${str(job.lease.token)},"until":${job.lease.until}}`;
  s += `,"createdAt":${job.createdAt},"updatedAt":${job.updatedAt}`;
  if (job.lastError !== undefined) s += `,"lastError":${str(job.lastError)}`;
  if (job.result !== undefined) s += `,"result":${str(job.result)}`;
  if (job.finishedAt !== undefined) s += `,"finishedAt":${job.finishedAt}`;
  if (job.archive !== undefined) s += `,"archive":${str(job.archive)}`;
  return s + '}';
}

/** Strings of every kind: ASCII, escapes, non-ASCII, lone surrogates, short and longer than the writer's loop. */
const anyString = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 30 }),
  fc.string({ unit: 'grapheme', minLength: 90, maxLength: 200 }),
  fc.constantFrom('', '"', '\\', '\n', '\u0000', '\u001f', '\u007f', '\u0080', '\ud800', '\udfff', '😀', 'é'.repeat(97), 'a'.repeat(96), 'a'.repeat(97)),
);

/** Numbers of every kind a field may hold: small and epoch-sized integers, negatives, fractions, extremes. */
const anyNumber = fc.oneof(
  fc.integer(),
  fc.integer({ min: 0, max: 2 ** 31 }),
  fc.integer({ min: 2 ** 31 - 2, max: 2 ** 31 + 2 }),
  fc.maxSafeInteger(),
  fc.integer({ min: 1e8 - 2, max: 1e8 + 2 }),
  fc.tuple(fc.integer({ min: 1, max: 90_000_000 }), fc.constantFrom(-1, 0, 1)).map(([k, d]) => k * 1e8 + d),
  fc.double(),
  fc.constantFrom(-0, 0, -1, -2147483648, -2147483649, 2 ** 53, 2 ** 53 + 2, 1e21, 1.5e-7, 1_767_225_600_000, Number.MAX_VALUE, NaN, Infinity, -Infinity),
);

const json = fc.jsonValue({ maxDepth: 3 });
const states: JobState[] = ['pending', 'delayed', 'claimed', 'completed', 'dead', 'cancelled'];

const anyJob: fc.Arbitrary<JobRecord> = fc
  .record(
    {
      id: anyString,
      state: fc.constantFrom(...states),
      payload: json,
      payloadRef: anyString,
      byRef: fc.boolean(),
      priority: anyNumber,
      order: anyNumber,
      runAt: anyNumber,
      attempts: anyNumber,
      maxAttempts: anyNumber,
      backoff: fc.oneof(fc.record({ type: fc.constant('fixed' as const), delayMs: fc.nat() }), fc.record({ type: fc.constant('exponential' as const), baseMs: fc.nat(), jitter: fc.double({ min: 0, max: 1 }) })),
      lease: fc.record({ worker: anyString, token: anyString, until: anyNumber }),
      createdAt: anyNumber,
      updatedAt: anyNumber,
      lastError: anyString,
      result: json,
      finishedAt: anyNumber,
      archive: anyString,
    },
    { requiredKeys: ['id', 'state', 'payload', 'payloadRef', 'byRef', 'priority', 'order', 'runAt', 'attempts', 'maxAttempts', 'createdAt', 'updatedAt'] },
  )
  .map(({ byRef, payload, payloadRef, ...rest }) => {
    const job = { ...rest } as JobRecord;
    if (byRef) job.payloadRef = payloadRef;
    else job.payload = payload;
    return job;
  });

const bigPayload = (chars: number, unit: string): JobRecord => ({ id: 'big', state: 'pending', payload: { s: unit.repeat(chars) }, priority: 0, order: 1, runAt: 2, attempts: 0, maxAttempts: 3, createdAt: 4, updatedAt: 5 });

describe('job record bytes', () => {
  it('are the UTF-8 of the reference text for any record, one after another in the slabs', () => {
    fc.assert(
      fc.property(fc.array(anyJob, { minLength: 1, maxLength: 40 }), (jobs) => {
        for (const j of jobs) recordLength(j); // all written first: consecutive in the slab, or across slabs
        for (const j of jobs) {
          const want = Buffer.from(referenceText(j), 'utf8');
          expect(recordLength(j)).toBe(want.length);
          expect(jobBytes(j).equals(want)).toBe(true);
          expect(cachedJson(j)).toBe(want.toString('utf8'));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('holds records larger than a slab in buffers of their own, and the small ones after them in a slab', () => {
    const jobs = [bigPayload(10, 'a'), bigPayload(20_000, 'a'), bigPayload(9_000, 'é'), bigPayload(10, '😀'), bigPayload(70_000, '\ud800'), bigPayload(5, 'b')];
    for (const j of jobs) {
      const want = Buffer.from(referenceText(j), 'utf8');
      expect(jobBytes(j).equals(want)).toBe(true);
      // A record of its own is held without much to spare.
      if (want.length > 8192) expect(recordBuffer(j).length).toBeLessThan(1.25 * (want.length + 1));
    }
    // The small records after a large one continue the slab, each followed by a newline. From a
    // fresh slab: the tests before this one leave the current slab filled to a level that depends
    // on fast-check's draws, and a and b must not straddle its end.
    let prev = bigPayload(1, 'w');
    recordLength(prev);
    for (;;) {
      const next = bigPayload(1, 'w');
      recordLength(next);
      if (recordBuffer(next) !== recordBuffer(prev)) break; // next opened a new slab
      prev = next;
    }
    const [a, b] = [bigPayload(1, 'x'), bigPayload(2, 'y')];
    recordLength(a);
    recordLength(b);
    expect(recordBuffer(b)).toBe(recordBuffer(a));
    expect(recordStart(b)).toBe(recordStart(a) + recordLength(a) + 1);
    expect(recordBuffer(a)[recordStart(a) + recordLength(a)]).toBe(0x0a);
  });

  it('writes a changed record anew after dropJsonCache, leaving the old bytes as they were', () => {
    const job = bigPayload(3, 'z');
    const before = jobBytes(job);
    const copy = Buffer.from(before);
    job.attempts = 1;
    job.state = 'claimed';
    dropJsonCache(job);
    expect(jobBytes(job).toString()).toBe(referenceText(job));
    expect(before.equals(copy)).toBe(true);
  });
});
