import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { QueueError } from '../../src/errors.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { codeOf, drive } from '../embedded-helpers.js';

/** A memory store whose next `failPayloadReads` reads of payload objects fail as if the store were down. */
function payloadReadsFailing(): StorageDriver & { failPayloadReads: number } {
  const base = createMemoryStore();
  const store: StorageDriver & { failPayloadReads: number } = {
    ...base,
    name: base.name,
    minWriteIntervalMs: base.minWriteIntervalMs,
    failPayloadReads: 0,
    async read(key) {
      if (key.startsWith('payloads/') && store.failPayloadReads > 0) {
        store.failPayloadReads--;
        throw new QueueError('STORE_UNAVAILABLE', 'injected: did not take effect');
      }
      return base.read(key);
    },
  };
  return store;
}

describe('a claim whose payload object read fails transiently', () => {
  it('retries the read instead of failing a claim that already landed (which would burn the attempt and hide the job for a lease)', async () => {
    const clock = new FakeClock();
    const store = payloadReadsFailing();
    const broker = new Broker({ store, clock, id: 'b1', payloadThreshold: 100 });
    const big = { big: 'x'.repeat(500) };
    await broker.push('jobs', [{ id: 'j', payload: big, maxAttempts: 1 }]);
    store.failPayloadReads = 1;
    const claim = broker.claim('jobs', { workerId: 'w', leaseMs: 60_000 });
    const code = await drive(clock, codeOf(claim));
    expect(code).toBe('ok');
    expect(await claim).toMatchObject([{ id: 'j', payload: big }]);
    await drive(clock, broker.stop());
  });

  it('when the payload stays unreadable, the claim fails with UNAVAILABLE and the job is handed back untouched', async () => {
    const clock = new FakeClock();
    const store = payloadReadsFailing();
    const broker = new Broker({ store, clock, id: 'b1', payloadThreshold: 100, retry: { attempts: 3, baseMs: 1, maxMs: 1 } });
    const big = { big: 'x'.repeat(500) };
    await broker.push('jobs', [{ id: 'j', payload: big, maxAttempts: 1 }]);
    store.failPayloadReads = 3;
    expect(await drive(clock, codeOf(broker.claim('jobs', { workerId: 'w', leaseMs: 60_000 })))).toBe('UNAVAILABLE');
    await drive(clock, broker.flush());
    expect(await broker.stats('jobs')).toMatchObject({ pending: 1, claimed: 0 });
    const [job] = await drive(clock, broker.claim('jobs', { workerId: 'w2' }));
    expect(job).toMatchObject({ id: 'j', attempt: 1, payload: big });
    await drive(clock, broker.stop());
  });
});
