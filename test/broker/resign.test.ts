import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { withFaults } from '../../src/storage/faulty.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { codeOf, drive } from '../embedded-helpers.js';
import { readQueue } from './helpers.js';

describe('giving the lease up on stop', () => {
  it('a request that arrives while the resign (the lease given up) is being written does not take the lease back', async () => {
    const clock = new FakeClock();
    const base = createMemoryStore();
    const slow = withFaults(base, { latency: 50 }, () => 0.5, (ms) => clock.sleep(ms));
    const a = new Broker({ store: slow, clock, id: 'A', leaseMs: 10_000 });
    const b = new Broker({ store: base, clock, id: 'B', leaseMs: 10_000 });
    await drive(clock, a.push('jobs', [{ id: 'one', payload: 1 }]));
    const stopping = a.loop('jobs').stop(); // nothing queued: the resign is submitted at once
    await clock.advance(10); // the resign write is in flight
    const late = a.push('jobs', [{ id: 'late', payload: 2 }]);
    await drive(clock, stopping);
    expect(await codeOf(late)).toBe('ok'); // it was committed while draining
    expect((await readQueue(base, 'jobs')).broker).toMatchObject({ id: 'A', leaseUntil: 0 });
    // So a standby takes over at once, not a whole lease later.
    expect(await codeOf(b.push('jobs', [{ id: 'by-b', payload: 3 }]))).toBe('ok');
    expect((await readQueue(base, 'jobs')).broker).toMatchObject({ id: 'B', epoch: 2 });
  });
});
