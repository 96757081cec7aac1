/**
 * The bearer token check shared by every wire that carries an `authorization` header (HTTP JSON,
 * Connect/gRPC). Both sides are hashed before timingSafeEqual, so the comparison takes the same
 * time whatever the token's length or content.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export type BearerCheck = 'ok' | 'missing' | 'invalid';

/** A checker of `Authorization: Bearer <token>` values; null when the broker has no token. */
export function bearerChecker(token: string | undefined): ((header: string | null | undefined) => BearerCheck) | null {
  if (token === undefined) return null;
  const expected = sha256(token);
  return (header) => {
    const m = header === undefined || header === null ? null : /^Bearer +(\S+) *$/i.exec(header);
    if (!m) return 'missing';
    return timingSafeEqual(sha256(m[1]!), expected) ? 'ok' : 'invalid';
  };
}
