import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { createMemoryStore } from '../../src/storage/memory.js';

describe('broker events', () => {
  it('a throwing commit or leader listener does not leave a landed batch unanswered', async () => {
    const broker = new Broker({ store: createMemoryStore(), clock: new FakeClock() });
    broker.events.on('leader', () => {
      throw new Error('observer bug');
    });
    broker.events.on('commit', () => {
      throw new Error('observer bug');
    });
    const [pushed] = await broker.push('jobs', [{ id: 'a', payload: 1 }]);
    expect(pushed).toMatchObject({ id: 'a', created: true });
    expect((await broker.stats('jobs')).pending).toBe(1);
  });
});
