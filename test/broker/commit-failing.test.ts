/**
 * A store that answers reads but refuses writes (a read-only filesystem, a full disk): the broker
 * knows it cannot commit (Broker#topicTroubles, which /readyz reads) from the failed commit or
 * lease renewal on, idle or not, and forgets it at the next commit that lands. The failing writes
 * come from the `faulty` decorator, applied to writes only; the memory store and a fake clock.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { drive } from '../embedded-helpers.js';
import { codeOf, writeRefusingStore } from './helpers.js';

const LEASE_MS = 3000;

describe('a broker whose store refuses writes', () => {
  it('an idle leader finds out at its next lease renewal, and forgets it at the first renewal that lands', async () => {
    const clock = new FakeClock();
    const store = writeRefusingStore();
    const b = new Broker({ store, clock, id: 'A', leaseMs: LEASE_MS, retry: { attempts: 3, baseMs: 5, maxMs: 5 } });
    await b.push('jobs', [{ id: 'j1', payload: 1 }]);
    expect(b.topicTroubles()).toEqual([]);

    store.refusing = true;
    await clock.advance(LEASE_MS / 3 + 100); // the renewal: no request at all
    const [trouble] = b.topicTroubles();
    expect(trouble).toMatchObject({ topic: 'jobs', trouble: 'commit-failing', error: { code: 'UNAVAILABLE', message: expect.stringMatching(/Injected failure: write topics\/jobs\/queue\.json/) } });
    await clock.advance(LEASE_MS / 3); // the renewal is tried again: still failing, still reported
    expect(b.topicTroubles()).toMatchObject([{ trouble: 'commit-failing', since: trouble!.since }]);

    store.refusing = false;
    await clock.advance(LEASE_MS / 3 + 100); // no request: the retried renewal lands
    expect(b.topicTroubles()).toEqual([]);
    expect(await codeOf(b.push('jobs', [{ id: 'j2', payload: 2 }]))).toBe('ok');
  });

  it('a failed push is reported until a later commit lands', async () => {
    const clock = new FakeClock();
    const store = writeRefusingStore();
    const b = new Broker({ store, clock, id: 'A', leaseMs: 60_000, retry: { attempts: 2, baseMs: 5, maxMs: 5 } });
    await b.push('jobs', [{ id: 'j1', payload: 1 }]);
    store.refusing = true;
    expect(await drive(clock, codeOf(b.push('jobs', [{ id: 'j2', payload: 2 }])))).toBe('UNAVAILABLE');
    expect(b.topicTroubles()).toMatchObject([{ topic: 'jobs', trouble: 'commit-failing' }]);
    expect(await drive(clock, codeOf(b.stats('jobs')))).toBe('ok'); // reads still work, and change nothing here
    expect(b.topicTroubles()).toHaveLength(1);
    store.refusing = false;
    expect(await drive(clock, codeOf(b.push('jobs', [{ id: 'j2', payload: 2 }])))).toBe('ok');
    expect(b.topicTroubles()).toEqual([]);
  });
});
