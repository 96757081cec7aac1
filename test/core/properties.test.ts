/**
 * Property-based tests of the core: random op sequences with clock moves, commits (archiving) and
 * reloads; the invariants are checked after every step, and a ledger tracks where every pushed job is.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { recentToken } from '../../src/core/recent.js';
import { assertInvariants } from '../../src/core/invariants.js';
import { CoreHarness } from './harness.js';

const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
const workers = ['w1', 'w2'];

const action = fc.oneof(
  fc.record({ t: fc.constant('push' as const), id: fc.constantFrom(...ids), delayMs: fc.constantFrom(0, 0, 50, 300), priority: fc.integer({ min: -1, max: 2 }), maxAttempts: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ t: fc.constant('claim' as const), worker: fc.constantFrom(...workers), max: fc.integer({ min: 1, max: 4 }), leaseMs: fc.constantFrom(50, 200) }),
  fc.record({ t: fc.constant('ack' as const), pick: fc.nat(), worker: fc.constantFrom(...workers, 'right') }),
  fc.record({ t: fc.constant('nack' as const), pick: fc.nat(), delayMs: fc.option(fc.constantFrom(0, 100)), rand: fc.double({ min: 0, max: 0.999, noNaN: true }) }),
  fc.record({ t: fc.constant('heartbeat' as const), pick: fc.nat() }),
  fc.record({ t: fc.constant('cancel' as const), id: fc.constantFrom(...ids) }),
  fc.record({ t: fc.constant('retry' as const), id: fc.constantFrom(...ids) }),
  fc.record({ t: fc.constant('retryDead' as const), pick: fc.option(fc.subarray(ids, { minLength: 1 })) }),
  fc.record({ t: fc.constant('purgeDead' as const), pick: fc.option(fc.subarray(ids, { minLength: 1 })) }),
  fc.record({ t: fc.constant('sweep' as const) }),
  fc.record({ t: fc.constant('tick' as const), ms: fc.constantFrom(10, 60, 250, 1000) }),
  fc.record({ t: fc.constant('commit' as const) }),
  fc.record({ t: fc.constant('reload' as const) }),
);

/** Whether (worker, token) holds the live lease on job `id` right now, by looking at the state. */
function ownsNow(h: CoreHarness, id: string, worker: string, token: string): boolean {
  const lease = h.state.jobs.get(id)?.lease;
  return !!lease && lease.worker === worker && lease.token === token && lease.until > h.now;
}

interface Lease {
  id: string;
  worker: string;
  token: string;
}

describe('core properties', () => {
  it('random op sequences keep the invariants and lose no job', () => {
    fc.assert(
      fc.property(fc.array(action, { minLength: 20, maxLength: 80 }), (actions) => {
        const h = new CoreHarness();
        h.state.settings.backoff = { type: 'exponential', baseMs: 20, maxMs: 200, jitter: 0.5 };
        const leases: Lease[] = [];
        /** Jobs created and not yet finished (by our own account). */
        const live = new Set<string>();
        let created = 0;
        let finished = 0;
        let nonce = 0;
        const acked = new Set<string>();
        const nacked = new Set<string>();
        for (const a of actions) {
          switch (a.t) {
            case 'push': {
              const r = h.ok('push', { jobs: [{ id: a.id, payload: a.id, delayMs: a.delayMs, priority: a.priority, maxAttempts: a.maxAttempts }] });
              if (r.jobs[0]!.created) {
                created++;
                live.add(a.id);
              }
              break;
            }
            case 'claim': {
              const r = h.ok('claim', { worker: a.worker, max: a.max, leaseMs: a.leaseMs, nonce: `n${nonce++}` });
              for (const j of r.jobs) {
                expect(j.attempt).toBeLessThanOrEqual(j.maxAttempts);
                leases.push({ id: j.id, worker: a.worker, token: j.lease });
              }
              break;
            }
            case 'ack': {
              const l = leases[a.pick % Math.max(1, leases.length)];
              if (!l) break;
              const worker = a.worker === 'right' ? l.worker : a.worker;
              const valid = ownsNow(h, l.id, worker, l.token);
              // A replayed ack of a completed job answers ok again without effect: while it waits to be
              // archived (same worker and token), and after, while the recent window holds its token.
              const replay =
                !h.state.jobs.has(l.id) &&
                (h.state.done.some((j) => j.id === l.id && j.state === 'completed' && j.lease?.token === l.token && j.lease.worker === worker) ||
                  (!h.state.idx.doneById.has(l.id) && recentToken(h.state.recent, l.id, h.now) === l.token));
              const completedBefore = h.state.counters.completed;
              const r = h.run('ack', { id: l.id, worker, token: l.token });
              // Accepted exactly when the caller holds the live lease (or replays); applied once per lease.
              expect(r.ok).toBe(valid || replay);
              if (r.ok && !replay) {
                expect(acked.has(l.token)).toBe(false);
                acked.add(l.token);
              }
              expect(h.state.counters.completed).toBe(completedBefore + (r.ok && !replay ? 1 : 0));
              if (!r.ok) {
                expect(r.error.code).toBe('LEASE_LOST');
              }
              break;
            }
            case 'nack': {
              // Mostly one of the last few leases: an older one has almost always been settled or
              // has expired, and a nack that lands (then its replay) would hardly ever be drawn.
              const l = a.pick % 4 === 0 ? leases[a.pick % Math.max(1, leases.length)] : leases[leases.length - 1 - (a.pick % Math.min(3, Math.max(1, leases.length)))];
              if (!l) break;
              const valid = ownsNow(h, l.id, l.worker, l.token);
              // A replayed nack answers ok again without effect while the head still has the job's
              // record (or its dead-letter entry) naming that nack: the last one of the job.
              const record = h.state.jobs.get(l.id) ?? h.state.idx.doneById.get(l.id);
              const by = record ? record.nackedBy : h.state.dead.get(l.id)?.nackedBy;
              const replay = !valid && nacked.has(l.token) && by?.token === l.token && by.worker === l.worker;
              const nackedBefore = h.state.counters.nacked;
              const r = h.run('nack', { id: l.id, worker: l.worker, token: l.token, rand: a.rand, ...(a.delayMs === null ? {} : { delayMs: a.delayMs }) });
              expect(r.ok).toBe(valid || replay);
              expect(h.state.counters.nacked).toBe(nackedBefore + (r.ok && !replay ? 1 : 0));
              if (r.ok && !replay) nacked.add(l.token);
              if (!r.ok) expect(r.error.code).toBe('LEASE_LOST');
              break;
            }
            case 'heartbeat': {
              const l = leases[a.pick % Math.max(1, leases.length)];
              if (!l) break;
              const valid = ownsNow(h, l.id, l.worker, l.token);
              const r = h.run('heartbeat', { id: l.id, worker: l.worker, token: l.token, leaseMs: 200 });
              expect(r.ok).toBe(valid);
              if (!r.ok) expect(r.error.code).toBe('LEASE_LOST');
              break;
            }
            case 'cancel': {
              const r = h.run('cancel', { id: a.id });
              if (!r.ok) expect(['NOT_FOUND', 'FAILED_PRECONDITION']).toContain(r.error.code);
              break;
            }
            case 'retry': {
              const rec = h.archivedRecord(a.id);
              const r = h.run('retry', rec ? { id: a.id, record: rec } : { id: a.id });
              if (r.ok) live.add(a.id);
              else expect(['NOT_FOUND', 'FAILED_PRECONDITION', 'UNAVAILABLE']).toContain(r.error.code);
              break;
            }
            case 'retryDead': {
              // The broker lists the dead jobs and reads their records; ids that are not dead are reported, not fatal.
              const targets = a.pick ?? [...h.state.dead.keys()];
              const deadBefore = targets.filter((id) => h.state.dead.has(id));
              const r = h.ok('retryDead', { jobs: targets.map((id) => ({ id, ...(h.archivedRecord(id) ? { record: h.archivedRecord(id)! } : {}) })) });
              expect(r.retried + r.skipped.length).toBe(targets.length);
              for (const id of r.ids) {
                expect(deadBefore).toContain(id);
                expect(h.state.jobs.get(id)?.state).toBe('pending');
                expect(h.state.jobs.get(id)?.attempts).toBe(0);
                live.add(id);
              }
              for (const s of r.skipped) expect(s.code === 'NOT_FOUND' ? !deadBefore.includes(s.id) : h.state.dead.has(s.id)).toBe(true);
              break;
            }
            case 'purgeDead': {
              // Dead-letter entries only: live jobs are untouched, so the ledger below holds as before.
              const deadBefore = new Set(h.state.dead.keys());
              const liveBefore = h.state.jobs.size;
              const r = h.ok('purgeDead', a.pick ? { ids: a.pick } : {});
              expect(r.purged).toBe(a.pick ? a.pick.filter((id) => deadBefore.has(id)).length : deadBefore.size);
              expect(r.skipped.map((x) => x.id)).toEqual(a.pick ? a.pick.filter((id) => !deadBefore.has(id)) : []);
              for (const id of a.pick ?? deadBefore) expect(h.state.dead.has(id)).toBe(false);
              expect(h.state.jobs.size).toBe(liveBefore);
              break;
            }
            case 'sweep':
              h.ok('sweep', {});
              break;
            case 'tick':
              h.now += a.ms;
              break;
            case 'commit':
              h.commit();
              break;
            case 'reload':
              h.reload();
              break;
          }
          assertInvariants(h.state, h.now);
          // Ledger: every job we consider live is live in the state, or finished (done / archived).
          for (const id of [...live]) {
            if (h.state.jobs.has(id)) continue;
            const inDone = h.state.done.some((j) => j.id === id);
            const inArchive = [...h.archive.values()].some((list) => list.some((j) => j.id === id));
            expect(inDone || inArchive, `job ${id} vanished`).toBe(true);
            live.delete(id);
            finished++;
          }
          const st = h.state.idx.counts;
          expect(st.pending + st.delayed + st.claimed).toBe(live.size);
        }
        expect(finished).toBeLessThanOrEqual(created + h.state.counters.retried);
      }),
      { numRuns: 300 },
    );
  });

  it('replaying the same batch on the same state gives the same results (re-runnable ops)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...ids), { minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 5 }), (pushIds, max) => {
        const run = () => {
          const h = new CoreHarness();
          const out: unknown[] = [];
          for (const id of pushIds) out.push(h.run('push', { jobs: [{ id, payload: id }] }));
          out.push(h.run('claim', { worker: 'w', max, leaseMs: 100, nonce: 'fixed' }));
          return JSON.stringify(out);
        };
        expect(run()).toBe(run());
      }),
    );
  });
});
