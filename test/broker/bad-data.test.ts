/**
 * Bad data on disk: queue.json objects that are not JSON, not an object, written by a newer
 * bucketq, or valid JSON that breaks the schema, in a file: store served by two network brokers
 * (their standby watchers and elections included). Each such topic is refused with CORRUPT_STATE
 * (gRPC DATA_LOSS) naming the object, on pushes, reads and takeover attempts alike; its bytes are
 * never overwritten; the other topics work as usual. A format-1 object is upgraded by its first
 * commit.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/client.js';
import { parseState } from '../../src/core/codec.js';
import { queueKey } from '../../src/core/keys.js';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { openStore } from '../../src/storage/open.js';
import type { StorageDriver } from '../../src/storage/types.js';

const job = { id: 'j', state: 'pending', payload: 1, priority: 0, order: 1, runAt: 0, attempts: 0, maxAttempts: 3, createdAt: 0, updatedAt: 0 };
const settings = { maxAttempts: 3, backoff: { type: 'fixed', delayMs: 100 }, paused: false };
const counters = { pushed: 1, claimed: 0, completed: 0, nacked: 0, dead: 0, cancelled: 0, retried: 0, leasesExpired: 0, deadExpired: 0 };
/** Every field format 2 writes but `jobs`: each shape below breaks one thing. */
const head = (topic: string) => ({ format: 2, topic, seq: 3, writer: 'w', time: 0, broker: null, settings, nextOrder: 2, counters, dead: {}, archiveOpen: null, recent: { windowMs: 60_000, groups: [] }, done: [] });
/** head() without `field`. */
const without = (topic: string, field: string) => Object.fromEntries(Object.entries(head(topic)).filter(([k]) => k !== field));

/** Topic → the bytes its queue.json holds, each broken in its own way. */
const BAD: Record<string, (topic: string) => string> = {
  'not-json': () => 'this is not json',
  empty: () => '',
  truncated: (t) => JSON.stringify({ ...head(t), jobs: [job] }).slice(0, 60),
  array: () => '[1,2,3]',
  'no-format': (t) => JSON.stringify({ topic: t, seq: 1, nextOrder: 1, jobs: [] }),
  newer: (t) => JSON.stringify({ ...head(t), format: 99, jobs: [], somethingNew: true }),
  'jobs-not-array': (t) => JSON.stringify({ ...head(t), jobs: {} }),
  'job-without-id': (t) => JSON.stringify({ ...head(t), jobs: [{ ...job, id: undefined }] }),
  'claimed-without-lease': (t) => JSON.stringify({ ...head(t), jobs: [{ ...job, state: 'claimed' }] }),
  'duplicate-job': (t) => JSON.stringify({ ...head(t), jobs: [job, { ...job, order: 2 }] }),
  'bad-number': (t) => JSON.stringify({ ...head(t), jobs: [{ ...job, attempts: 'two' }] }),
  'dead-in-live-list': (t) => JSON.stringify({ ...head(t), jobs: [{ ...job, state: 'dead' }] }),
  'bad-lease': (t) => JSON.stringify({ ...head(t), broker: { id: 7 }, jobs: [] }),
  'bad-dead-entry': (t) => JSON.stringify({ ...head(t), dead: { x: 5 }, jobs: [] }),
  'bad-counters': (t) => JSON.stringify({ ...head(t), counters: { pushed: 'many' }, jobs: [] }),
  'bad-settings': (t) => JSON.stringify({ ...head(t), settings: { maxAttempts: 'x' }, jobs: [] }),
  'bad-backoff': (t) => JSON.stringify({ ...head(t), settings: { backoff: { type: 'linear' } }, jobs: [] }),
  'dead-not-object': (t) => JSON.stringify({ ...head(t), dead: [1], jobs: [] }),
  'other-topic': () => JSON.stringify({ ...head('someone-else'), jobs: [] }),
  // Fields every format wrote: a missing one was once filled with a default and written back
  // (counters from 0, no dead-letter entries, unarchived finished jobs dropped, epoch from 1).
  'no-counters': (t) => JSON.stringify({ ...without(t, 'counters'), jobs: [] }),
  'partial-counters': (t) => JSON.stringify({ ...head(t), counters: { pushed: 5 }, jobs: [] }),
  'no-settings': (t) => JSON.stringify({ ...without(t, 'settings'), jobs: [] }),
  'partial-settings': (t) => JSON.stringify({ ...head(t), settings: { maxAttempts: 3 }, jobs: [] }),
  'no-dead': (t) => JSON.stringify({ ...without(t, 'dead'), jobs: [] }),
  'no-done': (t) => JSON.stringify({ ...without(t, 'done'), jobs: [] }),
  'no-broker': (t) => JSON.stringify({ ...without(t, 'broker'), jobs: [] }),
  'no-writer': (t) => JSON.stringify({ ...without(t, 'writer'), jobs: [] }),
  'no-recent': (t) => JSON.stringify({ ...without(t, 'recent'), jobs: [] }),
};

let dir: string;
let store: StorageDriver;
const servers: BrokerServer[] = [];
const reported = new Map<string, unknown>();
const reportWaiters = new Map<string, () => void>();

function onError(err: unknown, context: string): void {
  const m = /^standby watcher: topic (.+)$/.exec(context);
  if (!m) return;
  reported.set(m[1]!, err);
  reportWaiters.get(m[1]!)?.();
}

/**
 * Resolves once a standby watcher has reported the topic (it read the object and refused it);
 * rejects when, after many watcher rounds (every 20 ms), neither has: they took the object for valid.
 */
function watcherReported(topic: string): Promise<unknown> {
  if (reported.has(topic)) return Promise.resolve(reported.get(topic));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no watcher refused ${topic} within 5 s: the brokers took it for valid`)), 5000);
    reportWaiters.set(topic, () => {
      clearTimeout(timer);
      resolve(reported.get(topic));
    });
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bucketq-bad-data-'));
  store = await openStore(`file:${dir}`);
  for (const [topic, bytes] of Object.entries(BAD)) await store.write(queueKey(topic), Buffer.from(bytes(topic)), { ifNoneMatch: '*' });
  for (const id of ['first', 'second']) {
    servers.push(await startBrokerServer({ store: `file:${dir}`, listen: '127.0.0.1:0', id, leaseMs: 600, standbyCheckMs: 20, onError }));
  }
});

afterAll(async () => {
  for (const s of servers) await s.close();
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('bad queue.json objects', () => {
  it('the object every shape breaks is valid as it is (so each shape is refused for its own flaw)', () => {
    expect(parseState(JSON.stringify({ ...head('fine'), jobs: [job] }), 'fine', 0).jobs.size).toBe(1);
  });

  it.each(Object.keys(BAD))('%s: refused with CORRUPT_STATE naming the object, never overwritten', async (topic) => {
    const key = queueKey(topic);
    const before = await store.read(key);
    expect(await watcherReported(topic)).toMatchObject({ code: 'CORRUPT_STATE' }); // the watchers tried to take it over
    for (const server of servers) {
      const q = createClient({ url: server.url, topic, retry: { deadlineMs: 0 } });
      try {
        for (const attempt of [() => q.push({ n: 1 }), () => q.stats(), () => q.get('j'), () => q.claim({ workerId: 'w' })]) {
          const err = (await attempt().catch((e: unknown) => e)) as { code: string; message: string };
          expect(err.code).toBe('CORRUPT_STATE');
          expect(err.message).toContain(key);
        }
      } finally {
        await q.close();
      }
    }
    const after = await store.read(key);
    expect(after!.etag).toBe(before!.etag);
    expect(Buffer.from(after!.body).toString()).toBe(BAD[topic]!(topic));
  });

  it('other topics are not affected; the topic list names the broken ones', async () => {
    const q = createClient({ url: servers[0]!.url, topic: 'healthy' });
    try {
      await q.push({ ok: true }, { id: 'h1' });
      const [claimed] = await q.claim({ workerId: 'w', max: 1 });
      await q.ack(claimed!);
      expect(await q.stats()).toMatchObject({ pending: 0, claimed: 0 });
      const res = await fetch(`${servers[0]!.url}/v1/topics`); // the leader of 'healthy': its stats are in the list
      expect(res.status).toBe(200);
      const { topics } = (await res.json()) as { topics: Array<{ topic: string; error?: { code: string; message: string } }> };
      const byName = new Map(topics.map((t) => [t.topic, t]));
      expect(byName.get('healthy')?.error).toBeUndefined();
      for (const topic of Object.keys(BAD)) expect(byName.get(topic)?.error, topic).toMatchObject({ code: 'CORRUPT_STATE', message: expect.stringContaining(queueKey(topic)) });
    } finally {
      await q.close();
    }
  });

  it('a format-1 object is upgraded to format 2 by its first commit', async () => {
    const v1 = { format: 1, topic: 'old', seq: 4, writer: 'old', time: 0, broker: null, settings, nextOrder: 2, counters, dead: {}, done: [], jobs: [{ ...job, id: 'old-1', payload: 'v1' }] };
    await store.write(queueKey('old'), Buffer.from(JSON.stringify(v1)), { ifNoneMatch: '*' });
    const q = createClient({ url: servers[0]!.url, topic: 'old' });
    try {
      await q.push('v2', { id: 'new-1' });
      const stored = JSON.parse(Buffer.from((await store.read(queueKey('old')))!.body).toString());
      expect(stored).toMatchObject({ format: 3, topic: 'old', seq: expect.any(Number), counters: { pushed: 2 } });
      expect(stored.seq).toBeGreaterThan(4);
      expect((await q.claim({ workerId: 'w', max: 2 })).map((j) => j.id)).toEqual(['old-1', 'new-1']);
    } finally {
      await q.close();
    }
  });
});
