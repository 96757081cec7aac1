/**
 * The broker over a store that fails 5% of calls and reports 2% of writes as ambiguous (they did
 * land). Clients retry with their own job ids, as a real client would. Nothing acknowledged may be
 * lost or duplicated, and no ack may be applied twice.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import type { JobRecord } from '../../src/core/types.js';
import { isQueueError } from '../../src/errors.js';
import { withFaults } from '../../src/storage/faulty.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { counting, readQueue } from './helpers.js';

const PER_PRODUCER = 100;

async function untilOk<T>(fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!isQueueError(err, 'UNAVAILABLE')) throw err;
    }
  }
}

describe('faults', () => {
  it.each([7, 8, 9])('with 5 percent failed calls and 2 percent ambiguous writes no acknowledged push is lost or duplicated and no ack applies twice (seed %i)', async (seed) => {
    const clock = new FakeClock();
    const base = createMemoryStore();
    const faulty = withFaults(base, { failRate: 0.05, ambiguousRate: 0.02, seed }, undefined, (ms) => clock.sleep(ms));
    const store = counting(faulty);
    const broker = new Broker({ store, clock, id: 'B', leaseMs: 60_000, retry: { attempts: 4, baseMs: 5, maxMs: 50 } });

    const acknowledged = new Set<string>();
    const acked = new Map<string, number>();
    const producers = Array.from({ length: 20 }, async (_, p) => {
      for (let i = 0; i < PER_PRODUCER; i++) {
        const id = `p${p}-${i}`;
        await untilOk(() => broker.push('jobs', [{ id, payload: { p, i } }]));
        acknowledged.add(id);
      }
    });
    let producing = true;
    const all = Promise.all(producers).then(() => (producing = false));
    const workers = Array.from({ length: 4 }, async (_, w) => {
      for (;;) {
        const jobs = await untilOk(() => broker.claim('jobs', { workerId: `w${w}`, max: 3, leaseMs: 60_000 }));
        if (jobs.length === 0) {
          if (!producing) {
            const st = await untilOk(() => broker.stats('jobs'));
            if (st.pending + st.claimed + st.delayed === 0) return;
          }
          // Idle: let fake time pass (a bare loop of instant answers would starve the clock).
          await clock.sleep(5);
          continue;
        }
        await Promise.all(
          jobs.map(async (j) => {
            try {
              await untilOk(() => broker.ack('jobs', { id: j.id, workerId: `w${w}`, lease: j.lease }));
              acked.set(j.id, (acked.get(j.id) ?? 0) + 1);
            } catch (err) {
              if (!isQueueError(err, 'LEASE_LOST')) throw err;
            }
          }),
        );
      }
    });
    const run = Promise.all([all, ...workers]);
    let finished = false;
    void run.finally(() => (finished = true));
    for (let i = 0; i < 100_000 && !finished; i++) await clock.advance(5);
    await run;
    // Archive writes may be in a retry backoff on the fake clock: keep time moving while flushing.
    let flushed = false;
    const flush = broker.flush().finally(() => (flushed = true));
    while (!flushed) await clock.advance(5);
    await flush;

    // The run really met faults of both kinds.
    expect(faulty.stats.injectedFailures).toBeGreaterThan(5);
    expect(faulty.stats.injectedAmbiguous).toBeGreaterThan(2);
    expect(acknowledged.size).toBe(20 * PER_PRODUCER);
    expect(store.maxInFlight.get('topics/jobs/queue.json')).toBe(1);

    // Every finished record, from archive objects and from queue.json's not-yet-archived list.
    const q = await readQueue(base, 'jobs');
    const records: JobRecord[] = [];
    const archiveKeys = await base.list('archive/jobs/');
    for (const key of archiveKeys) records.push(...(JSON.parse(Buffer.from((await base.read(key))!.body).toString()).jobs as JobRecord[]));
    for (const j of q.done as JobRecord[]) if (!archiveKeys.includes(j.archive!)) records.push(j);
    const completed = new Map<string, number>();
    for (const r of records) if (r.state === 'completed') completed.set(r.id, (completed.get(r.id) ?? 0) + 1);

    expect(q.jobs).toEqual([]);
    expect([...completed.keys()].sort()).toEqual([...acknowledged].sort());
    expect([...completed.values()].every((n) => n === 1)).toBe(true);
    expect(q.counters.completed).toBe(20 * PER_PRODUCER);
    expect(q.counters.pushed).toBe(20 * PER_PRODUCER);
    // An ack answered ok may have been a replay of one that landed ambiguously, never a second apply.
    expect([...acked.keys()].sort()).toEqual([...acknowledged].sort());
  }, 60_000);
});
