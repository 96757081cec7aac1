/**
 * Browser sessions of the dashboard: after a login with a valid token, the browser holds an opaque
 * random id in the `bucketq_session` cookie and the broker maps it to the token's role in memory.
 * The token itself is never stored in the browser (no localStorage a script could read), and a
 * restart of the broker ends every session (log in again).
 *
 * The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it),
 * Path=/, Secure over TLS, and a session cookie (no Max-Age: it ends with the browser session).
 * Requests it authenticates that change anything also need `x-bucketq-csrf: 1` (http/auth.ts), a header
 * no cross-site form can set and no cross-site script may send without a CORS preflight.
 */
import { randomBytes } from 'node:crypto';
import type { Role } from '../../shared/tokens.js';

export const SESSION_COOKIE = 'bucketq_session';
/** A session is refused after this long even if the browser keeps the cookie (a day). */
export const SESSION_MAX_AGE_MS = 24 * 3_600_000;
/** Sessions kept at most; the oldest go first, so a login loop cannot grow the broker's memory. */
export const MAX_SESSIONS = 10_000;

export class Sessions {
  /** id → role and creation time, in creation order (Map order), so the oldest is first. */
  private readonly byId = new Map<string, { role: Role; at: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.byId.size;
  }

  create(role: Role): string {
    while (this.byId.size >= MAX_SESSIONS) this.byId.delete(this.byId.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    this.byId.set(id, { role, at: this.now() });
    return id;
  }

  /** The role of a session id, or null when unknown or too old. */
  roleOf(id: string): Role | null {
    const s = this.byId.get(id);
    if (!s) return null;
    if (this.now() - s.at > SESSION_MAX_AGE_MS) {
      this.byId.delete(id);
      return null;
    }
    return s.role;
  }

  delete(id: string): void {
    this.byId.delete(id);
  }
}

/** The value of cookie `name` in a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(id: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${secure ? '; Secure' : ''}`;
}
