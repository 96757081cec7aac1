import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { drive } from '../embedded-helpers.js';

describe('stopping a waiting standby', () => {
  it("a 'wait' standby that stops while the leader is alive settles every request it was holding", async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const a = new Broker({ store, clock, id: 'A', leaseMs: 1000 });
    const b = new Broker({ store, clock, id: 'B', leaseMs: 1000, standby: 'wait' });
    await a.push('jobs', [{ id: 'by-a', payload: 1 }]); // A leads and keeps renewing
    let outcome = 'pending';
    b.push('jobs', [{ id: 'by-b', payload: 2 }]).then(
      () => (outcome = 'ok'),
      (err: { code?: string }) => (outcome = err.code ?? 'error'),
    );
    await clock.advance(10); // B read the object and holds the push until A's lease is stale
    expect(outcome).toBe('pending');
    await drive(clock, b.loop('jobs').stop());
    await clock.advance(5000);
    expect(outcome).toBe('CLOSED');
    await drive(clock, a.stop());
  });
});
