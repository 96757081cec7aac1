/**
 * Model-based test of the segmented backlog: random pushes, bulk pushes, claims, acks, nacks
 * (retries, with and without delay), releases, cancels, clock ticks, refills that arrive or not,
 * compactions, commits, crashes between a segment write and its head, and reloads from the
 * committed head and the stored segments. Limits are tiny, so backlogs span many segments. After
 * every step the backlog must agree with a reference queue (an array ordered by priority, then
 * push order): the same jobs claimed in the same order, the same counts, every id where it is.
 */
import fc from 'fast-check';
import { isQueueError } from '../../../src/errors.js';
import { describe, expect, it } from 'vitest';
import { assertBacklogInvariants } from '../../../src/core/segments/invariants.js';
import { isOrphan } from '../../../src/core/segments/segment-keys.js';
import type { JobRecord } from '../../../src/core/types.js';
import { BacklogHarness, newJob, RefQueue } from './backlog-harness.js';

const action = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('push' as const), priority: fc.integer({ min: 0, max: 2 }), delayMs: fc.constantFrom(0, 0, 0, 400, 5000) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('pushMany' as const), n: fc.integer({ min: 2, max: 40 }), priority: fc.integer({ min: 0, max: 2 }), delayMs: fc.constantFrom(0, 0, 3000) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('claim' as const), max: fc.integer({ min: 1, max: 8 }) }) },
  fc.record({ t: fc.constant('ack' as const), pick: fc.nat() }),
  fc.record({ t: fc.constant('nack' as const), pick: fc.nat(), delayMs: fc.constantFrom(0, 700) }),
  fc.record({ t: fc.constant('release' as const), pick: fc.nat() }),
  { weight: 3, arbitrary: fc.record({ t: fc.constant('cancel' as const), picks: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }) }) },
  fc.record({ t: fc.constant('lookup' as const), pick: fc.nat() }),
  fc.record({ t: fc.constant('tick' as const), ms: fc.constantFrom(100, 500, 1000) }),
  { weight: 2, arbitrary: fc.record({ t: fc.constant('refill' as const), some: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('compact' as const) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('commit' as const) }) },
  fc.record({ t: fc.constant('crash' as const), wrote: fc.boolean() }),
  fc.record({ t: fc.constant('reload' as const) }),
);

/** A cancel; past the tombstone bound it is refused (retryable) until compaction has run. */
function cancelOrCompact(h: BacklogHarness, id: string) {
  try {
    return h.cancel(id);
  } catch (err) {
    if (!isQueueError(err, 'UNAVAILABLE')) throw err;
    expect(h.b.tombstones.size).toBe(4 * h.b.limits.tombstoneMax);
    h.b.compact(h.b.compactionPlan(), h.source(), h.now);
    expect(h.b.tombstones.size).toBeLessThanOrEqual(h.b.limits.tombstoneMax);
    return h.cancel(id);
  }
}

describe('segmented backlog against a reference queue', () => {
  it('claims in priority-then-FIFO order across window, segments and tails, and loses no job', () => {
    fc.assert(
      fc.property(fc.array(action, { minLength: 30, maxLength: 150, size: 'max' }), (actions) => {
        const h = new BacklogHarness();
        let ref = new RefQueue();
        let claimed: JobRecord[] = [];
        let saved = { ref: ref.clone(), claimed: [] as JobRecord[] };
        let ids = 0;
        const orphans = new Set<string>();
        const everPushed: string[] = [];
        const pushOne = (priority: number, delayMs: number) => {
          const id = `j${ids++}`;
          const r = ref.push(id, priority, h.now + delayMs, h.now);
          expect(h.locate(id)).toBeUndefined();
          h.b.add(newJob(id, priority, h.orders.nextOrder++, r.runAt, h.now), h.now);
          everPushed.push(id);
        };
        for (const a of actions) {
          switch (a.t) {
            case 'push':
              pushOne(a.priority, a.delayMs);
              break;
            case 'pushMany':
              for (let i = 0; i < a.n; i++) pushOne(a.priority, a.delayMs);
              break;
            case 'claim': {
              ref.promote(h.now);
              const got = h.claim(a.max);
              const want = ref.pending().slice(0, got.jobs.length);
              expect(got.jobs.map((j) => j.id)).toEqual(want.map((j) => j.id));
              if (!got.blocked) expect(got.jobs.length).toBe(Math.min(a.max, ref.count('pending')));
              for (const j of want) j.state = 'claimed';
              claimed.push(...got.jobs);
              break;
            }
            case 'ack':
            case 'nack':
            case 'release': {
              if (claimed.length === 0) break;
              const [job] = claimed.splice(a.pick % claimed.length, 1);
              if (a.t === 'ack') ref.jobs.delete(job!.id);
              else if (a.t === 'nack') {
                h.b.requeue(job!, h.now + a.delayMs, h.now);
                ref.requeue(job!.id, h.now + a.delayMs, h.now);
                expect(job!.order).toBe(ref.jobs.get(job!.id)!.order);
              } else {
                h.b.returnUnclaimed(job!, h.now);
                ref.jobs.get(job!.id)!.state = 'pending';
              }
              break;
            }
            case 'cancel': {
              // Mostly jobs still waiting (deep in the backlog), sometimes any id ever pushed.
              const waiting = [...ref.jobs.keys()];
              for (const pick of a.picks) {
                const pool = pick % 4 === 0 || waiting.length === 0 ? everPushed : waiting;
                if (pool.length === 0) break;
                const id = pool[pick % pool.length]!;
                const r = ref.jobs.get(id);
                const out = cancelOrCompact(h, id);
                const cancellable = r !== undefined && r.state !== 'claimed';
                expect('removed' in out || 'tombstoned' in out).toBe(cancellable);
                if (cancellable) ref.jobs.delete(id);
              }
              break;
            }
            case 'lookup': {
              if (everPushed.length === 0) break;
              const id = everPushed[a.pick % everPushed.length]!;
              const r = ref.jobs.get(id);
              const loc = h.locate(id);
              const found = loc !== undefined && (loc.at === 'head' || loc.at === 'segment');
              expect(found, `lookup of ${id}: ${JSON.stringify(loc)} vs ${r?.state}`).toBe(r !== undefined && r.state !== 'claimed');
              if (loc?.at === 'segment') expect(h.decoded(loc.key).meta.ids).toContain(id);
              break;
            }
            case 'tick':
              h.now += a.ms;
              // The loop reads delayed segments ahead by the lookahead (>= any tick here).
              h.loadDue();
              break;
            case 'refill':
              h.refill(a.some ? (k) => k.charCodeAt(k.length - 5) % 2 === 0 : undefined);
              break;
            case 'compact': {
              const plan = h.b.compactionPlan();
              h.b.compact(plan, h.source(), h.now);
              break;
            }
            case 'commit':
              h.commit();
              saved = { ref: ref.clone(), claimed: claimed.map((j) => structuredClone(j)) };
              break;
            case 'crash': {
              for (const k of h.crash(a.wrote)) orphans.add(k);
              ref = saved.ref.clone();
              claimed = saved.claimed.map((j) => structuredClone(j));
              h.loadDue();
              break;
            }
            case 'reload':
              h.commit();
              saved = { ref: ref.clone(), claimed: claimed.map((j) => structuredClone(j)) };
              h.reload();
              h.loadDue();
              break;
          }
          assertBacklogInvariants(h.b);
          expect(h.b.counts()).toEqual({ pending: ref.count('pending'), delayed: ref.count('delayed') });
        }
        // A segment a crash left behind is never named, and once a commit at or past its seq has
        // landed, the orphan rule sees it as one (before, it could be the attempt in flight).
        h.commit();
        const named = new Set([...h.b.reg.refs.keys(), ...h.b.reg.garbage.map((g) => g.key)]);
        for (const k of orphans) {
          expect(named.has(k)).toBe(false);
          expect(isOrphan(k, { referenced: named, inFlight: new Set(), epoch: h.epoch, landedSeq: h.seq - 1 })).toBe(true);
        }
        for (const k of named) expect(isOrphan(k, { referenced: named, inFlight: new Set(), epoch: h.epoch, landedSeq: h.seq - 1 })).toBe(false);
        // Drain: everything left comes out in the reference's order.
        h.now += 1_000_000;
        h.loadDue();
        ref.promote(h.now);
        const rest: string[] = [];
        for (let guard = 0; guard < 10_000; guard++) {
          const got = h.claim(1000);
          rest.push(...got.jobs.map((j) => j.id));
          if (!got.blocked) break;
          h.refill();
        }
        expect(rest).toEqual(ref.pending().map((j) => j.id));
      }),
      { numRuns: 300 },
    );
  });
});
