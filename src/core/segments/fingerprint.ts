/**
 * The 64-bit fingerprint of a job id (the id index's key, section 3 of docs/format.md), and the
 * CRC-32 that closes a segment object. Both are plain arithmetic: the core stays pure, and Node 20
 * has no zlib.crc32.
 *
 * The fingerprint is cyrb53's two 32-bit lanes kept whole. It is not a cryptographic hash: a
 * collision (chosen or not) costs one confirming read of a segment's ids, never a wrong answer.
 */

/** Writes the fingerprint of `id` at `out[2 * at]` (hi) and `out[2 * at + 1]` (lo). */
export function fingerprintInto(id: string, out: Uint32Array, at: number): void {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < id.length; i++) {
    const ch = id.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  out[2 * at] = h1 >>> 0;
  out[2 * at + 1] = h2 >>> 0;
}

const one = new Uint32Array(2);

/** The fingerprint of one id as [hi, lo]. */
export function fingerprint(id: string): [number, number] {
  fingerprintInto(id, one, 0);
  return [one[0]!, one[1]!];
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE, as zlib) of `bytes[start .. end)`, continuing `prev` (the CRC of the bytes before). */
export function crc32(bytes: Uint8Array, end = bytes.length, start = 0, prev = 0): number {
  let c = (prev ^ 0xffffffff) >>> 0;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
