import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { withFaults } from '../../src/storage/faulty.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { drive } from '../embedded-helpers.js';
import { keepAliveClock } from './helpers.js';

describe('timers that keep the process alive', () => {
  it('a stopped broker leaves no keep-alive timer behind for a long poll it answered', async () => {
    const { fake, clock, alive } = keepAliveClock();
    const broker = new Broker({ store: createMemoryStore(), clock, id: 'b1' });
    await broker.stats('jobs');
    const waiting = broker.claim('jobs', { workerId: 'w', waitMs: 30_000 });
    await fake.advance(10);
    await drive(fake, broker.stop());
    expect(await waiting).toEqual([]);
    expect(alive.size).toBe(0);
  });

  it('once its last long poll is answered, the topic keeps no keep-alive timer for a far-off delayed job', async () => {
    const { fake, clock, alive } = keepAliveClock();
    const broker = new Broker({ store: createMemoryStore(), clock, id: 'b1' });
    await broker.push('jobs', [{ id: 'later', payload: 1, delayMs: 3_600_000 }]);
    const waiting = broker.claim('jobs', { workerId: 'w', waitMs: 1000 });
    await fake.advance(1000);
    expect(await waiting).toEqual([]);
    expect(alive.size).toBe(0);
  });

  it('a long poll answered with a job leaves no keep-alive timer until its deadline', async () => {
    const { fake, clock, alive } = keepAliveClock();
    const broker = new Broker({ store: createMemoryStore(), clock, id: 'b1' });
    await broker.stats('jobs');
    const waiting = broker.claim('jobs', { workerId: 'w', waitMs: 30_000 });
    await fake.advance(10);
    await broker.push('jobs', [{ id: 'now', payload: 1 }]);
    expect((await waiting).map((j) => j.id)).toEqual(['now']);
    expect(alive.size).toBe(0);
  });

  it('a long poll that arrives while the loop is stopping is answered when it stops, not at its deadline', async () => {
    const { fake, clock, alive } = keepAliveClock();
    const store = withFaults(createMemoryStore(), { latency: 50 }, () => 0.5, (ms) => fake.sleep(ms));
    const broker = new Broker({ store, clock, id: 'b1' });
    await drive(fake, broker.stats('jobs'));
    const pushing = broker.push('jobs', [{ id: 'x', payload: 1, delayMs: 60_000 }]);
    await fake.advance(10); // its write is in flight
    const stopping = broker.loop('jobs').stop();
    let outcome = 'pending';
    broker.claim('jobs', { workerId: 'w', waitMs: 30_000 }).then((jobs) => (outcome = `resolved ${jobs.length}`), (err: { code?: string }) => (outcome = err.code ?? 'error'));
    await drive(fake, stopping);
    await drive(fake, pushing);
    expect(outcome).toBe('resolved 0');
    expect(alive.size).toBe(0);
  });
});
