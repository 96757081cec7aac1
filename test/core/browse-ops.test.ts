/** listJobs, workers and retryDead: the ops behind the dashboard's lists and "retry all dead". */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertInvariants } from '../../src/core/invariants.js';
import { CoreHarness } from './harness.js';

function push(h: CoreHarness, id: string, extra: Record<string, unknown> = {}) {
  h.ok('push', { jobs: [{ id, payload: { id }, ...extra }] });
}

/** Claims `id`-first jobs and nacks them until dead (maxAttempts 1: one nack kills). */
function kill(h: CoreHarness, n: number): void {
  const claimed = h.ok('claim', { worker: 'w', max: n, leaseMs: 1000, nonce: `k${h.now}` });
  for (const j of claimed.jobs) {
    h.ok('nack', { id: j.id, worker: 'w', token: j.lease, rand: 0, error: `boom ${j.id}` });
    h.now += 1;
  }
}

describe('listJobs', () => {
  it('pages pending jobs in claim order (priority, then FIFO) with a cursor and a total', () => {
    const h = new CoreHarness();
    for (const [id, priority] of [['a', 0], ['b', 5], ['c', 0], ['d', 5], ['e', -1]] as const) push(h, id, { priority });
    const first = h.ok('listJobs', { state: 'pending', limit: 2 });
    expect(first.jobs.map((j) => j.id)).toEqual(['b', 'd']);
    expect(first.total).toBe(5);
    const second = h.ok('listJobs', { state: 'pending', limit: 2, after: first.next! });
    expect(second.jobs.map((j) => j.id)).toEqual(['a', 'c']);
    const last = h.ok('listJobs', { state: 'pending', limit: 2, after: second.next! });
    expect(last.jobs.map((j) => j.id)).toEqual(['e']);
    expect(last.next).toBeNull();
    // The order claims really take.
    expect(h.ok('claim', { worker: 'w', max: 5, leaseMs: 100, nonce: 'n' }).jobs.map((j) => j.id)).toEqual(['b', 'd', 'a', 'c', 'e']);
  });

  it('a job pushed between two pages neither repeats one nor shifts the rest', () => {
    const h = new CoreHarness();
    for (const id of ['a', 'b', 'c']) push(h, id);
    const first = h.ok('listJobs', { state: 'pending', limit: 2 });
    push(h, 'first', { priority: 9 }); // sorts before the cursor
    const second = h.ok('listJobs', { state: 'pending', limit: 2, after: first.next! });
    expect(second.jobs.map((j) => j.id)).toEqual(['c']);
  });

  it('searches by id prefix, lists dead jobs newest first and other states by their own order', () => {
    const h = new CoreHarness();
    for (const id of ['job-1', 'job-2', 'other']) push(h, id, { maxAttempts: 1 });
    push(h, 'later', { delayMs: 5000 });
    expect(h.ok('listJobs', { state: 'pending', limit: 50, q: 'job-' }).jobs.map((j) => j.id)).toEqual(['job-1', 'job-2']);
    expect(h.ok('listJobs', { state: 'delayed', limit: 50 }).jobs.map((j) => j.id)).toEqual(['later']);
    kill(h, 3);
    const dead = h.ok('listJobs', { state: 'dead', limit: 50 });
    expect(dead.jobs.map((j) => j.id)).toEqual(['other', 'job-2', 'job-1']);
    // Not archived yet: the full record, payload and error included.
    expect(dead.jobs[0]).toMatchObject({ state: 'dead', payload: { id: 'other' }, lastError: 'boom other' });
    h.commit();
    const stub = h.ok('listJobs', { state: 'dead', limit: 1 });
    expect(stub.jobs[0]).toMatchObject({ id: 'other', state: 'dead', lastError: 'boom other' });
    expect(stub.jobs[0]!.archive).toBeDefined();
    expect(stub.total).toBe(3);
  });

  it('never changes the state, and refuses a bad state, limit or cursor', () => {
    const h = new CoreHarness();
    push(h, 'a');
    const before = JSON.stringify(h.ok('stats', {}));
    expect(h.run('listJobs', { state: 'pending', limit: 10 })).toMatchObject({ ok: true, changed: false });
    expect(h.run('workers', {})).toMatchObject({ ok: true, changed: false });
    expect(JSON.stringify(h.ok('stats', {}))).toBe(before);
    for (const bad of [{ state: 'done', limit: 1 }, { state: 'pending', limit: 0 }, { state: 'pending', limit: 501 }, { state: 'pending', limit: 1, after: 'zz' }]) {
      const r = h.run('listJobs', bad as never);
      expect(r.ok ? 'ok' : r.error.code).toBe('INVALID_ARGUMENT');
    }
  });
});

describe('listJobs paging (property)', () => {
  it('walking every page gives each job of the state exactly once, in the state order, whatever the page size', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ priority: fc.integer({ min: -2, max: 2 }), delayMs: fc.constantFrom(0, 0, 100, 500), claim: fc.boolean() }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 7 }),
        fc.constantFrom('pending', 'delayed', 'claimed'),
        (specs, limit, state) => {
          const h = new CoreHarness();
          specs.forEach((sp, i) => push(h, `j${i}`, { priority: sp.priority, delayMs: sp.delayMs }));
          h.ok('claim', { worker: 'w', max: Math.max(1, specs.filter((x) => x.claim).length), leaseMs: 1000, nonce: 'n' });
          const seen: string[] = [];
          let after: string | undefined;
          let pages = 0;
          do {
            const page = h.ok('listJobs', { state, limit, ...(after ? { after } : {}) });
            expect(page.jobs.length).toBeLessThanOrEqual(limit);
            seen.push(...page.jobs.map((j) => j.id));
            after = page.next ?? undefined;
            expect(++pages).toBeLessThan(100);
          } while (after);
          const expected = [...h.state.jobs.values()].filter((j) => j.state === state);
          expect(new Set(seen).size).toBe(seen.length);
          expect([...seen].sort()).toEqual(expected.map((j) => j.id).sort());
          if (state === 'pending') {
            // Exactly the order claims take.
            const claimed = h.ok('claim', { worker: 'x', max: 1000, leaseMs: 1000, nonce: 'm' }).jobs.map((j) => j.id);
            expect(seen).toEqual(claimed);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('workers', () => {
  it('groups claimed jobs by lease holder with their expiry and last heartbeat', () => {
    const h = new CoreHarness();
    for (const id of ['a', 'b', 'c']) push(h, id);
    const [a, b] = h.ok('claim', { worker: 'w2', max: 2, leaseMs: 1000, nonce: 'n1' }).jobs;
    h.now += 10;
    h.ok('claim', { worker: 'w1', max: 1, leaseMs: 500, nonce: 'n2' });
    h.now += 10;
    h.ok('heartbeat', { id: b!.id, worker: 'w2', token: b!.lease, leaseMs: 2000 });
    const { workers } = h.ok('workers', {});
    expect(workers.map((w) => w.workerId)).toEqual(['w1', 'w2']);
    expect(workers[1]).toMatchObject({ lastHeartbeatAt: h.now, leaseUntil: h.now + 2000 });
    expect(workers[1]!.jobs.map((j) => j.id)).toEqual([a!.id, b!.id]);
    expect(workers[0]!.jobs).toEqual([{ id: 'c', leaseUntil: h.now - 10 + 500, attempts: 1 }]);
  });
});

describe('retryDead', () => {
  it('sends every listed dead job back to pending in one op, once', () => {
    const h = new CoreHarness();
    for (const id of ['a', 'b', 'c']) push(h, id, { maxAttempts: 1 });
    kill(h, 3);
    h.commit(); // archived: the records now come from the archive, as the broker reads them
    const jobs = ['a', 'b', 'c', 'nope'].map((id) => ({ id, ...(h.archivedRecord(id) ? { record: h.archivedRecord(id)! } : {}) }));
    const r = h.run('retryDead', { jobs });
    expect(r.ok && r.changed).toBe(true);
    expect(r.ok && r.value).toMatchObject({ retried: 3, ids: ['a', 'b', 'c'], skipped: [{ id: 'nope', code: 'NOT_FOUND' }] });
    expect(h.ok('stats', {})).toMatchObject({ pending: 3, dead: 0 });
    expect(h.ok('get', { id: 'a' })).toMatchObject({ state: 'pending', attempts: 0, payload: { id: 'a' }, lastError: 'boom a' });
    // Re-run (a conflict replays the batch on a state where it already happened): nothing twice.
    const again = h.ok('retryDead', { jobs });
    expect(again.retried).toBe(0);
    expect(h.state.counters.retried).toBe(3);
    assertInvariants(h.state, h.now);
  });

  it('skips a dead job whose archived record the broker could not read', () => {
    const h = new CoreHarness();
    push(h, 'a', { maxAttempts: 1 });
    kill(h, 1);
    h.commit();
    const r = h.run('retryDead', { jobs: [{ id: 'a' }] });
    expect(r.ok && r.value.skipped).toEqual([{ id: 'a', code: 'UNAVAILABLE', message: expect.any(String) }]);
    expect(r.ok && r.changed).toBe(false);
    expect(h.state.dead.has('a')).toBe(true);
  });

  it('is deterministic: the same input on the same state gives the same state', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 8 }), fc.boolean(), (n, retryN, archive) => {
        const run = () => {
          const h = new CoreHarness();
          for (let i = 0; i < n; i++) push(h, `j${i}`, { maxAttempts: 1, priority: i % 3 });
          kill(h, n);
          if (archive) h.commit();
          const ids = [...h.state.dead.keys()].slice(0, retryN);
          const out = h.ok('retryDead', { jobs: ids.map((id) => ({ id, ...(h.archivedRecord(id) ? { record: h.archivedRecord(id)! } : {}) })) });
          assertInvariants(h.state, h.now);
          return JSON.stringify([out, h.ok('listJobs', { state: 'pending', limit: 500 }), h.ok('stats', {})]);
        };
        expect(run()).toBe(run());
      }),
      { numRuns: 50 },
    );
  });
});
