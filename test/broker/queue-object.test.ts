/**
 * queue.json as a transactional object (src/broker/queue-object.ts) alone, with no loop, no batch
 * and no election: two writers on one etag, writes the store reports as ambiguous (landed or not),
 * an object that vanishes or goes back after a load, and transient failures. Memory store, fake
 * clock, the `faulty` decorator.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { QueueObject } from '../../src/broker/queue-object.js';
import { beginCommit } from '../../src/core/apply.js';
import { serializeState } from '../../src/core/codec.js';
import { archiveKey, queueKey } from '../../src/core/keys.js';
import { createState } from '../../src/core/state.js';
import { QueueError } from '../../src/errors.js';
import { withFaults } from '../../src/storage/faulty.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { drive } from '../embedded-helpers.js';
import { codeOf, readQueue, writeRefusingStore } from './helpers.js';

const KEY = queueKey('jobs');
const RETRY = { attempts: 3, baseMs: 1, maxMs: 4 };

function queueObject(store: StorageDriver, writer: string, clock = new FakeClock()) {
  const ambiguous: boolean[] = [];
  const object = new QueueObject({ topic: 'jobs', store, clock, retry: RETRY, random: () => 0.5, writer, onAmbiguous: (landed) => ambiguous.push(landed) });
  return { object, ambiguous, clock };
}

/** What a batch does to the cached state (loaded first if need be): stamp it, change it, write it. */
async function commit(object: QueueObject, writer: string, clock: FakeClock) {
  const draft = object.state ?? (await object.load());
  beginCommit(draft, writer, clock.now());
  draft.counters.pushed++; // any change
  return object.write(draft, serializeState(draft));
}

/** A store whose next `n` writes report STORE_AMBIGUOUS without landing (a timeout before the request got out). */
function ambiguousUnsent(inner: StorageDriver, n = 1): StorageDriver {
  let left = n;
  return {
    ...inner,
    write: (key, body, cond) => {
      if (left-- > 0) return Promise.reject(new QueueError('STORE_AMBIGUOUS', 'test: timed out, never sent'));
      return inner.write(key, body, cond);
    },
  };
}

describe('QueueObject: the conditional write', () => {
  it('two writers on the same etag: exactly one lands; the other conflicts, drops its cache and reloads the winner', async () => {
    const store = createMemoryStore();
    const clock = new FakeClock();
    const a = queueObject(store, 'A', clock).object;
    const b = queueObject(store, 'B', clock).object;
    expect(await commit(a, 'A', clock)).toEqual({ kind: 'landed' }); // creates queue.json (seq 1)
    await Promise.all([a.load(), b.load()]); // both hold seq 1 and its etag
    const outcomes = await Promise.all([commit(a, 'A', clock), commit(b, 'B', clock)]);
    expect(outcomes.map((o) => o.kind).sort()).toEqual(['conflict', 'landed']);
    const [winner, loser] = outcomes[0]!.kind === 'landed' ? ['A', b] : ['B', a];
    expect(loser.state).toBeNull();
    expect(await loser.load()).toMatchObject({ seq: 2, writer: winner });
    expect(await readQueue(store, 'jobs')).toMatchObject({ seq: 2, writer: winner });
  });

  it('two creators of a new topic: the create-only write lets exactly one in', async () => {
    const store = createMemoryStore();
    const clock = new FakeClock();
    const a = queueObject(store, 'A', clock).object;
    const b = queueObject(store, 'B', clock).object;
    expect((await a.load()).seq).toBe(0); // no object: a fresh state, nothing written yet
    await b.load();
    expect(await store.read(KEY)).toBeNull();
    const outcomes = await Promise.all([commit(a, 'A', clock), commit(b, 'B', clock)]);
    expect(outcomes.map((o) => o.kind).sort()).toEqual(['conflict', 'landed']);
    expect((await readQueue(store, 'jobs')).seq).toBe(1);
  });

  it('an ambiguous write that landed is recognised by its seq and writer, and the next write goes on from it', async () => {
    const base = createMemoryStore();
    // Every write lands, and every write is reported as STORE_AMBIGUOUS.
    const { object, ambiguous, clock } = queueObject(withFaults(base, { ambiguousRate: 1 }, () => 0), 'A');
    expect(await commit(object, 'A', clock)).toEqual({ kind: 'landed' });
    expect(await commit(object, 'A', clock)).toEqual({ kind: 'landed' }); // ifMatch the etag re-read
    expect(ambiguous).toEqual([true, true]);
    expect(await readQueue(base, 'jobs')).toMatchObject({ seq: 2, writer: 'A' });
    // Remembered as landed: should the object vanish now, commit 2 is what this broker saw and holds.
    await base.delete(KEY);
    expect(await codeOf(object.load())).toBe('STATE_LOST');
    expect(object.lost).toMatchObject({ seq: 2, memorySeq: 2 });
  });

  it('an ambiguous write that did not land is a conflict: the state re-read is the one to re-apply on, no second read', async () => {
    const base = createMemoryStore();
    const clock = new FakeClock();
    await commit(queueObject(base, 'A', clock).object, 'A', clock); // seq 1 by A
    let reads = 0;
    const store = ambiguousUnsent({ ...base, read: (k) => (reads++, base.read(k)) });
    const { object, ambiguous } = queueObject(store, 'A', clock);
    await object.load();
    expect(await commit(object, 'A', clock)).toEqual({ kind: 'conflict' }); // seq 2 never got out
    expect(ambiguous).toEqual([false]);
    expect(object.state).toMatchObject({ seq: 1, writer: 'A' });
    expect(await commit(object, 'A', clock)).toEqual({ kind: 'landed' }); // re-applied: seq 2 again
    expect(reads).toBe(2); // the load and the re-read
    expect(await readQueue(base, 'jobs')).toMatchObject({ seq: 2, writer: 'A' });
  });

  it('the same seq by another writer is not ours: the write did not land', async () => {
    const base = createMemoryStore();
    const clock = new FakeClock();
    const { object, ambiguous } = queueObject(ambiguousUnsent(base), 'A', clock);
    await object.load(); // no object yet
    await commit(queueObject(base, 'B', clock).object, 'B', clock); // B creates seq 1 meanwhile
    expect(await commit(object, 'A', clock)).toEqual({ kind: 'conflict' }); // A's seq 1 never got out
    expect(ambiguous).toEqual([false]);
    expect(object.state).toMatchObject({ seq: 1, writer: 'B' });
  });

  it('a later commit by another writer, or a re-read that fails, leaves the outcome unknown: STORE_AMBIGUOUS, never re-applied', async () => {
    const base = createMemoryStore();
    const clock = new FakeClock();
    const b = queueObject(base, 'B', clock).object;
    await commit(b, 'B', clock);
    const { object, ambiguous } = queueObject(ambiguousUnsent(base), 'A', clock);
    await object.load();
    await commit(b, 'B', clock); // seq 2 by B: A's seq 2 may lie underneath it
    await commit(b, 'B', clock); // seq 3
    const buried = await commit(object, 'A', clock);
    expect(buried).toMatchObject({ kind: 'failed', error: { code: 'STORE_AMBIGUOUS' } });
    expect(object.state).toBeNull();
    expect(ambiguous).toEqual([]);

    let readsFail = false;
    const flaky = ambiguousUnsent({ ...base, read: (k) => (readsFail ? Promise.reject(new QueueError('STORE_UNAVAILABLE', 'test: throttled')) : base.read(k)) });
    const c = queueObject(flaky, 'C', clock).object;
    await c.load();
    readsFail = true;
    const unknown = await drive(clock, commit(c, 'C', clock));
    expect(unknown).toMatchObject({ kind: 'failed', error: { code: 'STORE_AMBIGUOUS' } });
    expect(c.state).toBeNull();
  });

  it('transient failures are retried; past the retries the write fails UNAVAILABLE, nothing landed, and the cache is dropped', async () => {
    const store = writeRefusingStore();
    const { object, clock } = queueObject(store, 'A');
    await object.load();
    store.refusing = true;
    const out = await drive(clock, commit(object, 'A', clock));
    expect(out).toMatchObject({ kind: 'failed', error: { code: 'UNAVAILABLE' } });
    expect(object.state).toBeNull();
    expect(await store.read(KEY)).toBeNull();
    store.refusing = false;
    expect(await commit(object, 'A', clock)).toEqual({ kind: 'landed' });
  });
});

describe('QueueObject: state that existed is never re-created', () => {
  it('an object that vanished after a load is STATE_LOST, found by a load or by the write that conflicts on it', async () => {
    const store = createMemoryStore();
    const { object, clock } = queueObject(store, 'A');
    await commit(object, 'A', clock); // seq 1
    await store.delete(KEY);
    expect(await commit(object, 'A', clock)).toEqual({ kind: 'conflict' }); // ifMatch on nothing
    expect(await codeOf(object.load())).toBe('STATE_LOST');
    expect(object.lost).toMatchObject({ seq: 1, memorySeq: 1, error: { code: 'STATE_LOST' } });
    expect(object.lost!.error.message).toMatch(/vanished after commit 1/);
    expect(await store.read(KEY)).toBeNull(); // nothing re-created
  });

  it('an object that went back to an older commit is STATE_LOST', async () => {
    const store = createMemoryStore();
    const { object, clock } = queueObject(store, 'A');
    await commit(object, 'A', clock);
    const older = (await store.read(KEY))!.body;
    await commit(object, 'A', clock);
    await store.write(KEY, older);
    expect(await codeOf(object.load())).toBe('STATE_LOST');
    expect(object.lost!.error.message).toMatch(/went back from commit 2 to commit 1/);
  });

  it('a topic this broker never saw is lost when archive objects show it existed; one with none is new', async () => {
    const store = createMemoryStore();
    const clock = new FakeClock();
    await store.write(archiveKey('jobs', clock.now(), 7), '{}');
    expect(await codeOf(queueObject(store, 'A', clock).object.load())).toBe('STATE_LOST');
    expect(await queueObject(createMemoryStore(), 'A', clock).object.load()).toMatchObject({ topic: 'jobs', seq: 0 });
  });

  it('an object naming another topic is CORRUPT_STATE and is never overwritten', async () => {
    const store = createMemoryStore();
    const other = serializeState(createState('other'));
    await store.write(KEY, other);
    expect(await codeOf(queueObject(store, 'A').object.load())).toBe('CORRUPT_STATE');
    expect(Buffer.from((await store.read(KEY))!.body).equals(other)).toBe(true);
  });

  it('commits are serialised into reused buffers, never into the one holding the last landed commit (restored from memory intact)', async () => {
    const store = writeRefusingStore();
    const { object, clock } = queueObject(store, 'A');
    const serialized = async (pushed: number) => {
      const draft = object.state ?? (await object.load());
      beginCommit(draft, 'A', clock.now());
      draft.counters.pushed = pushed;
      return { draft, body: object.serialize(draft) };
    };
    const c1 = await serialized(1);
    expect(await object.write(c1.draft, c1.body)).toEqual({ kind: 'landed' });
    const c2 = await serialized(2);
    expect(await object.write(c2.draft, c2.body)).toEqual({ kind: 'landed' });
    expect(c2.body.buffer).not.toBe(c1.body.buffer);
    store.refusing = true;
    const c3 = await serialized(3);
    expect((await drive(clock, object.write(c3.draft, c3.body))).kind).toBe('failed');
    store.refusing = false;
    const c4 = await serialized(4); // not into commit 2's buffer, whatever commit 3 did
    expect(c4.body.buffer).toBe(c1.body.buffer);
    await store.delete(KEY);
    const plan = await object.reset(true, { lost: false, lose: () => {} });
    expect(plan).toMatchObject({ action: 'restored', state: { seq: 2, counters: { pushed: 2 } } });
  });

  it('a reset of a lost topic installs a fresh state that continues the seq and is written create-only', async () => {
    const store = createMemoryStore();
    const { object, clock } = queueObject(store, 'A');
    await commit(object, 'A', clock);
    await commit(object, 'A', clock);
    await store.delete(KEY);
    const lost: QueueError[] = [];
    const plan = await object.reset(false, { lost: false, lose: (err) => lost.push(err) });
    expect(lost.map((e) => e.code)).toEqual(['STATE_LOST']); // found lost by the reset's own look
    expect(plan).toMatchObject({ action: 'fresh', etag: null, state: { seq: 2 } });
    expect(object.lost).toBeNull();
    expect(await commit(object, 'A', clock)).toEqual({ kind: 'landed' });
    expect(await readQueue(store, 'jobs')).toMatchObject({ seq: 3 });
  });
});
