/**
 * The chaos checker on synthetic histories: one that keeps every promise passes, and each broken
 * promise (a lost push, a double ack, an unexplained redelivery, an unjustified dead letter, two
 * leaders at one epoch) makes it fail, naming the job. The redelivery explanations are each shown
 * to be what turns a redelivery from unexplained into explained.
 */
import { describe, expect, it } from 'vitest';
import { checkHistory, failover, type FinalStore, type StoredJob } from '../../chaos/checker.js';
import type { EventBody, HistoryEvent } from '../../chaos/history.js';

const T0 = 1_800_000_000_000;
const LEASE = 2000;

/** A history under construction: events at wall time T0 + ms (the monotonic clock is the same ms). */
class History {
  readonly events: HistoryEvent[] = [];
  at(ms: number, p: string, body: EventBody): this {
    this.events.push({ t: T0 + ms, m: ms, p, ...body } as HistoryEvent);
    return this;
  }
  push(ms: number, id: string, ok = true): this {
    return this.at(ms, 'p0', { op: 'push', id, st: T0 + ms - 5, sm: ms - 5, ok, ...(ok ? { created: true } : { code: 'UNAVAILABLE' }) });
  }
  deliver(ms: number, worker: string, id: string, attempt: number, maxAttempts = 5): this {
    return this.at(ms, worker, { op: 'deliver', id, attempt, maxAttempts, lease: lease(id, attempt), until: T0 + ms + LEASE, worker });
  }
  ack(ms: number, worker: string, id: string, attempt: number, ok = true): this {
    return this.at(ms, worker, { op: 'ack', id, lease: lease(id, attempt), st: T0 + ms - 2, sm: ms - 2, ok, ...(ok ? {} : { code: 'LEASE_LOST' }) });
  }
  nack(ms: number, worker: string, id: string, attempt: number, state = 'pending'): this {
    return this.at(ms, worker, { op: 'nack', id, lease: lease(id, attempt), st: T0 + ms - 2, sm: ms - 2, ok: true, state });
  }
  heartbeat(ms: number, worker: string, id: string, attempt: number): this {
    return this.at(ms, worker, { op: 'hb', id, lease: lease(id, attempt), ok: true, until: T0 + ms + LEASE });
  }
}

const lease = (id: string, attempt: number) => `${id}#${attempt}`;
const completed = (id: string, attempt: number, worker: string): StoredJob => ({ id, state: 'completed', attempts: attempt, maxAttempts: 5, lease: { worker, token: lease(id, attempt), until: 0 } });

/** Everything right: a plain job, a retry after a nack, a redelivery after a lease expiry, a poison job dead after its attempts. */
function good(): { h: History; final: FinalStore } {
  const h = new History()
    .at(0, 'brokers', { op: 'leader', broker: 'b0.0', epoch: 1 })
    .push(100, 'a').deliver(110, 'w0.0', 'a', 1).ack(130, 'w0.0', 'a', 1)
    .push(200, 'b').deliver(210, 'w0.0', 'b', 1).nack(220, 'w0.0', 'b', 1).deliver(330, 'w1.0', 'b', 2).ack(340, 'w1.0', 'b', 2)
    // c: w0 holds it, heartbeats once, then goes silent; it is handed to w1 after the lease ran out.
    .push(300, 'c').deliver(310, 'w0.0', 'c', 1).heartbeat(900, 'w0.0', 'c', 1).deliver(3000, 'w1.0', 'c', 2).ack(3010, 'w1.0', 'c', 2)
    .ack(3020, 'w0.0', 'c', 1, false)
    .push(400, 'poison').deliver(410, 'w0.0', 'poison', 1, 2).nack(420, 'w0.0', 'poison', 1).deliver(530, 'w1.0', 'poison', 2, 2).nack(540, 'w1.0', 'poison', 2, 'dead')
    // A push that failed and never landed is no loss.
    .push(500, 'never', false);
  const final: FinalStore = {
    finished: [
      completed('a', 1, 'w0.0'), completed('b', 2, 'w1.0'), completed('c', 2, 'w1.0'),
      { id: 'poison', state: 'dead', attempts: 2, maxAttempts: 2, lastError: 'poison' },
    ],
    live: [],
    deadIndex: { poison: { attempts: 2 } },
    epoch: 1,
    counters: { pushed: 4, completed: 3, dead: 1, claimed: 7 },
    invariantError: null,
  };
  return { h, final };
}

const check = (h: History, final: FinalStore) => checkHistory({ events: [...h.events].sort((x, y) => x.m - y.m), final, window: { start: T0, end: T0 + 4000 } });

/** Counters as a correct broker would have kept them for `final`'s records (tests that add jobs use this). */
function agree(final: FinalStore, claimed = 100): FinalStore {
  const ids = new Set([...final.finished, ...final.live].map((j) => j.id));
  const by = (state: string) => new Set(final.finished.filter((j) => j.state === state).map((j) => j.id)).size;
  return { ...final, counters: { pushed: ids.size, completed: by('completed'), dead: by('dead'), claimed } };
}

describe('chaos checker', () => {
  it('passes a history that keeps every promise, and counts what happened', () => {
    const { h, final } = good();
    const r = check(h, final);
    expect(r.failed).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.counts).toMatchObject({ pushesAcked: 4, pushesFailed: 1, deliveries: 7, acksAccepted: 3, acksRejected: 1, completed: 3, dead: 1, deliveredMoreThanOnce: 3 });
    expect(r.redeliveries).toEqual({ nack: 2, 'lease-expired': 1 });
    // Each redelivery no nack asked for is listed with its reason.
    expect(r.redelivered).toEqual([{ id: 'c', attempts: [1, 2], leases: ['c#1', 'c#2'], seen: [T0 + 310, T0 + 3000], reason: 'lease-expired' }]);
    // Writes landed in seconds 0 and 3 of 4 (none in 1 and 2).
    expect(r.availability).toBe(0.5);
    expect(r.pushLatencyMs).toEqual({ p50: 5, p99: 5, max: 5 });
  });

  it('fails on a lost push: acknowledged, and neither finished nor live in the store', () => {
    const { h, final } = good();
    h.push(600, 'lost');
    const r = check(h, agree(final));
    expect(r.ok).toBe(false);
    expect(r.failed).toEqual(['lostPushes']);
    expect(r.lostPushes).toEqual(['lost']);
  });

  it('fails on an acknowledged push still live after the drain, and on a job finished twice', () => {
    const { h, final } = good();
    h.push(600, 'stuck');
    final.live.push({ id: 'stuck', state: 'pending', attempts: 0, maxAttempts: 5 });
    final.finished.push(completed('a', 2, 'w1.0'));
    const r = check(h, agree(final));
    expect(r.failed).toEqual(['unfinished', 'finishedTwice']);
    expect([r.unfinished, r.finishedTwice]).toEqual([['stuck'], ['a']]);
  });

  it('fails on a double ack: two accepted acks of one job (two leases)', () => {
    const { h, final } = good();
    // c's first worker comes back after the lease moved on, and its ack is accepted too.
    h.events.splice(h.events.findIndex((e) => e.op === 'ack' && e.id === 'c' && !e.ok), 1);
    h.ack(3020, 'w0.0', 'c', 1);
    const r = check(h, agree(final));
    expect(r.ok).toBe(false);
    expect(r.doubleAcks).toEqual(['c']);
    // The accepted ack of lease c#1 is not the lease the job was completed with.
    expect(r.ackNotFinal).toEqual(['c']);
  });

  it('fails on an ack refused (LEASE_LOST) although the job was completed with its lease', () => {
    const { h, final } = good();
    h.push(700, 'd').deliver(710, 'w0.0', 'd', 1).ack(720, 'w0.0', 'd', 1, false);
    final.finished.push(completed('d', 1, 'w0.0'));
    const r = check(h, agree(final));
    expect(r.failed).toEqual(['ackDenied']);
    expect(r.ackDenied).toEqual(['d']);
    // Said to be a retry whose first try may have landed: no lie.
    (h.events.at(-1) as { retried?: boolean }).retried = true;
    expect(check(h, agree(final)).failed).toEqual([]);
  });

  it('fails on an unexplained redelivery: handed out again while its lease was valid', () => {
    const { h, final } = good();
    h.push(700, 'd').deliver(710, 'w0.0', 'd', 1).deliver(1200, 'w1.0', 'd', 2).ack(1210, 'w1.0', 'd', 2);
    final.finished.push(completed('d', 2, 'w1.0'));
    const r = check(h, agree(final));
    expect(r.ok).toBe(false);
    expect(r.failed).toEqual(['unexplained']);
    expect(r.unexplained).toEqual([{ id: 'd', attempts: [1, 2], leases: ['d#1', 'd#2'], seen: [T0 + 710, T0 + 1200], reason: null }]);
  });

  it('fails on a redelivery before the lease expiry that a heartbeat extended', () => {
    const { h, final } = good();
    // Without the heartbeat at 2000 the lease (until 2710) would be over at 2800.
    h.push(700, 'd').deliver(710, 'w0.0', 'd', 1).heartbeat(2000, 'w0.0', 'd', 1).deliver(2800, 'w1.0', 'd', 2).ack(2810, 'w1.0', 'd', 2);
    final.finished.push(completed('d', 2, 'w1.0'));
    expect(check(h, agree(final)).unexplained.map((u) => u.id)).toEqual(['d']);
  });

  it('explains the same redelivery by a leader change, a killed or a frozen worker between the deliveries', () => {
    const cases: Array<[string, (h: History) => void]> = [
      ['leader-change', (h) => h.at(900, 'brokers', { op: 'leader', broker: 'b1.0', epoch: 2 })],
      ['worker-killed', (h) => h.at(900, 'nemesis', { op: 'nemesis', action: 'kill', target: 'w0.0', role: 'worker' })],
      ['worker-frozen', (h) => h.at(900, 'nemesis', { op: 'nemesis', action: 'stop', target: 'w0.0', role: 'worker' })],
    ];
    for (const [reason, add] of cases) {
      const { h, final } = good();
      h.push(700, 'd').deliver(710, 'w0.0', 'd', 1).deliver(1200, 'w1.0', 'd', 2).ack(1210, 'w1.0', 'd', 2);
      add(h);
      final.finished.push(completed('d', 2, 'w1.0'));
      const r = check(h, agree(final));
      expect({ reason, failed: r.failed }).toEqual({ reason, failed: [] });
      expect(r.redeliveries[reason as 'leader-change']).toBe(1);
    }
    // The nemesis hitting another worker explains nothing.
    const { h, final } = good();
    h.push(700, 'd').deliver(710, 'w0.0', 'd', 1).deliver(1200, 'w1.0', 'd', 2).ack(1210, 'w1.0', 'd', 2);
    h.at(900, 'nemesis', { op: 'nemesis', action: 'kill', target: 'w2.0', role: 'worker' });
    final.finished.push(completed('d', 2, 'w1.0'));
    expect(check(h, agree(final)).failed).toEqual(['unexplained']);
  });

  it('fails on a second delivery with the same attempt number (two claims counted once)', () => {
    const { h, final } = good();
    h.push(700, 'd').deliver(710, 'w0.0', 'd', 1).at(4000, 'w1.0', { op: 'deliver', id: 'd', attempt: 1, maxAttempts: 5, lease: 'other', until: T0 + 6000, worker: 'w1.0' });
    h.ack(4010, 'w1.0', 'd', 1);
    final.finished.push(completed('d', 1, 'w0.0'));
    expect(check(h, agree(final)).failed).toEqual(['unexplained']);
  });

  it('explains a same-attempt redelivery by a release of the earlier lease sent before it, and only then', () => {
    const released = (at: number) => {
      const { h, final } = good();
      h.push(700, 'd').deliver(710, 'w0.0', 'd', 1).at(800, 'w1.0', { op: 'deliver', id: 'd', attempt: 1, maxAttempts: 5, lease: 'other', until: T0 + 2800, worker: 'w1.0' });
      h.at(at, 'w0.0', { op: 'release', id: 'd', lease: lease('d', 1), sm: at, ok: true });
      h.at(810, 'w1.0', { op: 'ack', id: 'd', lease: 'other', st: T0 + 808, sm: 808, ok: true });
      final.finished.push({ id: 'd', state: 'completed', attempts: 1, maxAttempts: 5, lease: { worker: 'w1.0', token: 'other', until: 0 } });
      return check(h, agree(final));
    };
    const before = released(750);
    expect(before.failed).toEqual([]);
    expect(before.redeliveries.released).toBe(1);
    expect(released(900).failed).toEqual(['unexplained']); // released only after it was handed out again
  });

  it('fails on dead letters that were not nacked or expired to exhaustion', () => {
    const early = good();
    early.h.push(700, 'e').deliver(710, 'w0.0', 'e', 1, 3).nack(720, 'w0.0', 'e', 1, 'dead');
    early.final.finished.push({ id: 'e', state: 'dead', attempts: 1, maxAttempts: 3, lastError: 'boom' });
    expect(check(early.h, agree(early.final)).deadUnjustified).toEqual([{ id: 'e', why: 'dead after 1 of 3 attempts' }]);

    const acked = good();
    acked.h.push(700, 'e').deliver(710, 'w0.0', 'e', 1, 1).ack(720, 'w0.0', 'e', 1);
    acked.final.finished.push({ id: 'e', state: 'dead', attempts: 1, maxAttempts: 1, lastError: 'boom' });
    expect(check(acked.h, agree(acked.final)).deadUnjustified).toEqual([{ id: 'e', why: 'dead although an ack was accepted' }]);

    // Last attempt delivered, never nacked, and the record says nothing of a lease expiry.
    const silent = good();
    silent.h.push(700, 'e').deliver(710, 'w0.0', 'e', 1, 1);
    silent.final.finished.push({ id: 'e', state: 'dead', attempts: 1, maxAttempts: 1 });
    const r = check(silent.h, agree(silent.final));
    expect(r.failed).toEqual(['deadUnjustified']);
    expect(r.deadUnjustified[0]!.why).toMatch(/neither a nack nor a lease expiry/);

    // The same, with the worker SIGKILLed after the delivery: its nack may have landed and its record died with it.
    const killed = good();
    killed.h.push(700, 'e').deliver(710, 'w0.0', 'e', 1, 1).at(720, 'nemesis', { op: 'nemesis', action: 'kill', target: 'w0.0', role: 'worker' });
    killed.final.finished.push({ id: 'e', state: 'dead', attempts: 1, maxAttempts: 1, lastError: 'boom' });
    expect(check(killed.h, agree(killed.final)).failed).toEqual([]);
    // ...but not without a lastError a nack would have written.
    killed.final.finished.splice(-1, 1, { id: 'e', state: 'dead', attempts: 1, maxAttempts: 1 });
    expect(check(killed.h, agree(killed.final)).failed).toEqual(['deadUnjustified']);

    // The same, expired: justified.
    const expired = good();
    expired.h.push(700, 'e').deliver(710, 'w0.0', 'e', 1, 1);
    expired.final.finished.push({ id: 'e', state: 'dead', attempts: 1, maxAttempts: 1, lastError: 'lease expired (worker w0.0)' });
    expect(check(expired.h, agree(expired.final)).failed).toEqual([]);
  });

  it('fails when queue.json\'s counters disagree with the records, or its invariants are broken', () => {
    const { h, final } = good();
    const r = check(h, { ...final, counters: { pushed: 5, completed: 4, dead: 0, claimed: 6 }, invariantError: 'invariant broken: x' });
    expect(r.failed).toEqual(['countersOff', 'invariants']);
    expect(r.countersOff).toEqual(['pushed 5, jobs 4', 'completed 4, completed records 3', 'dead 0, dead records 1', 'claimed 6, deliveries seen 7']);
  });

  it('fails on jobs nobody pushed, and on two brokers leading one epoch', () => {
    const { h, final } = good();
    final.finished.push(completed('ghost', 1, 'w0.0'));
    h.at(50, 'brokers', { op: 'leader', broker: 'b1.0', epoch: 1 });
    // One broker saying it twice is one leader.
    h.at(60, 'brokers', { op: 'leader', broker: 'b0.0', epoch: 1 });
    const r = check(h, agree(final));
    expect(r.failed).toEqual(['phantoms', 'epochTwice']);
    expect([r.phantoms, r.epochTwice]).toEqual([['ghost'], [1]]);
  });

  it('times failover from a fault of the leader to the first write under the next leader, and ignores faults of standbys', () => {
    const h = new History()
      .at(0, 'b0.1', { op: 'leader', broker: 'b0.1', epoch: 1 })
      .push(100, 'a')
      .at(1000, 'nemesis', { op: 'nemesis', action: 'kill', target: 'b0.1', role: 'broker' })
      .push(1010, 'landed-before-the-kill') // the old leader's commit, recorded late: not counted
      .at(2500, 'b1.1', { op: 'leader', broker: 'b1.1', epoch: 2 })
      .push(2600, 'b')
      .at(3000, 'nemesis', { op: 'nemesis', action: 'kill', target: 'b0.2', role: 'broker' }) // a standby: no failover
      .at(4000, 'nemesis', { op: 'nemesis', action: 'stop', target: 'b1.1', role: 'broker' })
      .at(5000, 'b0.2', { op: 'leader', broker: 'b0.2', epoch: 3 })
      .deliver(5200, 'w0', 'b', 1)
      .at(6000, 'nemesis', { op: 'nemesis', action: 'kill', target: 'b0.2', role: 'broker' }); // no next leader before the end: not counted
    expect(failover(h.events)).toEqual({ kill: { count: 1, p50: 1600, max: 1600 }, stop: { count: 1, p50: 1200, max: 1200 } });
  });
});
