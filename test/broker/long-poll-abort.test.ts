import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { withFaults } from '../../src/storage/faulty.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { drive } from '../embedded-helpers.js';

describe('long-poll abort while its batch is being written', () => {
  it('a claim aborted while its (empty) batch is in flight is rejected at once, not parked until its deadline', async () => {
    const clock = new FakeClock();
    const store = withFaults(createMemoryStore(), { latency: 50 }, () => 0.5, (ms) => clock.sleep(ms));
    const broker = new Broker({ store, clock, id: 'b1' });
    const ac = new AbortController();
    // The first batch elects this broker: a write that takes 50 ms. The claim finds nothing.
    const waiting = broker.claim('jobs', { workerId: 'w', waitMs: 30_000 }, ac.signal);
    let outcome = 'pending';
    waiting.then(
      () => (outcome = 'resolved'),
      (err: { code?: string }) => (outcome = err.code ?? 'error'),
    );
    await clock.advance(10); // the write is in flight
    ac.abort();
    await clock.advance(200); // the write lands, the batch settles
    expect(outcome).toBe('CLOSED');
    await drive(clock, broker.stop());
  });
});
