/**
 * The broker with a segmented backlog (docs/format.md, sections 4 and 5), with small head bounds:
 * segments are written create-only before the head that names them, claims stay FIFO across them
 * as the loop reads ahead, a new leader serves them (duplicates, cancels, gets), and a segment
 * write that fails, is ambiguous, or is followed by a failed head write loses and invents nothing.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { QueueError } from '../../src/errors.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { codeOf, controlled, drive, until } from '../embedded-helpers.js';
import { readManifest, readQueue } from './helpers.js';
import { SMALL } from '../core/segments/backlog-harness.js';
import { DEFAULT_LIMITS, type BacklogLimits } from '../../src/core/segments/manifest.js';
import { claimAll, ids, segmentKeys } from './segment-helpers.js';

interface Faults {
  /** Writes of segment objects fail (STORE_UNAVAILABLE, nothing lands). */
  failSegments: boolean;
  /** The next segment write lands, then reports STORE_AMBIGUOUS. */
  ambiguousSegment: boolean;
  /** Writes of queue.json fail (STORE_UNAVAILABLE, nothing lands). */
  failHead: boolean;
  segmentWrites: number;
  /** Ranged reads (a segment's fingerprints at a takeover). */
  rangeReads: number;
}

function faulty(inner: StorageDriver, f: Faults): StorageDriver {
  return {
    ...inner,
    name: inner.name,
    minWriteIntervalMs: inner.minWriteIntervalMs,
    async readRange(key, start, end) {
      f.rangeReads++;
      return inner.readRange!(key, start, end);
    },
    async write(key, body, cond) {
      if (key.startsWith('segments/')) {
        f.segmentWrites++;
        if (f.failSegments) throw new QueueError('STORE_UNAVAILABLE', 'injected segment write failure');
        const out = await inner.write(key, body, cond);
        if (f.ambiguousSegment) {
          f.ambiguousSegment = false;
          throw new QueueError('STORE_AMBIGUOUS', 'injected: landed, reported ambiguous');
        }
        return out;
      }
      if (key.endsWith('queue.json') && f.failHead) throw new QueueError('STORE_UNAVAILABLE', 'injected head write failure');
      return inner.write(key, body, cond);
    },
  };
}

function setup(id = 'b1', base = createMemoryStore(), clock = new FakeClock(), backlog: Partial<BacklogLimits> = SMALL) {
  const f: Faults = { failSegments: false, ambiguousSegment: false, failHead: false, segmentWrites: 0, rangeReads: 0 };
  const broker = new Broker({ store: faulty(base, f), clock, id, backlog, retry: { attempts: 2, baseMs: 1, maxMs: 1 } });
  return { base, clock, f, broker };
}

describe('the broker with segments', () => {
  it('writes the backlog beyond the head as segments named by queue.json, and serves it in FIFO order', async () => {
    const { base, clock, broker } = setup();
    await drive(clock, broker.push('jobs', ids('a', 40).map((id) => ({ id, payload: id }))));
    const q = await readQueue(base, 'jobs');
    expect(q.format).toBe(3);
    expect(q.jobs.length).toBeLessThan(40);
    expect((await readManifest(base, 'jobs')).ready.map((r) => r.key).sort()).toEqual(await segmentKeys(base));
    expect((await drive(clock, broker.stats('jobs'))).pending).toBe(40);
    expect(await claimAll(broker, clock, 40)).toEqual(ids('a', 40));
    await broker.stop();
  });

  it('with the default bounds, a backlog of thousands keeps a small head and comes out in FIFO order', async () => {
    const { base, clock, broker } = setup('b1', createMemoryStore(), new FakeClock(), DEFAULT_LIMITS);
    const all = ids('j', 6000);
    for (let i = 0; i < all.length; i += 2000) await drive(clock, broker.push('jobs', all.slice(i, i + 2000).map((id) => ({ id, payload: { n: id } }))));
    const q = await readQueue(base, 'jobs');
    expect(q.jobs.length).toBeLessThanOrEqual(DEFAULT_LIMITS.windowJobs + DEFAULT_LIMITS.tailSealJobs);
    expect(q.backlog.counts.pending).toBe(6000 - q.jobs.length);
    expect(await claimAll(broker, clock, 6000, 250)).toEqual(all);
    await broker.stop();
  });

  it('a new leader serves the segments: a duplicate push is refused, a cancel and a get reach into them', async () => {
    const first = setup('b1');
    await drive(first.clock, first.broker.push('jobs', ids('a', 30).map((id) => ({ id, payload: id }))));
    await first.broker.stop();
    const { clock, broker, f } = setup('b2', first.base, first.clock);
    const dup = await drive(clock, broker.push('jobs', [{ id: 'a25', payload: 'again' }, { id: 'new', payload: 'new' }]));
    expect(dup.map((o) => [o.id, o.created])).toEqual([
      ['a25', false],
      ['new', true],
    ]);
    expect(f.rangeReads).toBeGreaterThan(0); // the index came from the segments' fingerprint sections
    expect(await drive(clock, broker.get('jobs', 'a26'))).toMatchObject({ id: 'a26', state: 'pending', payload: 'a26' });
    expect(await drive(clock, broker.cancel('jobs', 'a27'))).toEqual({ id: 'a27', state: 'cancelled' });
    expect(await drive(clock, codeOf(broker.cancel('jobs', 'a27')))).toBe('FAILED_PRECONDITION');
    // The cancelled job finished like any other: a retried push of its id does not bring it back.
    expect((await drive(clock, broker.push('jobs', [{ id: 'a27', payload: 'again' }])))[0]).toMatchObject({ id: 'a27', created: false, state: 'cancelled' });
    expect(await claimAll(broker, clock, 30)).toEqual([...ids('a', 30).filter((id) => id !== 'a27'), 'new']);
    await broker.stop();
  });

  it('segments consumed by refill are deleted two leases later, and leave the garbage list', async () => {
    const { base, clock, broker } = setup();
    await drive(clock, broker.push('jobs', ids('a', 30).map((id) => ({ id, payload: id }))));
    const written = await segmentKeys(base);
    expect(written.length).toBeGreaterThan(0);
    expect(await claimAll(broker, clock, 30)).toEqual(ids('a', 30));
    expect((await readQueue(base, 'jobs')).backlog.garbage.length).toBe(written.length);
    await clock.advance(25_000); // past 2 × the 10 s lease (the idle leader renews meanwhile)
    await drive(clock, broker.push('jobs', [{ id: 'x', payload: 1 }])); // its batch deletes them
    await drive(clock, broker.push('jobs', [{ id: 'y', payload: 1 }])); // and this one drops them from the list
    expect(await segmentKeys(base)).toEqual([]);
    expect((await readQueue(base, 'jobs')).backlog.garbage).toEqual([]);
    await broker.stop();
  });

  it("a retried dead job sealed into a segment keeps its payload object when the dead record is archived", async () => {
    const clock = new FakeClock();
    const store = controlled(createMemoryStore());
    const broker = new Broker({ store, clock, id: 'b1', backlog: SMALL, payloadThreshold: 100 });
    const big = { big: 'x'.repeat(500) };
    await drive(clock, broker.push('jobs', [{ id: 'd', payload: big, maxAttempts: 1 }]));
    store.holdArchives = true; // the dead record waits in queue.json's done list
    const [d] = await drive(clock, broker.claim('jobs', { workerId: 'w' }));
    await drive(clock, broker.nack('jobs', { id: 'd', workerId: 'w', lease: d!.lease, error: 'boom' }));
    await drive(clock, broker.push('jobs', ids('f', 6).map((id) => ({ id, payload: id })))); // the window is full
    await drive(clock, broker.retry('jobs', 'd')); // same payload object, into a tail
    await drive(clock, broker.push('jobs', ids('g', 4).map((id) => ({ id, payload: id })))); // the tail is sealed
    expect(JSON.parse((await store.read('topics/jobs/queue.json'))!.body.toString()).jobs.map((j: { id: string }) => j.id)).not.toContain('d');
    store.holdArchives = false; // the dead record is archived: its payload object must stay
    await drive(clock, clock.sleep(1000));
    expect((await store.list('archive/jobs/')).length).toBeGreaterThan(0);
    const got: Array<{ id: string; payload?: unknown }> = [];
    for (let i = 0; i < 50 && got.length < 11; i++) {
      got.push(...(await drive(clock, broker.claim('jobs', { workerId: 'w', max: 4 }))));
      await drive(clock, clock.sleep(5));
    }
    expect(got.find((j) => j.id === 'd')?.payload).toEqual(big);
    await broker.stop();
  });

  it('a job delayed in a segment is handed to a parked claim at its due time (the segment is read ahead on a timer)', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    // A long lease: its renewals (every 20 s) fall far from the due time, so only the read-ahead timer can bring the job in.
    const broker = new Broker({ store, clock, id: 'b1', backlog: SMALL, leaseMs: 60_000 });
    await drive(clock, broker.push('jobs', ids('d', 8).map((id) => ({ id, payload: id, delayMs: 25_000 }))));
    const q = await readQueue(store, 'jobs');
    expect(q.backlog.delayed.length).toBeGreaterThan(0);
    expect(q.jobs.filter((j: { state: string }) => j.state === 'delayed')).toEqual([]);
    const due = (await readManifest(store, 'jobs')).delayed[0]!.next[0];
    let answeredAt: number | undefined;
    const claim = broker.claim('jobs', { workerId: 'w', max: 1, waitMs: 30_000 }).then((jobs) => {
      answeredAt = clock.now();
      return jobs;
    });
    await until(clock, () => answeredAt !== undefined, 50, 1000);
    expect((await claim).map((j) => j.id)).toEqual(['d0']);
    expect(answeredAt! - due).toBeGreaterThanOrEqual(0);
    expect(answeredAt! - due).toBeLessThan(200);
    await broker.stop();
  });

  it('a segment write that fails fails the batch: nothing is acknowledged, queue.json is untouched, a retry works', async () => {
    const { base, clock, f, broker } = setup();
    await drive(clock, broker.push('jobs', [{ id: 'x', payload: 1 }]));
    const before = await readQueue(base, 'jobs');
    f.failSegments = true;
    expect(await drive(clock, codeOf(broker.push('jobs', ids('a', 30).map((id) => ({ id, payload: id })))))).toBe('UNAVAILABLE');
    expect((await readQueue(base, 'jobs')).seq).toBe(before.seq);
    f.failSegments = false;
    await drive(clock, broker.push('jobs', ids('a', 30).map((id) => ({ id, payload: id }))));
    expect(await claimAll(broker, clock, 31)).toEqual(['x', ...ids('a', 30)]);
    await broker.stop();
  });

  it('an ambiguous segment write is written again under the same name; its conflict says it landed', async () => {
    const { clock, f, broker } = setup();
    f.ambiguousSegment = true;
    await drive(clock, broker.push('jobs', ids('a', 30).map((id) => ({ id, payload: id }))));
    expect(f.ambiguousSegment).toBe(false);
    expect(await claimAll(broker, clock, 30)).toEqual(ids('a', 30));
    await broker.stop();
  });

  it('a leader that wrote segments but not the head leaves orphans nobody reads; the next leader serves what landed and deletes them', async () => {
    const first = setup('b1');
    await drive(first.clock, first.broker.push('jobs', [{ id: 'x', payload: 1 }]));
    first.f.failHead = true;
    expect(await drive(first.clock, codeOf(first.broker.push('jobs', ids('lost', 30).map((id) => ({ id, payload: id })))))).toBe('UNAVAILABLE');
    expect((await segmentKeys(first.base)).length).toBeGreaterThan(0); // the orphans
    await first.clock.advance(60_000); // b1 is as good as dead: its lease runs out
    const { clock, broker } = setup('b2', first.base, first.clock);
    expect(await claimAll(broker, clock, 2)).toEqual(['x']);
    expect((await drive(clock, broker.stats('jobs'))).pending).toBe(0);
    // The orphans are found at b2's first listing and deleted at a listing two leases or more later.
    await clock.advance(11 * 60_000);
    await drive(clock, broker.push('jobs', [{ id: 'y', payload: 1 }]));
    await drive(clock, clock.sleep(10));
    expect(await segmentKeys(first.base)).toEqual([]);
    await broker.stop();
  });
});
