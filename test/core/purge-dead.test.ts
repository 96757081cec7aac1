/** purgeDead: the op behind the dashboard's "purge dead" (every dead job, or the picked ones). */
import { describe, expect, it } from 'vitest';
import { assertInvariants } from '../../src/core/invariants.js';
import { CoreHarness } from './harness.js';

/** Pushes `ids` with one attempt each, claims them and nacks them: all dead. */
function deadJobs(h: CoreHarness, ids: string[]): void {
  h.ok('push', { jobs: ids.map((id) => ({ id, payload: { id }, maxAttempts: 1 })) });
  const claimed = h.ok('claim', { worker: 'w', max: ids.length, leaseMs: 1000, nonce: 'n' });
  for (const j of claimed.jobs) h.ok('nack', { id: j.id, worker: 'w', token: j.lease, rand: 0, error: `boom ${j.id}` });
}

describe('purgeDead', () => {
  it('drops the listed dead jobs in one op, reports ids that are not dead, and touches nothing else', () => {
    const h = new CoreHarness();
    deadJobs(h, ['a', 'b', 'c']);
    h.ok('push', { jobs: [{ id: 'live', payload: 1 }] });
    h.commit(); // archived: the dead jobs are index entries now
    const r = h.run('purgeDead', { ids: ['a', 'c', 'live', 'nope'] });
    expect(r.ok && r.changed).toBe(true);
    expect(r.ok && r.value).toEqual({
      purged: 2,
      skipped: [
        { id: 'live', code: 'NOT_FOUND', message: 'job live is not dead' },
        { id: 'nope', code: 'NOT_FOUND', message: 'job nope is not dead' },
      ],
    });
    expect([...h.state.dead.keys()]).toEqual(['b']);
    expect(h.ok('stats', {})).toMatchObject({ pending: 1, dead: 1 });
    expect(h.run('get', { id: 'a' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(h.run('retry', { id: 'a' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    // Re-run (a conflict replays the batch): nothing more goes, and nothing is written.
    const again = h.run('purgeDead', { ids: ['a', 'c'] });
    expect(again.ok && again.value.purged).toBe(0);
    expect(again.ok && again.changed).toBe(false);
    assertInvariants(h.state, h.now);
  });

  it('without ids drops every dead job, including one that died in a commit not archived yet', () => {
    const h = new CoreHarness();
    deadJobs(h, ['a', 'b']);
    h.commit();
    deadJobs(h, ['c']); // still in `done`, waiting for its archive object
    expect(h.ok('purgeDead', {})).toEqual({ purged: 3, skipped: [] });
    expect(h.state.dead.size).toBe(0);
    assertInvariants(h.state, h.now);
    h.commit(); // its archive lands: it does not come back as dead
    expect(h.state.dead.size).toBe(0);
    assertInvariants(h.state, h.now);
    expect(h.run('purgeDead', {})).toMatchObject({ ok: true, changed: false, value: { purged: 0 } });
  });
});
