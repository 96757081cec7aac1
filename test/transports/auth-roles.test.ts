/** roleChecker: which role a presented token has (the read-only token of docs/http-api.md). */
import { describe, expect, it } from 'vitest';
import { bearerRole, roleChecker } from '../../src/transports/shared/index.js';

describe('roleChecker', () => {
  it('maps the admin and the read-only token to their roles and anything else to null', () => {
    const roleOf = roleChecker({ token: 'admin-secret', readToken: 'read-secret' })!;
    expect(roleOf('admin-secret')).toBe('admin');
    expect(roleOf('read-secret')).toBe('read');
    for (const wrong of ['', 'admin-secre', 'admin-secret ', 'read-secretX', 'READ-SECRET']) expect(roleOf(wrong)).toBeNull();
  });

  it('is null (everything open) without tokens, and works with either token alone', () => {
    expect(roleChecker({})).toBeNull();
    expect(roleChecker({ token: 'a' })!('a')).toBe('admin');
    expect(roleChecker({ readToken: 'r' })!('r')).toBe('read');
    expect(roleChecker({ readToken: 'r' })!('a')).toBeNull();
  });

  it('reads bearer headers', () => {
    const roleOf = roleChecker({ token: 'a', readToken: 'r' })!;
    expect(bearerRole(roleOf, undefined)).toBe('missing');
    expect(bearerRole(roleOf, 'Basic r')).toBe('missing');
    expect(bearerRole(roleOf, 'Bearer r')).toBe('read');
    expect(bearerRole(roleOf, 'bearer a')).toBe('admin');
    expect(bearerRole(roleOf, 'Bearer nope')).toBe('invalid');
  });
});
