/**
 * The token check shared by every wire: HTTP JSON and Connect/gRPC (an `authorization` header),
 * and the Redis protocol (AUTH). Both sides are hashed before timingSafeEqual, so the comparison
 * takes the same time whatever the token's length or content.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export type BearerCheck = 'ok' | 'missing' | 'invalid';

/** A constant-time checker of presented tokens; null when the broker has no token. */
export function tokenChecker(token: string | undefined): ((presented: string) => boolean) | null {
  if (token === undefined) return null;
  const expected = sha256(token);
  return (presented) => timingSafeEqual(sha256(presented), expected);
}

/** A checker of `Authorization: Bearer <token>` values; null when the broker has no token. */
export function bearerChecker(token: string | undefined): ((header: string | null | undefined) => BearerCheck) | null {
  const matches = tokenChecker(token);
  if (!matches) return null;
  return (header) => {
    const m = header === undefined || header === null ? null : /^Bearer +(\S+) *$/i.exec(header);
    if (!m) return 'missing';
    return matches(m[1]!) ? 'ok' : 'invalid';
  };
}
