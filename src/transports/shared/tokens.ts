/**
 * The token check shared by every wire: HTTP JSON and Connect/gRPC (an `authorization` header),
 * and the Redis protocol (AUTH). Both sides are hashed before timingSafeEqual, so the comparison
 * takes the same time whatever the token's length or content.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** What an `Authorization: Bearer <token>` header proves, where any role will do (the operations port). */
export type BearerCheck = 'ok' | 'missing' | 'invalid';

/** A constant-time checker of presented tokens; null when the broker has no token. */
export function tokenChecker(token: string | undefined): ((presented: string) => boolean) | null {
  if (token === undefined) return null;
  const expected = sha256(token);
  return (presented) => timingSafeEqual(sha256(presented), expected);
}

/** What a presented credential may do: `admin` everything, `read` only what changes nothing. */
export type Role = 'admin' | 'read';

/**
 * A constant-time mapper of presented tokens to their role; null when the broker has no token at
 * all (everything open). Both tokens are compared every time, so the answer's timing tells neither
 * which token matched nor how much of one.
 */
export function roleChecker(tokens: { token?: string | undefined; readToken?: string | undefined }): ((presented: string) => Role | null) | null {
  const admin = tokenChecker(tokens.token);
  const read = tokenChecker(tokens.readToken);
  if (!admin && !read) return null;
  return (presented) => {
    const isAdmin = admin ? admin(presented) : false;
    const isRead = read ? read(presented) : false;
    return isAdmin ? 'admin' : isRead ? 'read' : null;
  };
}

/** The role of an `Authorization: Bearer <token>` header: 'missing' when there is none, 'invalid' when it matches no token. */
export function bearerRole(roleOf: (presented: string) => Role | null, header: string | null | undefined): Role | 'missing' | 'invalid' {
  const m = header === undefined || header === null ? null : /^Bearer +(\S+) *$/i.exec(header);
  if (!m) return 'missing';
  return roleOf(m[1]!) ?? 'invalid';
}
