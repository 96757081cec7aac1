import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { QueueError } from '../../src/errors.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { drive } from '../embedded-helpers.js';
import { readQueue } from './helpers.js';

/** Archive writes fail (without effect) unless `allow(key)` says otherwise. */
function gatedArchives(inner: StorageDriver, allow: (key: string) => boolean): StorageDriver {
  return {
    ...inner,
    name: inner.name,
    minWriteIntervalMs: inner.minWriteIntervalMs,
    async write(key, body, cond) {
      if (key.startsWith('archive/') && !allow(key)) throw new QueueError('STORE_UNAVAILABLE', `gated: ${key}`);
      return inner.write(key, body, cond);
    },
  };
}

describe('payload objects of finished jobs', () => {
  it('keeps a payload object while a finished, not yet archived record still points at it', async () => {
    const clock = new FakeClock();
    const base = createMemoryStore();
    let allow: (key: string) => boolean = () => false;
    const store = gatedArchives(base, (k) => allow(k));
    const broker = new Broker({ store, clock, id: 'b1', payloadThreshold: 100, retry: { attempts: 1 } });
    const big = { big: 'x'.repeat(500) };
    await broker.push('jobs', [{ id: 'd', payload: big, maxAttempts: 1 }]);
    // First life: dies. Its archive cannot be written yet, so it waits in `done`.
    let [job] = await broker.claim('jobs', { workerId: 'w' });
    await broker.nack('jobs', { id: 'd', workerId: 'w', lease: job!.lease, error: 'first' });
    await drive(clock, broker.flush());
    const firstArchive = (await readQueue(base, 'jobs')).done[0].archive as string;
    // Retried from `done`: the new live job points at the same payload object. It dies again.
    await broker.retry('jobs', 'd');
    [job] = await broker.claim('jobs', { workerId: 'w' });
    expect(job!.payload).toEqual(big);
    await broker.nack('jobs', { id: 'd', workerId: 'w', lease: job!.lease, error: 'second' });
    await drive(clock, broker.flush());
    // The first archive can now be written; the second still cannot.
    allow = (k) => k === firstArchive;
    await broker.push('jobs', [{ id: 'nudge', payload: 1 }]); // any commit reschedules archiving
    await drive(clock, broker.flush());
    const q = await readQueue(base, 'jobs');
    expect(q.done.map((j: { id: string }) => j.id)).toEqual(['d']);
    const ref = q.done[0].payloadRef as string;
    expect(await base.read(`payloads/jobs/${ref}.json`)).not.toBeNull();
    // Once every archive can be written, the second record is archived with its payload.
    allow = () => true;
    await broker.push('jobs', [{ id: 'nudge2', payload: 2 }]);
    await drive(clock, broker.flush());
    expect((await readQueue(base, 'jobs')).done).toEqual([]);
    const dead = await broker.get('jobs', 'd');
    expect(dead).toMatchObject({ state: 'dead', lastError: 'second', payload: big });
    expect(await base.list('payloads/jobs/')).toEqual([]);
    await drive(clock, broker.stop());
  });
});
