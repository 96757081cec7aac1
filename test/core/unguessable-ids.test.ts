/**
 * Ids the broker and clients make: the shape callers see, and no repeat across the pool's refills
 * (512 ids per draw from the CSPRNG). That they cannot be guessed is the CSPRNG's property, not
 * something a test can show; what is shown is that consecutive ids no longer count up.
 */
import { describe, expect, it } from 'vitest';
import { unguessableId } from '../../src/unguessable-ids.js';
import { randomId } from '../../src/broker/broker.js';

describe('unguessable ids', () => {
  it('are a lead letter and 16 base64url characters, all different across several refills of the pool', () => {
    const ids = Array.from({ length: 3 * 512 + 7 }, () => unguessableId('x'));
    for (const id of ids) expect(id).toMatch(/^x[A-Za-z0-9_-]{16}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("the broker's ids (jobs, lease nonces, payload objects) are made so: no shared prefix and counter", () => {
    const [a, b] = [randomId(), randomId()];
    expect(a).toMatch(/^b[A-Za-z0-9_-]{16}$/);
    // With the old prefix and counter, two ids in a row shared their first 13 characters.
    expect(a.slice(0, 13)).not.toBe(b.slice(0, 13));
  });
});
