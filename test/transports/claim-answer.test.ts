/**
 * The claim route writes its answer as bytes (transports/http/claimed-job.ts, claimAnswerBytes),
 * field by field for a job whose payload is still the text the claim kept. Held here to what
 * JSON.stringify makes of claimedJob() (every field the claim op gives, whatever it is), byte for
 * byte, for jobs from real claims: plain, retried (lastError), with payloads that need escaping or
 * are not ASCII, with a payload stored as its own object and read back (no text kept), and one
 * whose payload was read before the answer (no text kept either).
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { claimAnswerBytes, claimedJob } from '../../src/transports/http/claimed-job.js';

const reference = (jobs: Parameters<typeof claimAnswerBytes>[0]) => JSON.stringify({ jobs: jobs.map(claimedJob) });

describe('the claim answer as bytes', () => {
  it('is what JSON.stringify makes of every claimed job, byte for byte', async () => {
    const broker = new Broker({ store: createMemoryStore(), payloadThreshold: 1024 });
    try {
      await broker.push('t', [
        { payload: { n: 1 } },
        { payload: 'quote " backslash \\ newline \n tab \t' },
        { payload: { text: 'naïve ✓ 日本語 😀', lone: '\ud800' } },
        { payload: null },
        { payload: [1, 2.5, -3e-7, true, false, null] },
        { payload: { big: 'x'.repeat(5000) } }, // past payloadThreshold: an object of its own
        { payload: { priority: 'high' }, priority: 7 },
      ]);
      const first = await broker.claim('t', { workerId: 'w1', max: 1 });
      await broker.nack('t', { id: first[0]!.id, lease: first[0]!.lease, workerId: 'w1', error: 'failed: "why" \u2028 here', delayMs: 0 });
      const jobs = await broker.claim('t', { workerId: 'w2', max: 10 });
      expect(jobs).toHaveLength(7);
      expect(jobs.some((j) => j.lastError !== undefined)).toBe(true);
      expect(claimAnswerBytes(jobs).toString('utf8')).toBe(reference(jobs));
      // A payload read (or replaced) before the answer is no longer its text: the other path.
      void jobs[0]!.payload;
      jobs[1]!.payload = { replaced: true };
      expect(claimAnswerBytes(jobs).toString('utf8')).toBe(reference(jobs));
      expect(claimAnswerBytes([]).toString('utf8')).toBe('{"jobs":[]}');
    } finally {
      await broker.stop();
    }
  });
});
