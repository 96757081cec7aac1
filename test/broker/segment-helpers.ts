/** Helpers of the broker tests with a segmented backlog (segments.test.ts, segment-faults.test.ts). */
import type { Broker } from '../../src/broker/broker.js';
import type { FakeClock } from '../../src/clock.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { drive } from '../embedded-helpers.js';

export const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Claims (acked, one batch per claim) until `n` jobs came or nothing comes for a while. */
export async function claimAll(broker: Broker, clock: FakeClock, n: number, max = 3, topic = 'jobs'): Promise<string[]> {
  const got: string[] = [];
  for (let idle = 0; got.length < n && idle < 50; ) {
    const jobs = await drive(clock, broker.claim(topic, { workerId: 'w', max }));
    if (jobs.length === 0) {
      idle++;
      await drive(clock, clock.sleep(5)); // the read ahead lands meanwhile
      continue;
    }
    await drive(clock, Promise.all(jobs.map((j) => broker.ack(topic, { id: j.id, workerId: 'w', lease: j.lease })))); // one batch
    got.push(...jobs.map((j) => j.id));
  }
  return got;
}

/** The segment objects of `topic` in the store, sorted. */
export const segmentKeys = async (store: StorageDriver, topic = 'jobs'): Promise<string[]> => (await store.list(`segments/${topic}/`)).sort();
