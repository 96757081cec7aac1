/** Segment objects and the id index: round trips, partial decodes, damage refused. */
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32, crc32InJs, fingerprint, fingerprintInto } from '../../../src/core/segments/fingerprint.js';
import { FingerprintIndex } from '../../../src/core/segments/id-index.js';
import { decodeRecord, decodeSegment, decodeSegmentFingerprints, decodeSegmentMeta, decodeSegmentRecord, encodeSegment, fingerprintBytes, fingerprintPrefix, recordSpan, segmentHeaderBytes, segmentHeaderGuess } from '../../../src/core/segments/segment-codec.js';
import { jobBytes } from '../../../src/core/job-json.js';
import type { JobRecord } from '../../../src/core/types.js';
import { newJob } from './backlog-harness.js';

/** The record's own fields (JSON.stringify ignores the symbol-keyed JSON caches). */
const plain = (j: JobRecord): unknown => JSON.parse(JSON.stringify(j));

describe('segment codec', () => {
  const jobs = Array.from({ length: 50 }, (_, i) => newJob(`id-${i}-é`, 3, 100 + i, 5000 + i, 1));

  it('round-trips jobs, and each partial decode reads only its prefix', () => {
    const bytes = encodeSegment('t', 'ready', jobs);
    expect(decodeSegment(bytes, 'k').jobs.map(plain)).toEqual(jobs.map(plain));
    const fpLen = fingerprintBytes(bytes.subarray(0, 16), 'k');
    const { fps } = decodeSegmentFingerprints(bytes.subarray(0, fpLen), 'k');
    expect([fps[2 * 7], fps[2 * 7 + 1]]).toEqual(fingerprint('id-7-é'));
    const meta = decodeSegmentMeta(bytes, 'k');
    expect(meta).toMatchObject({ kind: 'ready', n: 50, priority: 3, topic: 't' });
    expect(meta.ids[49]).toBe('id-49-é');
    expect(decodeSegmentRecord(bytes, 'id-20-é', 'k')?.order).toBe(120);
    expect(decodeSegmentRecord(bytes, 'nope', 'k')).toBeUndefined();
  });

  it("a decoded record's head JSON is its bytes in the segment, not a new encoding (a refill encodes nothing)", () => {
    const bytes = encodeSegment('t', 'ready', jobs);
    const rec = decodeSegment(bytes, 'k').jobs[7]!;
    const json = jobBytes(rec);
    expect(json.toString('utf8')).toBe(jobBytes(jobs[7]!).toString('utf8'));
    expect(json.buffer).toBe(bytes.buffer); // a view of the segment's bytes
  });

  it('decodes the header from its own prefix and one record from its own bytes (what ranged reads fetch)', () => {
    const bytes = encodeSegment('t', 'delayed', jobs);
    expect(fingerprintBytes(bytes.subarray(0, 16), 'k')).toBe(fingerprintPrefix(50));
    const headerLen = segmentHeaderBytes(bytes.subarray(0, 16), 'k');
    expect(headerLen).toBeLessThan(segmentHeaderGuess(50)); // one read in the usual case
    const meta = decodeSegmentMeta(bytes.subarray(0, headerLen), 'k');
    expect(meta.priorities).toHaveLength(50);
    const [start, end] = recordSpan(meta, 33);
    expect(plain(decodeRecord(meta, 33, bytes.subarray(start, end), 'k'))).toEqual(plain(jobs[33]!));
    expect(end - start).toBeLessThan(bytes.length / 40);
  });

  it("writes the same bytes with the caller's fingerprints, and zlib's CRC-32 agrees with the table loop", () => {
    const fps = new Uint32Array(2 * jobs.length);
    jobs.forEach((j, i) => fingerprintInto(j.id, fps, i));
    const bytes = encodeSegment('t', 'ready', jobs, fps);
    expect(bytes.equals(encodeSegment('t', 'ready', jobs))).toBe(true);
    expect(crc32(bytes)).toBe(crc32InJs(bytes));
    // Continued CRCs (a record's CRC over its bytes and newline) agree too.
    expect(crc32(bytes, bytes.length, 100, crc32(bytes, 100))).toBe(crc32InJs(bytes));
    expect(crc32(bytes.subarray(100), bytes.length - 100, 0, crc32InJs(bytes.subarray(0, 100)))).toBe(crc32InJs(bytes.subarray(100), crc32InJs(bytes.subarray(0, 100))));
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926); // the standard check value
  });

  it("computes zlib's CRC-32 for every length, offset and continued CRC (short ranges in JavaScript, long ones in zlib)", () => {
    const bytes = Buffer.alloc(5000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    for (let len = 0; len < 1100; len += len < 40 ? 1 : 37) {
      for (const start of [0, 1, 3, 8, 13]) {
        const end = start + len;
        const prev = len * 0x9e3779b1;
        expect(crc32(bytes, end, start)).toBe(zlib.crc32(bytes.subarray(start, end)));
        expect(crc32(bytes, end, start, prev >>> 0)).toBe(zlib.crc32(bytes.subarray(start, end), prev >>> 0));
        expect(crc32InJs(bytes.subarray(start, end), prev >>> 0)).toBe(zlib.crc32(bytes.subarray(start, end), prev >>> 0));
      }
    }
  });

  it('refuses a damaged or foreign object as CORRUPT_STATE', () => {
    const bytes = encodeSegment('t', 'delayed', jobs);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 10] = flipped[flipped.length - 10]! ^ 1;
    expect(() => decodeSegment(flipped, 'k')).toThrow(/checksum/);
    expect(() => decodeSegment(bytes.subarray(0, bytes.length - 1), 'k')).toThrow(/bytes where the header says/);
    expect(() => decodeSegmentMeta(Buffer.from('{"jobs":[]}'), 'k')).toThrow(/not a bucketq segment/);
  });

  it('checks each section on its own: a damaged one is CORRUPT_STATE naming it, whichever reader meets it', () => {
    const bytes = encodeSegment('t', 'ready', jobs);
    const meta = decodeSegmentMeta(bytes, 'k');
    const flip = (at: number): Buffer => {
      const b = Buffer.from(bytes);
      b[at] = b[at]! ^ 0x20;
      return b;
    };
    const corrupt = (fn: () => unknown, why: RegExp) => {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'CORRUPT_STATE', message: expect.stringMatching(why) });
      expect((err as Error).message).toMatch(/^k: .*bucketq refuses to use it$/);
    };
    // A fingerprint: the id index at a takeover would lose the id (a duplicate push let through).
    const fp = flip(16 + 8 * 7);
    corrupt(() => decodeSegmentFingerprints(fp.subarray(0, fingerprintPrefix(50)), 'k'), /fingerprint section checksum mismatch/);
    corrupt(() => decodeSegmentMeta(fp, 'k'), /fingerprint section checksum mismatch/);
    // The meta (an id) and the record CRCs: a confirmation or a get would answer wrongly.
    const idAt = bytes.indexOf(Buffer.from('"id-7-é"')) + 2;
    corrupt(() => decodeSegmentMeta(flip(idAt), 'k'), /header checksum mismatch/);
    corrupt(() => decodeSegmentMeta(flip(meta.recordsAt - 8), 'k'), /header checksum mismatch/);
    corrupt(() => decodeSegment(flip(idAt), 'k'), /header checksum mismatch/);
    // A record's payload: a get reading only that record sees it, as a refill does.
    const [start, end] = recordSpan(meta, 20);
    const rec = flip(start + 30);
    corrupt(() => decodeRecord(meta, 20, rec.subarray(start, end), 'k'), /record 20 checksum mismatch/);
    corrupt(() => decodeSegmentRecord(rec, 'id-20-é', 'k'), /record 20 checksum mismatch/);
    corrupt(() => decodeSegment(rec, 'k'), /record 20 checksum mismatch/);
    // A short ranged answer (the object was cut) is not a shorter record, nor a shorter header.
    corrupt(() => decodeRecord(meta, 20, bytes.subarray(start, end - 1), 'k'), /record 20 is \d+ bytes where the header says/);
    corrupt(() => decodeSegmentMeta(bytes.subarray(0, meta.recordsAt - 1), 'k'), /truncated header/);
    corrupt(() => decodeSegmentFingerprints(bytes.subarray(0, fingerprintPrefix(50) - 1), 'k'), /truncated fingerprints/);
    // A segment of the unreleased first layout (one CRC at the end) is refused, not misread.
    const v1 = Buffer.from(bytes);
    v1.writeUInt16LE(1, 4);
    corrupt(() => decodeSegmentMeta(v1, 'k'), /segment version 1 \(this bucketq knows 2\)/);
  });
});

describe('fingerprint index', () => {
  it('finds, removes and survives growth and deletions in long probe runs', () => {
    const ix = new FingerprintIndex(16);
    const live = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      const [hi, lo] = fingerprint(`job-${i}`);
      ix.add(hi, lo, (i % 7) + 1);
      live.set(`job-${i}`, (i % 7) + 1);
    }
    for (let i = 0; i < 5000; i += 3) {
      const [hi, lo] = fingerprint(`job-${i}`);
      expect(ix.remove(hi, lo, (i % 7) + 1)).toBe(true);
      live.delete(`job-${i}`);
    }
    expect(ix.size).toBe(live.size);
    for (let i = 0; i < 5000; i++) {
      const [hi, lo] = fingerprint(`job-${i}`);
      expect(ix.find(hi, lo)).toEqual(live.has(`job-${i}`) ? [live.get(`job-${i}`)] : []);
    }
    // Same fingerprint in two segments (a collision, or a duplicate): a multimap.
    ix.add(1, 2, 5);
    ix.add(1, 2, 6);
    expect(ix.find(1, 2).sort()).toEqual([5, 6]);
    expect(ix.remove(1, 2, 5)).toBe(true);
    expect(ix.find(1, 2)).toEqual([6]);
  });
});
