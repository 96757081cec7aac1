/**
 * The 64-bit fingerprint of a job id (the id index's key, section 3 of docs/format.md), and the
 * CRC-32 that closes each section of a segment object: zlib's for long ranges where Node has it
 * (a pure function, no I/O), else the table loop below.
 *
 * The fingerprint is cyrb53's two 32-bit lanes kept whole. It is not a cryptographic hash: a
 * collision (chosen or not) costs one confirming read of a segment's ids, never a wrong answer.
 */
import * as zlib from 'node:zlib';

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

/**
 * CRC-32 tables for slicing by 8: table k (at 256 * k) is the CRC of a byte followed by k zero
 * bytes, so eight bytes are folded in per step. Table 0 is the classic byte-at-a-time table.
 */
const CRC_TABLES = (() => {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let k = 1; k < 8; k++) for (let n = 0; n < 256; n++) t[256 * k + n] = (t[256 * (k - 1) + n]! >>> 8) ^ t[t[256 * (k - 1) + n]! & 0xff]!;
  return t;
})();

/** CRC-32 in JavaScript (slicing by 8): for short ranges, and for a Node without zlib.crc32 (before 20.15 / 22.2). */
function crc32Js(b: Uint8Array, end: number, start: number, prev: number): number {
  const t = CRC_TABLES;
  let c = ~prev;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const x = c ^ (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24));
    c = t[1792 + (x & 0xff)]! ^ t[1536 + ((x >>> 8) & 0xff)]! ^ t[1280 + ((x >>> 16) & 0xff)]! ^ t[1024 + (x >>> 24)]! ^ t[768 + b[i + 4]!]! ^ t[512 + b[i + 5]!]! ^ t[256 + b[i + 6]!]! ^ t[b[i + 7]!]!;
  }
  for (; i < end; i++) c = t[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** zlib's own CRC-32 (native, about 20 times the speed of the table loop on a segment of megabytes). */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/**
 * Below this many bytes the JavaScript loop is the faster one: zlib's call costs a view of the
 * range and about 200 ns before its first byte (profiled on a segment's records, ~200 bytes each).
 */
const NATIVE_FROM = 384;

/** CRC-32 (IEEE, as zlib) of `bytes[start .. end)`, continuing `prev` (the CRC of the bytes before). */
export function crc32(bytes: Uint8Array, end = bytes.length, start = 0, prev = 0): number {
  if (nativeCrc32 && end - start >= NATIVE_FROM) return nativeCrc32(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), prev) >>> 0;
  return crc32Js(bytes, end, start, prev);
}

/** @internal The JavaScript CRC-32, for the test that checks both agree. */
export const crc32InJs = (bytes: Uint8Array, prev = 0): number => crc32Js(bytes, bytes.length, 0, prev);
