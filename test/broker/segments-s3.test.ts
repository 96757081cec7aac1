/**
 * A segmented backlog on a real S3 server (the run's radosgw, or BUCKETQ_TEST_S3_URL): the
 * storage calls segments add to a topic's, which test/broker/segments.test.ts runs on the memory
 * store, against a server's own semantics: segment objects written create-only (If-None-Match)
 * before the head that names them, ranged reads of their fingerprint sections at a takeover and of
 * single records for a get, listing the segment prefix, and deleting consumed segments.
 *
 * The clock is fake and never driven past a lease unless the test says so, so nothing expires while
 * the real I/O runs; claims long-poll (their deadline is on the fake clock), so a claim that waits
 * for a segment's read-ahead is answered by its arrival, not by a sleep.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { openStore } from '../../src/storage/open.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { SMALL } from '../core/segments/backlog-harness.js';
import { s3Target } from '../servers/s3-target.js';
import { readManifest } from './helpers.js';

const target = await s3Target();
if (!target.ready) console.warn(`segments on S3 skipped: ${target.reason}`);

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const segmentKeys = async (store: StorageDriver) => (await store.list('segments/jobs/')).sort();

/** Counts the calls segments make, and remembers the condition each segment write carried. */
function watched(inner: StorageDriver) {
  const seen = { rangeReads: 0, segmentWrites: [] as Array<string | undefined>, segmentDeletes: 0 };
  const store: StorageDriver = {
    ...inner,
    name: inner.name,
    minWriteIntervalMs: inner.minWriteIntervalMs,
    read: (key) => inner.read(key),
    list: (prefix) => inner.list(prefix),
    close: () => inner.close(),
    readRange: async (key, start, end) => {
      seen.rangeReads++;
      return inner.readRange!(key, start, end);
    },
    write: async (key, body, condition) => {
      if (key.startsWith('segments/')) seen.segmentWrites.push(condition === undefined ? undefined : JSON.stringify(condition));
      return inner.write(key, body, condition);
    },
    delete: async (key) => {
      if (key.startsWith('segments/')) seen.segmentDeletes++;
      return inner.delete(key);
    },
  };
  return { store, seen };
}

describe.skipIf(!target.ready)('segments on S3', () => {
  const opened: StorageDriver[] = [];
  const brokers: Broker[] = [];
  afterAll(async () => {
    await Promise.allSettled(brokers.map((b) => b.stop()));
    for (const s of opened) {
      for (const key of await s.list('')) await s.delete(key);
      await s.close();
    }
  });

  /** Claims `n` jobs one batch at a time, acking each batch; every claim long-polls. */
  async function claimAll(broker: Broker, n: number): Promise<string[]> {
    const got: string[] = [];
    while (got.length < n) {
      const jobs = await broker.claim('jobs', { workerId: 'w', max: 4, waitMs: 30_000 });
      await Promise.all(jobs.map((j) => broker.ack('jobs', { id: j.id, workerId: 'w', lease: j.lease })));
      got.push(...jobs.map((j) => j.id));
    }
    return got;
  }

  it('written create-only before the head, read by range by a new leader, served in FIFO order, deleted two leases after consumption', async () => {
    if (!target.ready) return;
    const base = await openStore(target.freshUrl('segments'));
    opened.push(base);
    const clock = new FakeClock();

    const first = watched(base);
    const b1 = new Broker({ store: first.store, clock, id: 'b1', backlog: SMALL });
    brokers.push(b1);
    await b1.push('jobs', ids('a', 30).map((id) => ({ id, payload: { id } })));
    const written = await segmentKeys(base);
    expect(written.length).toBeGreaterThan(0);
    expect(first.seen.segmentWrites.length).toBe(written.length);
    expect(new Set(first.seen.segmentWrites)).toEqual(new Set([JSON.stringify({ ifNoneMatch: '*' })])); // create-only, never a blind overwrite
    expect((await readManifest(base, 'jobs')).ready.map((r) => r.key).sort()).toEqual(written);
    await b1.stop();

    // A new leader on the same prefix: its id index comes from ranged reads of the segments.
    const second = watched(base);
    const b2 = new Broker({ store: second.store, clock, id: 'b2', backlog: SMALL });
    brokers.push(b2);
    const dup = await b2.push('jobs', [{ id: 'a25', payload: 'again' }, { id: 'new', payload: 'new' }]);
    expect(dup.map((o) => [o.id, o.created])).toEqual([
      ['a25', false],
      ['new', true],
    ]);
    expect(second.seen.rangeReads).toBeGreaterThan(0);
    expect(await b2.get('jobs', 'a26')).toMatchObject({ id: 'a26', state: 'pending', payload: { id: 'a26' } });
    expect(await b2.cancel('jobs', 'a27')).toEqual({ id: 'a27', state: 'cancelled' });
    expect(await claimAll(b2, 30)).toEqual([...ids('a', 30).filter((id) => id !== 'a27'), 'new']);

    // Consumed segments wait two leases in the garbage list, then a batch deletes them.
    const garbage = (await readManifest(base, 'jobs')).garbage.length;
    expect(garbage).toBeGreaterThan(0);
    await clock.advance(25_000); // past 2 × the 10 s lease (the idle leader renews meanwhile)
    await b2.push('jobs', [{ id: 'x', payload: 1 }]);
    await vi.waitFor(async () => expect(await segmentKeys(base)).toEqual([]), { timeout: 20_000, interval: 100 });
    expect(second.seen.segmentDeletes).toBeGreaterThanOrEqual(written.length);
    await b2.push('jobs', [{ id: 'y', payload: 1 }]); // this commit drops them from the list
    expect((await readManifest(base, 'jobs')).garbage).toEqual([]);
    await b2.stop();
  });
});
