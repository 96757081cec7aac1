/**
 * The bytes a segment and a record are written as never change within a format (docs/format.md):
 * the fixtures were written by the encoder before records were encoded straight into bytes
 * (format-fixture.ts), and today's encoder must write exactly them, from fresh records and from
 * records whose bytes are cached already (a merge at seal writes a held segment's jobs again).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { jobBytes, recordLength } from '../../../src/core/job-json.js';
import { decodeSegment, encodeSegment } from '../../../src/core/segments/segment-codec.js';
import { FIXTURE_DIR, fixtureHeadJobs, fixtureJobs, fixtureSegments } from './format-fixture.js';

const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURE_DIR));

describe('segment and record bytes (format 3, segment v2)', () => {
  it('encodes every fixture record to the bytes of the fixture', () => {
    const want = fixture('records.jsonl').toString('latin1').split('\n').slice(0, -1);
    const jobs = [...fixtureJobs(), ...fixtureHeadJobs()];
    expect(jobs).toHaveLength(want.length);
    jobs.forEach((j, i) => {
      expect(recordLength(j)).toBe(want[i]!.length);
      expect(jobBytes(j).toString('latin1')).toBe(want[i]);
    });
  });

  for (const s of fixtureSegments()) {
    it(`writes the ${s.name} segment byte for byte as before, fresh and again from cached records`, () => {
      const want = fixture(`segment-${s.name}.seg`);
      expect(encodeSegment(s.topic, s.kind, s.jobs).equals(want)).toBe(true);
      expect(encodeSegment(s.topic, s.kind, s.jobs).equals(want)).toBe(true); // the jobs' bytes and CRCs cached now
      // Records read back from the segment (a refill, a compaction) are written as they were read.
      expect(encodeSegment(s.topic, s.kind, decodeSegment(want, 'k').jobs).equals(want)).toBe(true);
    });
  }
});
