/**
 * A segment the head names that the store lacks, or that fails its checksum (docs/format.md, "A
 * missing segment"): an incident, like a vanished queue.json, not a retry loop of internal errors.
 * The leader reports it once ('segment-lost'), lists it in topicTroubles (readiness, metrics) and
 * topicLeases (GET /v1/broker, the dashboard), and serves what strict priority-then-FIFO order
 * allows: the jobs ahead of the lost segment, higher priorities, other topics. Its jobs, and every
 * claim behind them, wait: nothing is skipped or re-created. Restoring the object ends it.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { decodeSegmentMeta } from '../../src/core/segments/segment-codec.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { codeOf, drive } from '../embedded-helpers.js';
import { SMALL } from '../core/segments/backlog-harness.js';
import { readManifest, readQueue } from './helpers.js';

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

function start(store: StorageDriver, clock: FakeClock, id = 'b1') {
  const broker = new Broker({ store, clock, id, backlog: SMALL, leaseMs: 3000, archiveWindowMs: 0, retry: { attempts: 2, baseMs: 1, maxMs: 1 } });
  const lost: Array<{ topic: string; key: string; error: { code: string; message: string } }> = [];
  const internal: string[] = [];
  broker.events.on('segment-lost', (e) => lost.push(e));
  broker.events.on('internal-error', (e) => internal.push(e.op));
  return { broker, lost, internal };
}

/** Claims (acked at once) until nothing comes for a while. */
async function claimAll(broker: Broker, clock: FakeClock, topic = 'jobs'): Promise<string[]> {
  const got: string[] = [];
  for (let idle = 0; idle < 40; ) {
    const jobs = await drive(clock, broker.claim(topic, { workerId: 'w', max: 3 }));
    if (jobs.length === 0) {
      idle++;
      await drive(clock, clock.sleep(50)); // read-aheads land (or fail) meanwhile
      continue;
    }
    await drive(clock, Promise.all(jobs.map((j) => broker.ack(topic, { id: j.id, workerId: 'w', lease: j.lease }))));
    got.push(...jobs.map((j) => j.id));
  }
  return got;
}

/** 30 jobs of priority 0 (mostly in segments) and 3 of priority 9; the second segment of priority 0, its ids and bytes. */
async function topicWithSegments(store: StorageDriver, clock: FakeClock, broker: Broker) {
  await drive(clock, broker.push('jobs', ids('a', 30).map((id) => ({ id, payload: id }))));
  await drive(clock, broker.push('jobs', ids('h', 3).map((id) => ({ id, payload: id, priority: 9 }))));
  const chain = (await readManifest(store, 'jobs')).ready.filter((r) => r.priority === 0);
  expect(chain.length).toBeGreaterThan(2);
  const key: string = chain[1]!.key;
  const bytes = (await store.read(key))!.body;
  return { key, bytes, ids: decodeSegmentMeta(bytes, key).ids };
}

describe('a segment the head names is missing', () => {
  it('is an incident: reported once, served up to it in order, nothing skipped; restoring the object ends it', async () => {
    const store = createMemoryStore();
    const clock = new FakeClock();
    const { broker, lost, internal } = start(store, clock);
    const seg = await topicWithSegments(store, clock, broker);
    await drive(clock, broker.push('other', [{ id: 'o1', payload: 1 }]));
    await store.delete(seg.key);

    const ahead = ids('a', 30).slice(0, ids('a', 30).indexOf(seg.ids[0]!));
    expect(await claimAll(broker, clock)).toEqual(['h0', 'h1', 'h2', ...ahead]);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ topic: 'jobs', key: seg.key, error: { code: 'CORRUPT_STATE' } });
    expect(lost[0]!.error.message).toBe(`topic jobs: segment ${seg.key} named by the head is missing from the store; its jobs are not served until it is restored (bucketq doctor --topic jobs)`);
    expect(internal.filter((op) => op.includes(seg.key))).toEqual([]); // one incident, not an error a second
    expect(broker.topicTroubles()).toMatchObject([{ topic: 'jobs', trouble: 'segment-lost', error: { code: 'CORRUPT_STATE' } }]);
    expect(broker.topicLeases().find((t) => t.topic === 'jobs')).toMatchObject({ leading: true, segmentLost: { key: seg.key, code: 'CORRUPT_STATE' } });
    // The jobs waiting in and behind it are still counted; another topic is served.
    expect((await drive(clock, broker.stats('jobs'))).pending).toBe(30 - ahead.length);
    expect((await claimAll(broker, clock, 'other'))).toEqual(['o1']);
    expect(broker.topicTroubles().map((t) => t.topic)).toEqual(['jobs']);

    await store.write(seg.key, seg.bytes); // the operator restores it from a backup
    await drive(clock, clock.sleep(2000)); // the next read-ahead (a renewal batch) reads it
    expect(await claimAll(broker, clock)).toEqual(ids('a', 30).slice(ahead.length));
    expect(broker.topicTroubles()).toEqual([]);
    expect(broker.topicLeases().find((t) => t.topic === 'jobs')?.segmentLost).toBeUndefined();
    expect(lost).toHaveLength(1);
    await broker.stop();
  });

  it('one that fails its checksum is reported the same way (and read-ahead does not crash on it)', async () => {
    const store = createMemoryStore();
    const clock = new FakeClock();
    const { broker, lost } = start(store, clock);
    const seg = await topicWithSegments(store, clock, broker);
    const bent = Buffer.from(seg.bytes);
    bent[bent.length - 10] = bent[bent.length - 10]! ^ 0xff;
    await store.write(seg.key, bent);
    const ahead = ids('a', 30).slice(0, ids('a', 30).indexOf(seg.ids[0]!));
    expect(await claimAll(broker, clock)).toEqual(['h0', 'h1', 'h2', ...ahead]);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.error.message).toMatch(new RegExp(`^${seg.key}: record \\d+ checksum mismatch; bucketq refuses to use it$`));
    expect(broker.topicTroubles()).toMatchObject([{ topic: 'jobs', trouble: 'segment-lost' }]);
    await broker.stop();
  });

  it('a new leader that cannot build its id index says why: pushes of ids fail naming the segment, claims ahead of it work', async () => {
    const store = createMemoryStore();
    const clock = new FakeClock();
    const first = start(store, clock, 'b1');
    const seg = await topicWithSegments(store, clock, first.broker);
    await drive(clock, first.broker.stop());
    await store.delete(seg.key);

    const { broker, lost } = start(store, clock, 'b2');
    const err = await drive(clock, broker.push('jobs', [{ id: 'new', payload: 1 }]).catch((e: unknown) => e));
    expect(await codeOf(Promise.reject(err))).toBe('CORRUPT_STATE'); // it cannot tell whether `new` waits in the lost segment
    expect((err as Error).message).toContain(seg.key);
    expect(lost.map((l) => l.key)).toEqual([seg.key]);
    const ahead = ids('a', 30).slice(0, ids('a', 30).indexOf(seg.ids[0]!));
    expect(await claimAll(broker, clock)).toEqual(['h0', 'h1', 'h2', ...ahead]);
    expect(broker.topicTroubles()).toMatchObject([{ topic: 'jobs', trouble: 'segment-lost' }]);
    await broker.stop();
  });
});
