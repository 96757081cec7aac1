/**
 * The shared buffers of the file store's commit bodies (src/storage/fs-body-buffers.ts): the
 * smallest that fits is reused, and a thread keeps only a few, 8 MiB in all, so a burst of many
 * keys' commits at once pins no more than that.
 */
import { describe, expect, it } from 'vitest';
import { giveBack, takeBuffer, type BodyBuffers } from '../../src/storage/fs-body-buffers.js';

const KiB = 1024;

describe('commit body buffers', () => {
  it('a new buffer is at least 64 KiB, grown to a power of two; the smallest free one that fits is reused', () => {
    const t: BodyBuffers = { free: [], dropped: [] };
    const small = takeBuffer(t.free, 10);
    const big = takeBuffer(t.free, 200 * KiB);
    expect(small.buffer.byteLength).toBe(64 * KiB);
    expect(big.buffer.byteLength).toBe(256 * KiB);
    giveBack(t, big);
    giveBack(t, small);
    expect(takeBuffer(t.free, 1000)).toBe(small);
    expect(takeBuffer(t.free, 1000)).toBe(big);
    expect(takeBuffer(t.free, 1000)).not.toBe(big); // none left: a new one
  });

  it('keeps at most four free buffers, 8 MiB in all; the others are dropped, named for the thread once it has them', () => {
    const t: BodyBuffers = { free: [], dropped: [] };
    const held = Array.from({ length: 6 }, () => takeBuffer(t.free, 1000));
    held.forEach((b, i) => (b.sent = i !== 5));
    held.forEach((b) => giveBack(t, b));
    expect(t.free).toHaveLength(4);
    expect(t.dropped).toEqual([held[4]!.id]); // the sixth never reached the thread: nothing to forget
    // A bulk push's segments (up to 4 MiB) reuse theirs: two 4 MiB buffers are kept, a third is not.
    const roomy: BodyBuffers = { free: [], dropped: [] };
    const large = Array.from({ length: 3 }, () => takeBuffer([], 3 * 1024 * KiB));
    large.forEach((b) => (b.sent = true));
    expect(large[0]!.buffer.byteLength).toBe(4 * 1024 * KiB);
    large.forEach((b) => giveBack(roomy, b));
    expect(roomy.free).toEqual([large[0], large[1]]);
    expect(roomy.dropped).toEqual([large[2]!.id]);
    expect(takeBuffer(roomy.free, 2 * 1024 * KiB)).toBe(large[0]);
  });
});
