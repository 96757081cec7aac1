/**
 * `bucketq doctor --topic` and `bucketq inspect`'s backlog, on a topic whose backlog a broker wrote
 * into segments (small head bounds): every named segment is read and decoded, a missing or
 * corrupt one is a problem, segments no head names are orphans (or of a commit in flight), and the
 * manifest's counts add up. The CLI as a user meets it is test/cli/segments.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { segmentedTopic } from './segmented-topic.js';
import { segmentKey } from '../../src/core/segments/segment-keys.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { runTopicDoctor } from '../../src/storage/topic-doctor.js';
import { drive } from '../embedded-helpers.js';

describe('runTopicDoctor', () => {
  it('reads every segment the head names: all there, counts add up, no orphans', async () => {
    const store = await segmentedTopic();
    const r = await runTopicDoctor(store, 'jobs');
    expect(r.ok).toBe(true);
    expect(r.problems).toEqual([]);
    expect(r.head).toMatchObject({ key: 'topics/jobs/queue.json', format: 3, epoch: 1 });
    expect(r.segments.length).toBeGreaterThan(2);
    expect(r.segments.every((s) => s.status === 'ok')).toBe(true);
    expect(r.segments.some((s) => s.kind === 'delayed')).toBe(true);
    expect(r.unnamed).toEqual([]);
    const b = r.backlog!;
    expect(b.priorities.map((p) => p.priority)).toEqual([5, 0]);
    const pending = b.priorities.reduce((n, p) => n + p.window + p.tail + p.inSegments, 0);
    expect(pending).toBe(39); // 30 + 10, one cancelled
    expect(b.delayed.inHead + b.delayed.inSegments).toBe(12);
    expect(b.tombstones).toBe(1);
  });

  it('a named segment missing or failing its checksum is a problem, in one line each', async () => {
    const store = await segmentedTopic();
    const first = (await runTopicDoctor(store, 'jobs')).segments;
    const gone = first.find((s) => s.kind === 'ready')!;
    const bent = first.find((s) => s.kind === 'delayed')!;
    await store.delete(gone.key);
    const bytes = Buffer.from((await store.read(bent.key))!.body);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff; // a record byte: only the checksum notices
    await store.write(bent.key, bytes);
    const r = await runTopicDoctor(store, 'jobs');
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      `topic jobs: segment ${gone.key} (ready, priority ${gone.priority}, ${gone.live} jobs waiting) is named by the head but missing from the store`,
      `topic jobs: segment ${bent.key} (delayed, ${bent.live} jobs waiting) is named by the head but does not decode: record 4 checksum mismatch`,
    ]);
    expect(r.segments.find((s) => s.key === gone.key)?.status).toBe('missing');
    expect(r.segments.find((s) => s.key === bent.key)?.status).toBe('corrupt');
  });

  it('lists segments no head names: orphans with how many commits ago, and those of a commit newer than the head', async () => {
    const store = await segmentedTopic();
    const r0 = await runTopicDoctor(store, 'jobs');
    const orphan = segmentKey('jobs', { epoch: 1, seq: 2, nonce: 'deadbeef' }, 0);
    const newer = segmentKey('jobs', { epoch: 1, seq: r0.head.seq + 1, nonce: 'cafef00d' }, 0);
    await store.write(orphan, 'x');
    await store.write(newer, 'y');
    await store.write('segments/jobs/not-a-segment.txt', 'z');
    const r = await runTopicDoctor(store, 'jobs');
    expect(r.ok).toBe(true); // orphans are normal for a while: the leader deletes them
    expect(r.unnamed).toEqual([
      { key: orphan, epoch: 1, seq: 2, kind: 'orphan', commitsBehind: r0.head.seq - 2 },
      { key: newer, epoch: 1, seq: r0.head.seq + 1, kind: 'pending', commitsBehind: 0 },
    ]);
  });

  it('a small topic (an empty manifest) has no segments to check', async () => {
    const store = createMemoryStore();
    const clock = new FakeClock();
    const broker = new Broker({ store, clock, id: 'b1' }); // the default bounds: nothing sealed for one job
    await drive(clock, broker.push('small', [{ id: 'x', payload: 1 }]));
    await drive(clock, broker.stop());
    const r = await runTopicDoctor(store, 'small');
    expect(r).toMatchObject({ ok: true, segments: [], unnamed: [] });
  });
});
