/**
 * Faults of the segment commit path at the broker level (docs/format.md, sections 4 and 5), with
 * a fake clock and small head bounds:
 *
 *   - a takeover during compaction: the leader dies with the compaction's commit in flight (its new
 *     segments written, the head that swaps them in not), or right after that head landed; the next
 *     leader loses and doubles nothing, keeps the cancelled jobs cancelled, reads either the
 *     replaced segments or the compacted ones (never both), and every one of them is eventually
 *     named or deleted; the old leader's late head write loses its compare-and-swap;
 *   - a segment write that fails a few times and is retried, and one that keeps failing after
 *     some of the batch's segments landed: UNAVAILABLE, nothing committed, orphans nobody reads.
 *
 * (test/process/segment-kill.test.ts kills a leader process between segments and head.)
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { QueueError } from '../../src/errors.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { SMALL } from '../core/segments/backlog-harness.js';
import { checkManifest } from '../../src/core/segments/manifest.js';
import { codeOf, deferred, drive, until } from '../embedded-helpers.js';
import { readQueue } from './helpers.js';
import { claimAll, ids, segmentKeys } from './segment-helpers.js';

const LEASE_MS = 10_000;
const RETRY = { attempts: 3, baseMs: 5, maxMs: 20 };
const never = () => new Promise<never>(() => {});
const isSegment = (key: string) => key.startsWith('segments/');
const isHead = (key: string) => key.endsWith('/queue.json');

/**
 * One broker's view of the shared store. It records the segment keys the broker read; once
 * `arm()`ed, the first head write that follows segment writes is its "compaction commit":
 * `hold` keeps it from the store until release() (then it is tried, late); `freeze` lets it land
 * and then the broker is dead: that write and every later call never answer.
 */
class Gate {
  readonly reads = new Set<string>();
  /** Segment keys written since arm(). */
  readonly written: string[] = [];
  held: { body: string; release(): void } | null = null;
  landed: string | null = null;
  private mode: 'hold' | 'freeze' | null = null;
  private frozen = false;
  readonly store: StorageDriver;

  constructor(inner: StorageDriver) {
    const dead = () => this.frozen;
    this.store = {
      name: inner.name,
      minWriteIntervalMs: 0,
      read: async (key) => (dead() ? never() : (this.noteRead(key), inner.read(key))),
      readRange: async (key, start, end) => (dead() ? never() : (this.noteRead(key), inner.readRange!(key, start, end))),
      write: async (key, body, cond) => {
        if (dead()) return never();
        if (this.mode && isSegment(key)) {
          const out = await inner.write(key, body, cond);
          this.written.push(key);
          return out;
        }
        if (this.mode && isHead(key) && this.written.length > 0) {
          const mode = this.mode;
          this.mode = null;
          const text = Buffer.from(body).toString('utf8');
          if (mode === 'hold') {
            const go = deferred();
            this.held = { body: text, release: () => go.resolve() };
            await go.promise;
            return inner.write(key, body, cond);
          }
          await inner.write(key, body, cond);
          this.landed = text;
          this.frozen = true;
          return never();
        }
        return inner.write(key, body, cond);
      },
      list: async (prefix) => (dead() ? never() : inner.list(prefix)),
      delete: async (key) => (dead() ? never() : inner.delete(key)),
      close: () => inner.close(),
    };
  }

  arm(mode: 'hold' | 'freeze'): void {
    this.mode = mode;
  }

  private noteRead(key: string): void {
    if (isSegment(key)) this.reads.add(key);
  }
}

/** The segment keys a head names as live (ready, delayed) and as garbage. */
function named(head: Record<string, any>): { live: string[]; garbage: string[] } {
  const b = checkManifest(head.backlog, 'queue.json', 'jobs'); // the stored form expanded
  return { live: [...b.ready, ...b.delayed].map((s) => s.key), garbage: b.garbage.map((s) => s.key) };
}

/**
 * 40 jobs pushed, 8 cancelled in two segments (a11..a15 whole, a16..a18 of a16..a20): past
 * tombstoneMax, so compaction is planned and b1 reads and rewrites those segments. The gate
 * catches the compaction's commit.
 */
async function compactionInFlight(mode: 'hold' | 'freeze') {
  const clock = new FakeClock();
  const base = createMemoryStore();
  const g1 = new Gate(base);
  const b1 = new Broker({ store: g1.store, clock, id: 'b1', leaseMs: LEASE_MS, backlog: SMALL, retry: RETRY });
  const all = ids('a', 40);
  await drive(clock, b1.push('jobs', all.map((id) => ({ id, payload: id }))));
  const cancelled = all.slice(11, 19);
  const before = named(await readQueue(base, 'jobs'));
  g1.arm(mode);
  await drive(clock, Promise.all(cancelled.map((id) => b1.cancel('jobs', id)))); // one batch
  await until(clock, () => g1.held !== null || g1.landed !== null);
  const attempt = named(JSON.parse(g1.held?.body ?? g1.landed!));
  const replaced = before.live.filter((k) => !attempt.live.includes(k));
  expect(replaced.length).toBeGreaterThan(0); // the compacted segments left the chain...
  expect(attempt.garbage).toEqual(expect.arrayContaining(replaced)); // ...into garbage
  expect(g1.written.length).toBeGreaterThan(0); // and their live jobs are in new segments
  expect(g1.written.every((k) => attempt.live.includes(k))).toBe(true);
  return { clock, base, g1, b1, all, cancelled, replaced, compacted: g1.written };
}

/** b2 takes over once b1's lease is stale: serves every live job once in order, the cancelled ones stay cancelled. */
async function takeOver(c: Awaited<ReturnType<typeof compactionInFlight>>) {
  await c.clock.advance(LEASE_MS + 1000);
  const g2 = new Gate(c.base);
  const b2 = new Broker({ store: g2.store, clock: c.clock, id: 'b2', leaseMs: LEASE_MS, backlog: SMALL, retry: RETRY });
  const again = await drive(c.clock, b2.push('jobs', [...c.cancelled.map((id) => ({ id, payload: 'again' })), { id: 'z', payload: 'z' }]));
  expect(again.map((o) => o.created)).toEqual([...c.cancelled.map(() => false), true]);
  expect(again.slice(0, -1).every((o) => o.state === 'cancelled')).toBe(true);
  expect(await claimAll(b2, c.clock, 40)).toEqual([...c.all.filter((id) => !c.cancelled.includes(id)), 'z']);
  return { g2, b2 };
}

/**
 * Fake time passes (lease renewals, garbage collection after 2 × the lease, orphan listings every
 * 10 minutes) until the store holds no segment: every one was collected.
 */
async function collected(c: { clock: FakeClock; base: StorageDriver }): Promise<void> {
  await until(c.clock, async () => (await segmentKeys(c.base)).length === 0, 10_000, 400);
}

describe('takeover during compaction', () => {
  it("the leader dies with the compaction's commit in flight: the next leader reads the old segments, never the compacted ones, and deletes those", async () => {
    const c = await compactionInFlight('hold');
    const { g2, b2 } = await takeOver(c);
    for (const k of c.compacted) expect(g2.reads.has(k)).toBe(false); // named by no landed head
    expect(c.replaced.some((k) => g2.reads.has(k))).toBe(true); // still named: b2 compacts them itself
    // The old leader wakes up: its late head write loses the compare-and-swap and changes nothing.
    c.g1.held!.release();
    expect(await drive(c.clock, codeOf(c.b1.stats('jobs')))).toBe('NOT_LEADER');
    expect((await readQueue(c.base, 'jobs')).broker.id).toBe('b2');
    await collected(c);
    expect((await drive(c.clock, b2.stats('jobs'))).pending).toBe(0);
    await b2.stop();
  });

  it("the leader dies right after the compaction's head landed: the next leader reads the compacted segments, never the replaced ones, and deletes those", async () => {
    const c = await compactionInFlight('freeze');
    const { g2, b2 } = await takeOver(c);
    for (const k of c.replaced) expect(g2.reads.has(k)).toBe(false); // garbage of the landed head
    expect(c.compacted.some((k) => g2.reads.has(k))).toBe(true);
    await collected(c);
    await b2.stop();
  });
});

describe('segment writes that fail', () => {
  /** Writes of a batch's second and later segments fail (STORE_UNAVAILABLE, nothing lands) `failures` times in all. */
  function failing(inner: StorageDriver) {
    const f = { failures: 0, segmentWrites: 0, reads: new Set<string>() };
    const store: StorageDriver = {
      ...inner,
      name: inner.name,
      minWriteIntervalMs: 0,
      read: async (key) => (f.reads.add(key), inner.read(key)),
      readRange: async (key, start, end) => (f.reads.add(key), inner.readRange!(key, start, end)),
      async write(key, body, cond) {
        if (isSegment(key)) {
          f.segmentWrites++;
          if (!key.endsWith('-0.seg') && f.failures > 0) {
            f.failures--;
            throw new QueueError('STORE_UNAVAILABLE', 'injected segment write failure');
          }
        }
        return inner.write(key, body, cond);
      },
    };
    return { f, store };
  }

  it('a segment write that fails fewer times than the retry policy allows is retried: the push is acknowledged once, nothing is written twice', async () => {
    const clock = new FakeClock();
    const base = createMemoryStore();
    const { f, store } = failing(base);
    const broker = new Broker({ store, clock, id: 'b1', leaseMs: LEASE_MS, backlog: SMALL, retry: RETRY });
    f.failures = RETRY.attempts - 1;
    const pushed = await drive(clock, broker.push('jobs', ids('a', 30).map((id) => ({ id, payload: id }))));
    expect(pushed.every((p) => p.created)).toBe(true);
    expect(f.failures).toBe(0);
    const stored = await segmentKeys(base);
    expect(f.segmentWrites).toBe(stored.length + RETRY.attempts - 1); // each failure retried, the rest written once
    expect(named(await readQueue(base, 'jobs')).live.sort()).toEqual(stored);
    expect(await claimAll(broker, clock, 30)).toEqual(ids('a', 30));
    await broker.stop();
  });

  it("a segment write that keeps failing after the batch's first segment landed: UNAVAILABLE, nothing committed, the caller's retry pushes every job once, the orphan is never read and is deleted", async () => {
    const clock = new FakeClock();
    const base = createMemoryStore();
    const { f, store } = failing(base);
    const broker = new Broker({ store, clock, id: 'b1', leaseMs: LEASE_MS, backlog: SMALL, retry: RETRY });
    await drive(clock, broker.push('jobs', [{ id: 'x', payload: 1 }]));
    const before = await readQueue(base, 'jobs');
    f.failures = Infinity;
    const jobs = ids('a', 30).map((id) => ({ id, payload: id }));
    expect(await drive(clock, codeOf(broker.push('jobs', jobs)))).toBe('UNAVAILABLE');
    expect(await readQueue(base, 'jobs')).toEqual(before); // nothing half-committed
    const orphans = await segmentKeys(base);
    expect(orphans.length).toBeGreaterThan(0); // the batch's first segments landed
    f.failures = 0;
    const retried = await drive(clock, broker.push('jobs', jobs));
    expect(retried.every((p) => p.created)).toBe(true); // the failed attempt left nothing behind
    const head = named(await readQueue(base, 'jobs'));
    for (const k of orphans) expect(head.live.includes(k) || head.garbage.includes(k)).toBe(false);
    expect(await claimAll(broker, clock, 31)).toEqual(['x', ...ids('a', 30)]);
    for (const k of orphans) expect(f.reads.has(k)).toBe(false);
    await collected({ clock, base });
    await broker.stop();
  });
});
