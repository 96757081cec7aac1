/**
 * The lease rules of one topic (src/broker/leadership.ts) alone: the `elect` input of a fresh, a
 * leading and a refused broker (run through the real core op), renewal, fail-fast NOT_LEADER from
 * the last read, and the stale-lease wait. Fake clock, no store.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock, type Clock } from '../../src/clock.js';
import { GONE_TRUSTED_MS, Leadership, STANDBY_RECHECK_MS } from '../../src/broker/leadership.js';
import { apply } from '../../src/core/apply.js';
import { createState, type QueueState } from '../../src/core/state.js';
import type { BrokerLease } from '../../src/core/types.js';
import { keepAliveClock } from './helpers.js';

const LEASE_MS = 3000;

function leadership(clock: Clock = new FakeClock(), standby: 'wait' | 'reject' = 'reject', brokerId = 'A') {
  return new Leadership({ topic: 'jobs', brokerId, url: `http://${brokerId.toLowerCase()}`, leaseMs: LEASE_MS, standby, clock });
}

/** A state whose lease is held by `id` at `epoch` until `leaseUntil`. */
function ledBy(id: string, epoch: number, leaseUntil: number): QueueState {
  const s = createState('jobs');
  s.broker = { id, url: `http://${id.toLowerCase()}`, epoch, leaseUntil };
  return s;
}

function holder(s: QueueState): BrokerLease {
  return s.broker!;
}

describe('Leadership: the term', () => {
  it('a broker elects itself into a free topic, then holds exactly the lease it took: a later epoch under its own id is not its own', () => {
    const clock = new FakeClock();
    const l = leadership(clock);
    const s = createState('jobs');
    const e = apply(s, 'elect', l.electInput(), clock.now());
    expect(e).toMatchObject({ ok: true, value: { id: 'A', epoch: 1 } });
    expect(l.holds(s)).toBe(false); // not until the commit carrying it landed
    l.took(1);
    expect(l.holds(s)).toBe(true);
    expect(l.electInput()).toMatchObject({ id: 'A', held: 1, restarted: false });
    expect(l.holds(ledBy('A', 2, clock.now() + LEASE_MS))).toBe(false);
    expect(l.holds(ledBy('B', 1, clock.now() + LEASE_MS))).toBe(false);
  });

  it('restarted under its own id, a broker takes its previous incarnation\'s live lease at once, with a new epoch', () => {
    const clock = new FakeClock();
    const l = leadership(clock);
    expect(l.electInput()).toEqual({ id: 'A', url: 'http://a', leaseMs: LEASE_MS, restarted: true });
    const s = ledBy('A', 4, clock.now() + LEASE_MS);
    expect(apply(s, 'elect', l.electInput(), clock.now())).toMatchObject({ ok: true, value: { id: 'A', epoch: 5 } });
  });

  it('once refused it is no restart any more: a live lease under its own id (a twin, or itself fenced) is NOT_LEADER from then on', () => {
    const clock = new FakeClock();
    const l = leadership(clock);
    const twin = ledBy('A', 7, clock.now() + LEASE_MS);
    l.refused(ledBy('B', 6, clock.now() + LEASE_MS).broker);
    expect(l.electInput()).toEqual({ id: 'A', url: 'http://a', leaseMs: LEASE_MS, restarted: false });
    expect(apply(twin, 'elect', l.electInput(), clock.now())).toMatchObject({ ok: false, error: { code: 'NOT_LEADER' } });
  });

  it('a lost topic forgets the term: its reset elects with a new epoch, and no leader is named', () => {
    const clock = new FakeClock();
    const l = leadership(clock);
    l.took(3);
    l.forget();
    expect(l.electInput()).not.toHaveProperty('held');
    expect(l.leader).toBeNull();
  });
});

describe('Leadership: renewal', () => {
  it('a lease is due for renewal once a third of it has passed; commits renew it unless the broker resigned', () => {
    const clock = new FakeClock();
    const l = leadership(clock);
    const lease = { id: 'A', url: '', epoch: 1, leaseUntil: clock.now() + LEASE_MS };
    expect(l.renewDue(lease, clock.now() + LEASE_MS / 3 - 1)).toBe(false);
    expect(l.renewDue(lease, clock.now() + LEASE_MS / 3)).toBe(true);
    l.renew(lease, clock.now() + 500);
    expect(lease.leaseUntil).toBe(clock.now() + 500 + LEASE_MS);
    l.resign();
    lease.leaseUntil = 0; // what `resign` wrote
    l.renew(lease, clock.now() + 1000);
    expect(lease.leaseUntil).toBe(0);
    expect(l.resigning).toBe(true);
  });

  it('the renewal timer fires a third of a lease after it was last set, and keeps no process alive', async () => {
    const { fake, clock, alive } = keepAliveClock();
    const l = leadership(clock);
    const fired: number[] = [];
    l.scheduleRenewal(() => fired.push(fake.now()));
    await fake.advance(500);
    l.scheduleRenewal(() => fired.push(fake.now())); // a commit: the timer starts over
    expect(l.renewalScheduled).toBe(true);
    expect(alive.size).toBe(0); // housekeeping: an idle process may exit
    await fake.advance(LEASE_MS / 3);
    expect(fired).toEqual([fake.now()]);
    expect(l.renewalScheduled).toBe(false);
    l.scheduleRenewal(() => fired.push(-1));
    l.cancelTimers();
    await fake.advance(LEASE_MS);
    expect(fired).toHaveLength(1);
  });
});

describe('Leadership: standby', () => {
  it('reject mode answers NOT_LEADER naming the holder from the last read, while it is recent and the holder\'s lease runs', async () => {
    const clock = new FakeClock();
    const l = leadership(clock);
    expect(l.failFast()).toBeNull(); // nothing read yet: a batch must look
    l.refused(holder(ledBy('B', 2, clock.now() + 10 * STANDBY_RECHECK_MS)));
    expect(l.failFast()).toMatchObject({ code: 'NOT_LEADER', details: { leader: 'http://b', leaderId: 'B', epoch: 2 } });
    expect(l.leader).toMatchObject({ id: 'B' });
    await clock.advance(STANDBY_RECHECK_MS - 1);
    expect(l.failFast()).not.toBeNull();
    await clock.advance(1);
    expect(l.failFast()).toBeNull(); // a second old: read again
  });

  it('reject mode never fails fast on a lease that has run out: a batch reads and may take over', async () => {
    const clock = new FakeClock();
    const l = leadership(clock);
    l.refused(holder(ledBy('B', 2, clock.now() + 100)));
    await clock.advance(100);
    expect(l.failFast()).toBeNull();
    expect(l.mustWait()).toBe(false);
  });

  it('a holder found gone: failFast reads again, and elect takes that holder\'s live lease at that epoch only', () => {
    const clock = new FakeClock();
    const l = leadership(clock);
    const s = ledBy('B', 2, clock.now() + 10 * LEASE_MS);
    l.refused(holder(s));
    expect(l.markGone({ id: 'B', epoch: 1 })).toBe(false); // an older term than the one last read
    expect(l.markGone({ id: 'C', epoch: 2 })).toBe(false);
    expect(l.failFast()).not.toBeNull();
    expect(l.electInput()).not.toHaveProperty('gone');

    expect(l.markGone({ id: 'B', epoch: 2 })).toBe(true);
    expect(l.failFast()).toBeNull(); // the next request reads again
    expect(l.electInput()).toMatchObject({ gone: { id: 'B', epoch: 2 } });
    // The read shows the same holder, its lease still running: taken, with the next epoch.
    l.refused(holder(s));
    expect(apply(s, 'elect', l.electInput(), clock.now())).toMatchObject({ ok: true, value: { id: 'A', epoch: 3 } });
    l.took(3);
    expect(l.electInput()).not.toHaveProperty('gone');
  });

  it('the evidence of a holder gone is trusted for GONE_TRUSTED_MS: a takeover that could not be written in that time waits for new evidence or the lease', async () => {
    const clock = new FakeClock();
    const l = leadership(clock);
    const s = ledBy('B', 2, clock.now() + 10 * GONE_TRUSTED_MS);
    l.refused(holder(s));
    l.markGone({ id: 'B', epoch: 2 });
    await clock.advance(GONE_TRUSTED_MS - 1);
    expect(l.electInput()).toMatchObject({ gone: { id: 'B', epoch: 2 } });
    await clock.advance(1);
    expect(l.electInput()).not.toHaveProperty('gone');
    l.refused(holder(s)); // read again: B's lease runs, so requests fail fast again
    expect(apply(s, 'elect', l.electInput(), clock.now())).toMatchObject({ ok: false, error: { code: 'NOT_LEADER' } });
    expect(l.failFast()).toMatchObject({ code: 'NOT_LEADER', details: { leaderId: 'B' } });
  });

  it('a holder found gone but succeeded meanwhile by another term is not taken: the new holder\'s lease stands', () => {
    const clock = new FakeClock();
    const l = leadership(clock);
    l.refused(holder(ledBy('B', 2, clock.now() + 10 * LEASE_MS)));
    expect(l.markGone({ id: 'B', epoch: 2 })).toBe(true);
    // B restarted (same id, epoch 3) or C took over before this standby read again.
    for (const s of [ledBy('B', 3, clock.now() + 10 * LEASE_MS), ledBy('C', 3, clock.now() + 10 * LEASE_MS)]) {
      expect(apply(s, 'elect', l.electInput(), clock.now())).toMatchObject({ ok: false, error: { code: 'NOT_LEADER' } });
    }
    l.refused(holder(ledBy('C', 3, clock.now() + 10 * LEASE_MS)));
    expect(l.electInput()).not.toHaveProperty('gone');
    expect(l.failFast()).toMatchObject({ code: 'NOT_LEADER', details: { leaderId: 'C' } });
  });

  it('wait mode waits for an embedded holder\'s live lease, up to three leases old; a network broker\'s (with a URL) fails fast', async () => {
    const clock = new FakeClock();
    const l = leadership(clock, 'wait');
    const queuedAt = clock.now();
    const network = leadership(clock, 'wait');
    network.refused(holder(ledBy('B', 2, clock.now() + LEASE_MS)));
    expect(network.failFast()).toMatchObject({ code: 'NOT_LEADER', details: { leader: 'http://b' } });
    expect(network.mustWait()).toBe(false);
    expect(network.mayWait(queuedAt)).toBe(false);
    l.refused({ ...holder(ledBy('B', 2, clock.now() + LEASE_MS)), url: '' }); // another embedded process
    expect(l.failFast()).toBeNull();
    expect(l.mustWait()).toBe(true);
    expect(l.mayWait(queuedAt)).toBe(true);
    await clock.advance(3 * LEASE_MS);
    expect(l.mayWait(queuedAt)).toBe(true);
    await clock.advance(1);
    expect(l.mayWait(queuedAt)).toBe(false);
    expect(leadership(clock, 'reject').mayWait(clock.now())).toBe(false);
  });

  /** A wait-mode standby refused by B, whose lease ends in a second, waiting for it to go stale. */
  function waitingStandby() {
    const { fake, clock, alive } = keepAliveClock();
    const l = leadership(clock, 'wait');
    l.refused(holder(ledBy('B', 2, fake.now() + 1000)));
    const woken = { n: 0 };
    l.waitForStaleLease(() => woken.n++);
    return { fake, alive, l, woken };
  }

  it('the stale-lease wait fires just after the holder\'s lease ends, once, and takes the lease for stale', async () => {
    const { fake, alive, l, woken } = waitingStandby();
    l.waitForStaleLease(() => woken.n++); // already waiting: no second timer
    expect(l.waitingForStaleLease).toBe(true);
    expect(alive.size).toBe(1); // waiting requests hold the process
    await fake.advance(1000);
    expect(woken.n).toBe(0);
    await fake.advance(1);
    expect(woken.n).toBe(1);
    expect(l.waitingForStaleLease).toBe(false);
    expect(l.leader!.leaseUntil).toBe(0);
    expect(l.mustWait()).toBe(false); // the next batch reads and elects
    expect(alive.size).toBe(0);
  });

  it('cancelTimers ends the stale-lease wait', async () => {
    const { fake, alive, l, woken } = waitingStandby();
    l.cancelTimers();
    expect(alive.size).toBe(0);
    await fake.advance(5000);
    expect(woken.n).toBe(0);
  });
});
