/**
 * Broker#listJobs over a segmented backlog (docs/format.md section 7, "Paging"), with small head
 * bounds: pages go on past the head in queue order, each request reads at most two segments
 * (counted at the store), nothing is written or changed by paging, cancelled jobs and jobs
 * already refilled into the head appear once or not at all, a new leader pages its predecessor's
 * segments, and a search finds a job deep in a segment by its exact id.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { serializeState } from '../../src/core/codec.js';
import type { JobRecord } from '../../src/core/types.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { instrumentStore } from '../../src/storage/instrumented.js';
import { SMALL } from '../core/segments/backlog-harness.js';
import { drive } from '../embedded-helpers.js';

interface Counts {
  segmentReads: number;
  writes: number;
}

function setup(base = createMemoryStore(), clock = new FakeClock(), id = 'b1') {
  const c: Counts = { segmentReads: 0, writes: 0 };
  const store = instrumentStore(base, (call) => {
    if (call.op === 'read' && call.key.startsWith('segments/')) c.segmentReads++; // whole or ranged
    if (call.op === 'write') c.writes++;
  });
  const broker = new Broker({ store, clock, id, backlog: SMALL, retry: { attempts: 2, baseMs: 1, maxMs: 1 } });
  return { base, clock, c, broker };
}

/** Every page of `state`, counting the segment reads of each request. */
async function pageAll(b: ReturnType<typeof setup>, state: 'pending' | 'delayed', limit: number) {
  const jobs: JobRecord[] = [];
  const readsPerRequest: number[] = [];
  let after: string | undefined;
  for (let i = 0; i < 500; i++) {
    const before = b.c.segmentReads;
    const page = await drive(b.clock, b.broker.listJobs('jobs', { state, limit, ...(after !== undefined ? { after } : {}) }));
    readsPerRequest.push(b.c.segmentReads - before);
    jobs.push(...page.jobs);
    if (page.next === null) return { jobs, readsPerRequest, total: page.total };
    after = page.next;
  }
  throw new Error('paging did not end');
}

const ids = (jobs: JobRecord[]) => jobs.map((j) => j.id);

describe('Broker#listJobs into segments', () => {
  it('pages a backlog of three priorities in claim order, at most two segment reads a request, changing nothing', async () => {
    const b = setup();
    const { broker, clock } = b;
    const jobs = Array.from({ length: 60 }, (_, i) => ({ id: `j${String(i).padStart(2, '0')}`, payload: { i }, priority: i % 3 }));
    await drive(clock, broker.push('jobs', jobs));
    // Claims take jobs from the front: the head refills from segments, leaving them partly taken (skip).
    const claimed = await drive(clock, broker.claim('jobs', { workerId: 'w', max: 7 }));
    expect(claimed.length).toBeGreaterThan(0);
    // Cancels of jobs waiting in segments leave tombstones in the head.
    const deep = ['j57', 'j58', 'j41'];
    for (const id of deep) await drive(clock, broker.cancel('jobs', id));
    await drive(clock, broker.loop('jobs').idle());
    const s = broker.loop('jobs').committed!;
    expect(s.backlog.tombstones.size).toBeGreaterThan(0);
    expect([...s.backlog.reg.refs.values()].some((r) => r.skip > 0) || s.backlog.segPending > 0).toBe(true);
    const headBefore = serializeState(s).toString();
    const writesBefore = b.c.writes;

    const { jobs: listed, readsPerRequest, total } = await pageAll(b, 'pending', 8);
    const gone = new Set([...claimed.map((j) => j.id), ...deep]);
    const expected = jobs.filter((j) => !gone.has(j.id)).sort((x, y) => y.priority - x.priority || x.payload.i - y.payload.i);
    expect(ids(listed)).toEqual(expected.map((j) => j.id));
    expect(total).toBe(expected.length);
    expect(listed[0]).toMatchObject({ state: 'pending', payload: { i: expected[0]!.payload.i } });
    expect(Math.max(...readsPerRequest)).toBeLessThanOrEqual(2);
    expect(readsPerRequest.reduce((x, y) => x + y, 0)).toBeGreaterThan(0);
    // Paging wrote nothing and left the committed state as it was.
    expect(b.c.writes).toBe(writesBefore);
    expect(serializeState(broker.loop('jobs').committed!).toString()).toBe(headBefore);

    // What the pages showed is what claims hand out, in that order.
    const order: string[] = [];
    for (let i = 0; i < 200 && order.length < expected.length; i++) {
      const got = await drive(clock, broker.claim('jobs', { workerId: 'w', max: 3, waitMs: 50 }));
      order.push(...got.map((j) => j.id));
    }
    expect(order).toEqual(ids(listed));
    await broker.stop();
  });

  it('delayed jobs are listed by due time across overlapping delayed segments', async () => {
    const b = setup();
    const { broker, clock } = b;
    const due = new Map<string, number>();
    for (let s = 0; s < 5; s++) {
      const jobs = Array.from({ length: 7 }, (_, i) => {
        const delayMs = 60_000 + ((i * 11 + s * 5) % 40) * 60_000;
        due.set(`d${s}-${i}`, delayMs);
        return { id: `d${s}-${i}`, payload: 1, delayMs };
      });
      await drive(clock, broker.push('jobs', jobs));
    }
    await drive(clock, broker.cancel('jobs', 'd2-3'));
    due.delete('d2-3');
    expect(broker.loop('jobs').committed!.backlog.delayedSegs.length).toBeGreaterThan(2);
    const { jobs, readsPerRequest } = await pageAll(b, 'delayed', 5);
    expect(new Set(ids(jobs))).toEqual(new Set(due.keys()));
    expect(jobs).toHaveLength(due.size);
    for (let i = 1; i < jobs.length; i++) expect(jobs[i - 1]!.runAt < jobs[i]!.runAt || (jobs[i - 1]!.runAt === jobs[i]!.runAt && jobs[i - 1]!.order < jobs[i]!.order)).toBe(true);
    expect(Math.max(...readsPerRequest)).toBeLessThanOrEqual(2);
    await broker.stop();
  });

  it("a new leader pages its predecessor's segments, and finds a job deep in one by its exact id", async () => {
    const first = setup();
    await drive(first.clock, first.broker.push('jobs', Array.from({ length: 40 }, (_, i) => ({ id: `a${i}`, payload: { i } }))));
    await first.broker.stop();
    const next = setup(first.base, first.clock, 'b2');
    const { jobs } = await pageAll(next, 'pending', 50);
    expect(ids(jobs)).toEqual(Array.from({ length: 40 }, (_, i) => `a${i}`));
    const found = await drive(next.clock, next.broker.listJobs('jobs', { state: 'pending', limit: 10, q: 'a37' }));
    expect(found).toMatchObject({ total: 1, next: null, jobs: [{ id: 'a37', state: 'pending', payload: { i: 37 } }] });
    expect(found).not.toHaveProperty('lookup');
    // A prefix lists the head's matches only (a37 is deep in a segment).
    const prefix = await drive(next.clock, next.broker.listJobs('jobs', { state: 'pending', limit: 50, q: 'a3' }));
    expect(ids(prefix.jobs)).not.toContain('a37');
    await next.broker.stop();
  });
});
