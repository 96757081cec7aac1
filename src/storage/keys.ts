/**
 * Key and body checks shared by every driver, so that all of them accept exactly the same keys
 * and treat bodies the same way (copied in, never aliased with the caller's buffer).
 */
import { QueueError } from '../errors.js';
import { KEY_PATTERN } from './types.js';

const PREFIX_CHARS = /^[A-Za-z0-9_.=/-]*$/;

function isDotSegment(segment: string): boolean {
  return segment === '.' || segment === '..';
}

/** Throws INVALID_ARGUMENT unless `key` matches {@link KEY_PATTERN} and has no `.` or `..` segment. */
export function assertValidKey(key: string): void {
  if (typeof key !== 'string' || !KEY_PATTERN.test(key) || key.split('/').some(isDotSegment)) {
    throw new QueueError(
      'INVALID_ARGUMENT',
      `Invalid storage key ${JSON.stringify(key)}: use /-separated segments of A-Z a-z 0-9 _ . = -, without empty, "." or ".." segments`,
    );
  }
}

/**
 * Throws INVALID_ARGUMENT unless `prefix` could start a valid key: the same characters, and every
 * complete segment (all but the last, which may be partial) non-empty and not `.` or `..`.
 */
export function assertValidPrefix(prefix: string): void {
  const complete = typeof prefix === 'string' ? prefix.split('/').slice(0, -1) : [];
  if (typeof prefix !== 'string' || !PREFIX_CHARS.test(prefix) || complete.some((s) => s === '' || isDotSegment(s))) {
    throw new QueueError('INVALID_ARGUMENT', `Invalid storage key prefix ${JSON.stringify(prefix)}`);
  }
}

const encoder = new TextEncoder();

/** A private copy of `body` as bytes (strings are UTF-8 encoded). */
/**
 * The body as bytes without copying a Uint8Array. For drivers that hand the bytes to I/O right
 * away: callers never mutate a body while its write is in flight (see StorageDriver.write).
 */
export function asBytes(body: Uint8Array | string): Uint8Array {
  if (typeof body === 'string') return encoder.encode(body);
  if (body instanceof Uint8Array) return body;
  throw new QueueError('INVALID_ARGUMENT', 'Storage body must be a Uint8Array or a string');
}

export function copyBody(body: Uint8Array | string): Uint8Array {
  if (typeof body === 'string') return encoder.encode(body);
  if (body instanceof Uint8Array) return body.slice();
  throw new QueueError('INVALID_ARGUMENT', 'Storage body must be a Uint8Array or a string');
}

/**
 * Throws INVALID_ARGUMENT unless `start` and `end` of a readRange are whole numbers ≥ 0. An `end`
 * at or below `start` is an empty range: valid, it still tells whether the key exists.
 */
export function assertValidRange(start: number, end: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < 0) {
    throw new QueueError('INVALID_ARGUMENT', `Invalid byte range [${start}, ${end}): both ends must be whole numbers ≥ 0`);
  }
}

/**
 * The inclusive byte range a cloud driver asks for (HTTP `Range: bytes=first-last`). An empty range
 * cannot be written in HTTP, so it asks for the one byte at `start` and the caller keeps none:
 * the answer still says whether the key exists (404) or not.
 */
export function httpRange(start: number, end: number): { first: number; last: number } {
  return { first: start, last: Math.max(start, end - 1) };
}

/**
 * The bytes [start, end) out of a ranged answer whose first byte is object byte `servedFrom`
 * (`start` when the server honoured the range, 0 when it ignored it and sent the whole object, as
 * a plain 200 does). Never more than `end - start` bytes, whatever the server sent.
 */
export function sliceRange(body: Uint8Array, servedFrom: number, start: number, end: number): Uint8Array {
  const from = Math.max(0, start - servedFrom);
  return body.subarray(Math.min(from, body.length), Math.min(body.length, from + Math.max(0, end - start)));
}

/** The first byte of a `Content-Range: bytes FIRST-LAST/SIZE` answer header, or undefined without one. */
export function contentRangeStart(header: unknown): number | undefined {
  const m = typeof header === 'string' ? /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(header.trim()) : null;
  return m ? Number(m[1]) : undefined;
}
