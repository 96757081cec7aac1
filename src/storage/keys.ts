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
