/**
 * The manifest as queue.json stores it (core/segments/manifest-stored.ts, docs/format.md section
 * 2): short arrays that read back as the manifest, well under half the bytes of version 1's
 * objects, version 1 still read, a stored entry that cannot be a segment refused, and a tombstone
 * kept whatever its job's id (`__proto__` included).
 */
import { describe, expect, it } from 'vitest';
import { checkManifest, type BacklogManifest } from '../../../src/core/segments/manifest.js';
import { manifestJson, storeManifest } from '../../../src/core/segments/manifest-stored.js';
import { loadBacklog } from '../../../src/core/segments/backlog-load.js';
import { segmentKey } from '../../../src/core/segments/segment-keys.js';

const key = (seq: number, i: number) => segmentKey('emails', { epoch: 3, seq, nonce: '9f2c01ab' }, i);

function manifest(): BacklogManifest {
  return {
    v: 1,
    ready: [
      { key: key(811, 0), priority: 5, n: 8192, skip: 1024, first: 9_000_001, next: 9_001_030, last: 9_008_200, bytes: 1_230_000, tombstones: 2 },
      { key: key(811, 1), priority: 5, n: 8192, skip: 0, first: 9_008_201, next: 9_008_201, last: 9_016_392, bytes: 1_230_100, tombstones: 0 },
      { key: key(900, 0), priority: 0, n: 300, skip: 0, first: 9_100_000, next: 9_100_000, last: 9_100_299, bytes: 45_000, tombstones: 0 },
    ],
    delayed: [{ key: key(812, 0), n: 4000, skip: 10, next: [1_767_229_200_000, 400_123], last: 1_767_232_800_000, bytes: 600_000, tombstones: 1 }],
    tombstones: { 'job-17': key(811, 0), 'job-18': key(811, 0), 'job-19': key(812, 0) },
    garbage: [{ key: key(700, 3), at: 1_767_225_600_000 }],
    counts: { pending: 16_000, delayed: 3_989 },
  };
}

describe('the stored manifest (v 2)', () => {
  it('reads back as the manifest, in well under half the bytes of version 1', () => {
    const m = manifest();
    const stored = JSON.parse(JSON.stringify(storeManifest(m)));
    expect(stored.v).toBe(2);
    expect(stored.ready[1]).toEqual(['3-811-9f2c01ab-1', 5, 8192, 9_008_201, 8191, 1_230_100]);
    expect(checkManifest(stored, 'q', 'emails')).toEqual(m);
    const entry = (x: unknown) => JSON.stringify(x).length;
    expect(entry(stored.ready[1])).toBeLessThan(0.4 * entry(m.ready[1]));
  });

  it('version 1 is still read; an entry that is no segment is CORRUPT_STATE', () => {
    expect(checkManifest(JSON.parse(JSON.stringify(manifest())), 'q', 'emails')).toEqual(manifest());
    const stored = JSON.parse(JSON.stringify(storeManifest(manifest())));
    const bad = [
      { ...stored, ready: [['not-a-name', 5, 1, 1, 0, 10]] },
      { ...stored, ready: [[...stored.ready[0].slice(0, 5)]] },
      { ...stored, ready: [['3-811-9f2c01ab-0', 5, 8192, '9000001', 8191, 10]] },
      { ...stored, tombstones: { x: '9-9-9f2c01ab-9' } },
      { ...stored, garbage: [['3-700-9f2c01ab-3']] },
    ];
    for (const b of bad) expect(() => checkManifest(b, 'topics/emails/queue.json', 'emails')).toThrow(/CORRUPT_STATE|topics\/emails\/queue.json: backlog/);
  });
});

describe('tombstones of any job id', () => {
  it('keeps ids that are also names of Object.prototype, both ways and in manifestJson', () => {
    const m = manifest();
    m.tombstones = Object.fromEntries([['__proto__', key(811, 0)], ['constructor', key(811, 1)], ['42', key(812, 0)], ['job-17', key(811, 0)]]);
    const text = JSON.stringify(storeManifest(m));
    expect(Object.keys(JSON.parse(text).tombstones).sort()).toEqual(['42', '__proto__', 'constructor', 'job-17']);
    const back = checkManifest(JSON.parse(text), 'q', 'emails');
    expect(Object.entries(back.tombstones).sort()).toEqual(Object.entries(m.tombstones).sort());

    // The writer of queue.json: a backlog loaded from that manifest writes the same text.
    const b = loadBacklog('emails', { nextOrder: 9_200_000 }, back, [], 'q');
    expect(b.tombstones.get('__proto__')).toBe(key(811, 0));
    expect(manifestJson(b)).toBe(JSON.stringify(storeManifest(b.manifest())));
    expect(JSON.parse(manifestJson(b)).tombstones).toEqual(JSON.parse(text).tombstones);
  });
});
