/** Segment objects and the id index: round trips, partial decodes, damage refused. */
import { describe, expect, it } from 'vitest';
import { crc32, crc32InJs, fingerprint, fingerprintInto } from '../../../src/core/segments/fingerprint.js';
import { FingerprintIndex } from '../../../src/core/segments/id-index.js';
import { decodeSegment, decodeSegmentFingerprints, decodeSegmentMeta, decodeSegmentRecord, encodeSegment, fingerprintBytes } from '../../../src/core/segments/segment-codec.js';
import { newJob } from './backlog-harness.js';

describe('segment codec', () => {
  const jobs = Array.from({ length: 50 }, (_, i) => newJob(`id-${i}-é`, 3, 100 + i, 5000 + i, 1));

  it('round-trips jobs, and each partial decode reads only its prefix', () => {
    const bytes = encodeSegment('t', 'ready', jobs);
    expect(decodeSegment(bytes, 'k').jobs).toEqual(jobs.map((j) => JSON.parse(JSON.stringify(j))));
    const fpLen = fingerprintBytes(bytes.subarray(0, 16), 'k');
    const { fps } = decodeSegmentFingerprints(bytes.subarray(0, fpLen), 'k');
    expect([fps[2 * 7], fps[2 * 7 + 1]]).toEqual(fingerprint('id-7-é'));
    const meta = decodeSegmentMeta(bytes, 'k');
    expect(meta).toMatchObject({ kind: 'ready', n: 50, priority: 3, topic: 't' });
    expect(meta.ids[49]).toBe('id-49-é');
    expect(decodeSegmentRecord(bytes, 'id-20-é', 'k')?.order).toBe(120);
    expect(decodeSegmentRecord(bytes, 'nope', 'k')).toBeUndefined();
  });

  it("writes the same bytes with the caller's fingerprints, and zlib's CRC-32 agrees with the table loop", () => {
    const fps = new Uint32Array(2 * jobs.length);
    jobs.forEach((j, i) => fingerprintInto(j.id, fps, i));
    const bytes = encodeSegment('t', 'ready', jobs, fps);
    expect(bytes.equals(encodeSegment('t', 'ready', jobs))).toBe(true);
    expect(crc32(bytes, bytes.length - 4)).toBe(crc32InJs(bytes.subarray(0, bytes.length - 4)));
    expect(bytes.readUInt32LE(bytes.length - 4)).toBe(crc32InJs(bytes.subarray(0, bytes.length - 4)));
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926); // the standard check value
  });

  it('refuses a damaged or foreign object as CORRUPT_STATE', () => {
    const bytes = encodeSegment('t', 'delayed', jobs);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 10] = flipped[flipped.length - 10]! ^ 1;
    expect(() => decodeSegment(flipped, 'k')).toThrow(/checksum/);
    expect(() => decodeSegment(bytes.subarray(0, bytes.length - 1), 'k')).toThrow(/bytes where the header says/);
    expect(() => decodeSegmentMeta(Buffer.from('{"jobs":[]}'), 'k')).toThrow(/not a bucketq segment/);
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
