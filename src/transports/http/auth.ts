/**
 * Who is asking, and may they: the HTTP side of tokens, roles and dashboard sessions.
 *
 * A request proves itself with `Authorization: Bearer <token>` or with the dashboard's session
 * cookie (dashboard-server/sessions.ts). The admin token (`token`) may do everything; the read-only token
 * (`readToken`) may call GET routes, the events stream and the stats stream, and any change is 403
 * PERMISSION_DENIED. A request authenticated by the cookie that changes anything must also carry
 * `x-bucketq-csrf: 1`. With no token configured everything is open.
 */
import type { IncomingMessage } from 'node:http';
import { QueueError } from '../../errors.js';
import { bearerRole, roleChecker, type Role } from '../shared/tokens.js';
import { cookieValue, SESSION_COOKIE, Sessions } from './dashboard-server/sessions.js';
import { HttpError } from './body.js';

export const CSRF_HEADER = 'x-bucketq-csrf';

export interface Identity {
  role: Role;
  /** How the request proved it: a bearer token, the session cookie, or nothing needed (no token configured). */
  via: 'bearer' | 'cookie' | 'open';
}

export interface HttpAuth {
  /** Whether the broker has any token (else everything is open). */
  readonly required: boolean;
  /** The role of a presented token (login form), or null. */
  roleOf(token: string): Role | null;
  readonly sessions: Sessions;
  /** The caller's identity, or 401 UNAUTHENTICATED. */
  authenticate(req: IncomingMessage): Identity;
  /** 403 PERMISSION_DENIED when this identity may not make this request. */
  authorize(req: IncomingMessage, identity: Identity): void;
}

/** Everyone, when the broker has no token. */
const OPEN: Identity = Object.freeze({ role: 'admin', via: 'open' });

function unauthenticated(message: string, error?: string): HttpError {
  return new HttpError(401, new QueueError('UNAUTHENTICATED', message), { 'www-authenticate': `Bearer realm="bucketq"${error ? `, error="${error}"` : ''}` });
}

export function createHttpAuth(tokens: { token?: string | undefined; readToken?: string | undefined }): HttpAuth {
  const roleOf = roleChecker(tokens);
  const sessions = new Sessions();
  return {
    required: roleOf !== null,
    roleOf: (token) => (roleOf ? roleOf(token) : 'admin'),
    sessions,
    authenticate(req) {
      if (!roleOf) return OPEN;
      const header = req.headers.authorization;
      if (header !== undefined) {
        const r = bearerRole(roleOf, header);
        if (r === 'invalid') throw unauthenticated('the bearer token is not valid', 'invalid_token');
        if (r !== 'missing') return { role: r, via: 'bearer' };
      }
      const session = cookieValue(req.headers.cookie, SESSION_COOKIE);
      if (session !== undefined && session !== '') {
        const role = sessions.roleOf(session);
        if (!role) throw unauthenticated('the dashboard session is not valid (the broker restarted, or it expired): log in again');
        return { role, via: 'cookie' };
      }
      throw unauthenticated('this broker needs Authorization: Bearer <token>');
    },
    authorize(req, identity) {
      const method = req.method ?? 'GET';
      const changes = method !== 'GET' && method !== 'HEAD';
      if (!changes) return;
      if (identity.role === 'read') {
        throw new HttpError(403, new QueueError('PERMISSION_DENIED', `the read-only token may not change anything (${method} ${(req.url ?? '/').split('?', 1)[0]})`));
      }
      if (identity.via === 'cookie' && req.headers[CSRF_HEADER] !== '1') {
        throw new HttpError(403, new QueueError('PERMISSION_DENIED', `a request authenticated by the session cookie that changes anything needs the header ${CSRF_HEADER}: 1`));
      }
    },
  };
}
