/** A topic whose backlog a broker wrote into segments, for the tools' tests (inspect, doctor --topic, the dashboard). */
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { drive } from '../embedded-helpers.js';
import { SMALL } from '../core/segments/backlog-harness.js';

/** A topic `jobs` with 30 pending jobs of priority 0, 10 of priority 5 and 12 delayed ones, most in segments. */
export async function segmentedTopic(target: StorageDriver = createMemoryStore()): Promise<StorageDriver> {
  // Built in memory on a fake clock, then copied: a real store's I/O does not keep pace with a fake clock.
  const store = createMemoryStore();
  const clock = new FakeClock();
  const broker = new Broker({ store, clock, id: 'b1', backlog: SMALL, archiveWindowMs: 0 });
  await drive(clock, broker.push('jobs', Array.from({ length: 30 }, (_, i) => ({ id: `a${i}`, payload: i }))));
  await drive(clock, broker.push('jobs', Array.from({ length: 10 }, (_, i) => ({ id: `h${i}`, payload: i, priority: 5 }))));
  await drive(clock, broker.push('jobs', Array.from({ length: 12 }, (_, i) => ({ id: `d${i}`, payload: i, delayMs: 3_600_000 + i * 1000 }))));
  await drive(clock, broker.cancel('jobs', 'a20'));
  await drive(clock, broker.stop());
  if (target === store) return store;
  for (const key of await store.list('')) await target.write(key, (await store.read(key))!.body);
  return target;
}

