/**
 * The bytes a segment and a record are written as never change within a format (docs/format.md):
 * the fixtures were written by the encoder before records were encoded straight into bytes
 * (format-fixture.ts), and today's encoder must write exactly them, from fresh records and from
 * records whose bytes are cached already (a merge at seal writes a held segment's jobs again).
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { jobBytes, recordLength } from '../../../src/core/job-json.js';
import { fingerprintInto } from '../../../src/core/segments/fingerprint.js';
import { decodeSegment, encodeSegment } from '../../../src/core/segments/segment-codec.js';
import type { JobRecord } from '../../../src/core/types.js';
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

/** The encoder as it was (5c5b46a), the straightforward way: JSON.stringify of the meta, each record's text. */
function referenceSegment(topic: string, kind: 'ready' | 'delayed', jobs: JobRecord[]): Buffer {
  const n = jobs.length;
  const records = jobs.map((j) => Buffer.concat([jobBytes(j), Buffer.from('\n')]));
  const ends: number[] = [];
  records.reduce((end, r) => (ends.push(end + r.length), end + r.length), 0);
  const metaObj: Record<string, unknown> = { topic, priority: kind === 'ready' ? (jobs[0]?.priority ?? 0) : null, ids: jobs.map((j) => j.id), order: jobs.map((j) => j.order), runAt: jobs.map((j) => j.runAt), ends };
  if (kind === 'delayed') metaObj.priorities = jobs.map((j) => j.priority);
  const meta = Buffer.from(JSON.stringify(metaObj));
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    return b;
  };
  const pre = Buffer.alloc(16);
  pre.writeUInt32LE(0x47535142, 0);
  pre.writeUInt16LE(2, 4);
  pre.writeUInt16LE(kind === 'ready' ? 0 : 1, 6);
  pre.writeUInt32LE(n, 8);
  pre.writeUInt32LE(meta.length, 12);
  const fps = new Uint32Array(2 * n);
  jobs.forEach((j, i) => fingerprintInto(j.id, fps, i));
  const head = Buffer.concat([pre, Buffer.concat([...fps].map(u32))]);
  const crcs = Buffer.concat(records.map((r) => u32(zlib.crc32(r))));
  return Buffer.concat([head, u32(zlib.crc32(head)), meta, crcs, u32(zlib.crc32(Buffer.concat([meta, crcs]))), ...records]);
}

const anyText = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('"', '\\', '\n', '\ud800', 'é', '😀', 'x'.repeat(100)));
const anyInt = fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.constantFrom(0, -0, 1_767_225_600_000, 2 ** 31, -(2 ** 31)));

describe('segment bytes of any jobs', () => {
  it('are what the straightforward encoder writes (meta as JSON.stringify, records as their text)', () => {
    const job = fc.record({ id: anyText, payload: fc.jsonValue({ maxDepth: 2 }), priority: anyInt, order: anyInt, runAt: anyInt, attempts: fc.nat(), lastError: fc.option(anyText, { nil: undefined }) });
    fc.assert(
      fc.property(fc.constantFrom('ready' as const, 'delayed' as const), anyText, fc.array(job, { minLength: 1, maxLength: 30 }), (kind, topic, specs) => {
        const jobs = specs.map((j): JobRecord => {
          const r: JobRecord = { id: j.id, state: kind === 'ready' ? 'pending' : 'delayed', payload: j.payload, priority: j.priority, order: j.order, runAt: j.runAt, attempts: j.attempts, maxAttempts: 3, createdAt: 1, updatedAt: 2 };
          if (j.lastError !== undefined) r.lastError = j.lastError;
          return r;
        });
        expect(encodeSegment(topic, kind, jobs).equals(referenceSegment(topic, kind, jobs))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
