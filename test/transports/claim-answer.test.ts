/**
 * The claim route writes its answer as bytes (transports/http/claimed-job.ts, claimAnswerBytes),
 * field by field for a job whose payload is still the text the claim kept. Held here to what
 * JSON.stringify makes of claimedJob() (every field the claim op gives, whatever it is), byte for
 * byte, for jobs from real claims: plain, retried (lastError), with payloads that need escaping or
 * are not ASCII, with a payload stored as its own object and read back (no text kept), and ones
 * whose payload was read or replaced before the answer (no text kept either); and numbers JSON
 * cannot hold.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { setLazyPayload } from '../../src/core/claimed-payload.js';
import type { ClaimedJob } from '../../src/core/ops/claim.js';
import { claimAnswerBytes, claimedJob } from '../../src/transports/http/claimed-job.js';

const reference = (jobs: Parameters<typeof claimAnswerBytes>[0]) => Buffer.from(JSON.stringify({ jobs: jobs.map(claimedJob) }));

/** The answer's bytes, made before the reference (which reads, and so parses, every payload). */
function expectSameBytes(jobs: Parameters<typeof claimAnswerBytes>[0]) {
  const bytes = claimAnswerBytes(jobs);
  const ref = reference(jobs);
  expect(bytes.toString('utf8')).toBe(ref.toString('utf8')); // a readable diff when they differ
  expect(bytes.equals(ref)).toBe(true);
}

describe('the claim answer as bytes', () => {
  it('is what JSON.stringify makes of every claimed job, byte for byte', async () => {
    const broker = new Broker({ store: createMemoryStore(), payloadThreshold: 1024 });
    try {
      const jobs = [
        { payload: { n: 1 } },
        { payload: 'quote " backslash \\ newline \n tab \t' },
        { payload: { text: 'naïve ✓ 日本語 😀', lone: '\ud800' } },
        { payload: null },
        { payload: [1, 2.5, -3e-7, true, false, null] },
        { payload: { big: 'x'.repeat(5000) } }, // past payloadThreshold: an object of its own
        { payload: { priority: 'high' }, priority: 7 },
      ];
      await broker.push('t', jobs);
      const first = await broker.claim('t', { workerId: 'w1', max: 1 });
      await broker.nack('t', { id: first[0]!.id, lease: first[0]!.lease, workerId: 'w1', error: 'failed: "why" \u2028 here \ud800', delayMs: 0 });
      const claimed = await broker.claim('t', { workerId: 'w2', max: 10 });
      expect(claimed).toHaveLength(7);
      expect(claimed.some((j) => j.lastError !== undefined)).toBe(true);
      expectSameBytes(claimed);

      // Some payloads read or replaced before the answer (no text kept: the other path), the
      // others still their text: fresh jobs, as the reference above parsed the first ones.
      await broker.push('t', jobs);
      const mixed = await broker.claim('t', { workerId: 'w3', max: 10 });
      void mixed[0]!.payload;
      mixed[1]!.payload = { replaced: true };
      expectSameBytes(mixed);

      expect(claimAnswerBytes([]).toString('utf8')).toBe('{"jobs":[]}');
    } finally {
      await broker.stop();
    }
  });

  it('writes a number JSON cannot hold as null, as JSON.stringify does', () => {
    // Not reachable through the broker (its checks keep these finite); held to JSON all the same.
    const job: ClaimedJob = { id: 'j', priority: Number.NaN, attempt: 1, maxAttempts: Number.POSITIVE_INFINITY, lease: 'l', leaseUntil: -0, createdAt: 1_796_683_074_879.5 };
    setLazyPayload(job, '{"n":1}');
    expectSameBytes([job]);
  });
});
