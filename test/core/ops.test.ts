import { describe, expect, it } from 'vitest';
import { backoffDelay, retryDelay } from '../../src/core/backoff.js';
import { assertInvariants } from '../../src/core/invariants.js';
import { publicJob } from '../../src/transports/http/public-job.js';
import { CoreHarness } from './harness.js';

const W = 'w1';

function pushOne(h: CoreHarness, id: string, extra: Record<string, unknown> = {}) {
  return h.ok('push', { jobs: [{ id, payload: { n: id }, ...extra }] }).jobs[0]!;
}

describe('push', () => {
  it('creates jobs and refuses duplicates without duplicating', () => {
    const h = new CoreHarness();
    expect(pushOne(h, 'a').created).toBe(true);
    const again = pushOne(h, 'a');
    expect(again.created).toBe(false);
    expect(again.existing?.payload).toEqual({ n: 'a' });
    expect(h.ok('stats', {}).pending).toBe(1);
    assertInvariants(h.state, h.now);
  });

  it('a batch with a duplicate inside creates the first only', () => {
    const h = new CoreHarness();
    const r = h.ok('push', { jobs: [{ id: 'x', payload: 1 }, { id: 'x', payload: 2 }] });
    expect(r.jobs.map((j) => j.created)).toEqual([true, false]);
    expect(h.ok('get', { id: 'x' }).payload).toBe(1);
  });

  it('delayed jobs are not claimable until due', () => {
    const h = new CoreHarness();
    pushOne(h, 'later', { delayMs: 1000 });
    expect(h.ok('stats', {}).delayed).toBe(1);
    expect(h.ok('claim', { worker: W, max: 5, leaseMs: 100, nonce: 'n1' }).jobs).toEqual([]);
    h.now += 1000;
    expect(h.ok('claim', { worker: W, max: 5, leaseMs: 100, nonce: 'n2' }).jobs.map((j) => j.id)).toEqual(['later']);
  });

  it('an empty push is INVALID_ARGUMENT and changes nothing', () => {
    const h = new CoreHarness();
    const r = h.run('push', { jobs: [] });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('INVALID_ARGUMENT');
  });
});

describe('claim', () => {
  it('claims by priority, then FIFO', () => {
    const h = new CoreHarness();
    pushOne(h, 'low1', { priority: 0 });
    pushOne(h, 'high', { priority: 5 });
    pushOne(h, 'low2', { priority: 0 });
    pushOne(h, 'mid', { priority: 1 });
    const ids = h.ok('claim', { worker: W, max: 10, leaseMs: 1000, nonce: 'n' }).jobs.map((j) => j.id);
    expect(ids).toEqual(['high', 'mid', 'low1', 'low2']);
    assertInvariants(h.state, h.now);
  });

  it('claims up to max and counts attempts', () => {
    const h = new CoreHarness();
    for (let i = 0; i < 5; i++) pushOne(h, `j${i}`);
    const r = h.ok('claim', { worker: W, max: 3, leaseMs: 1000, nonce: 'n' });
    expect(r.jobs).toHaveLength(3);
    expect(r.jobs[0]!.attempt).toBe(1);
    expect(new Set(r.jobs.map((j) => j.lease)).size).toBe(3);
    expect(h.ok('stats', {})).toMatchObject({ pending: 2, claimed: 3 });
  });

  it('an empty claim changes nothing', () => {
    const h = new CoreHarness();
    const r = h.run('claim', { worker: W, max: 3, leaseMs: 1000, nonce: 'n' });
    expect(r.ok && r.changed).toBe(false);
  });

  it('a paused topic hands out nothing but accepts pushes', () => {
    const h = new CoreHarness();
    h.ok('configure', { paused: true });
    pushOne(h, 'a');
    expect(h.ok('claim', { worker: W, max: 3, leaseMs: 1000, nonce: 'n' }).jobs).toEqual([]);
    h.ok('configure', { paused: false });
    expect(h.ok('claim', { worker: W, max: 3, leaseMs: 1000, nonce: 'n' }).jobs).toHaveLength(1);
  });

  it('stats carry the topic\'s settings, as configure left them', () => {
    const h = new CoreHarness();
    h.ok('configure', { maxAttempts: 7, backoff: { type: 'fixed', delayMs: 250 }, paused: true });
    expect(h.ok('stats', {}).settings).toEqual({ maxAttempts: 7, backoff: { type: 'fixed', delayMs: 250 }, paused: true });
  });
});

describe('leases', () => {
  function claimed(h: CoreHarness, id = 'a') {
    pushOne(h, id);
    return h.ok('claim', { worker: W, max: 1, leaseMs: 1000, nonce: `n-${id}` }).jobs[0]!;
  }

  it('ack with the right lease completes the job; a replay is idempotent while the recent window remembers it, then LEASE_LOST', () => {
    const h = new CoreHarness();
    const c = claimed(h);
    h.ok('ack', { id: 'a', worker: W, token: c.lease, result: { ok: 1 } });
    const replay = h.run('ack', { id: 'a', worker: W, token: c.lease });
    expect(replay.ok && replay.changed).toBe(false);
    expect(replay.ok).toBe(true);
    const foreign = h.run('ack', { id: 'a', worker: 'other', token: c.lease });
    expect(foreign.ok ? 'ok' : foreign.error.code).toBe('LEASE_LOST');
    expect(h.ok('get', { id: 'a' })).toMatchObject({ state: 'completed', result: { ok: 1 } });
    expect(h.state.counters.completed).toBe(1);
    h.commit(); // archived: the record left, the id and the completing token are in the window
    expect(h.state.done).toEqual([]);
    const late = h.run('ack', { id: 'a', worker: W, token: c.lease });
    expect(late.ok && !late.changed).toBe(true);
    const stale = h.run('ack', { id: 'a', worker: W, token: 'another-claim' });
    expect(stale.ok ? 'ok' : stale.error.code).toBe('LEASE_LOST');
    h.now += 60_001; // past the window: the next archived op forgets it
    h.ok('archived', { keys: [] });
    const forgotten = h.run('ack', { id: 'a', worker: W, token: c.lease });
    expect(forgotten.ok ? 'ok' : forgotten.error.code).toBe('LEASE_LOST');
    expect(h.state.counters.completed).toBe(1);
  });

  it('a push retried after its job was archived finds it in the recent window and adds nothing', () => {
    const h = new CoreHarness();
    const c = claimed(h);
    h.ok('ack', { id: 'a', worker: W, token: c.lease });
    h.commit();
    const again = pushOne(h, 'a');
    expect(again).toMatchObject({ created: false, state: 'completed' });
    expect(h.ok('stats', {}).pending).toBe(0);
    expect(h.state.counters.pushed).toBe(1);
    assertInvariants(h.state, h.now);
  });

  it('the recent window is bounded by count, oldest ids first', () => {
    const h = new CoreHarness();
    for (const id of ['a', 'b', 'c']) {
      pushOne(h, id);
      const c = h.ok('claim', { worker: W, max: 1, leaseMs: 1000, nonce: `n-${id}` }).jobs[0]!;
      h.ok('ack', { id, worker: W, token: c.lease });
      const key = h.state.done[0]!.archive!;
      h.ok('archived', { keys: [key], recent: { windowMs: 60_000, maxIds: 2 } });
    }
    expect([...h.state.recent.byId.keys()]).toEqual(['b', 'c']);
    expect(pushOne(h, 'a').created).toBe(true); // forgotten: a new job
    expect(pushOne(h, 'b').created).toBe(false);
    assertInvariants(h.state, h.now);
  });

  it('unclaim hands jobs back without counting the attempt', () => {
    const h = new CoreHarness();
    const c = claimed(h);
    expect(h.ok('unclaim', { jobs: [{ id: 'a', worker: W, token: c.lease }] }).returned).toBe(1);
    expect(h.ok('claim', { worker: W, max: 1, leaseMs: 1000, nonce: 'again' }).jobs[0]!.attempt).toBe(1);
  });

  it('unclaimed jobs keep their place in line, ahead of jobs pushed after them', () => {
    const h = new CoreHarness();
    h.ok('push', { jobs: ['j0', 'j1', 'j2', 'j3'].map((id) => ({ id, payload: null, priority: 0, runAt: h.now, maxAttempts: 3 })) });
    const first = h.ok('claim', { worker: W, max: 2, leaseMs: 1000, nonce: 'n1' }).jobs;
    const second = h.ok('claim', { worker: 'w2', max: 1, leaseMs: 1000, nonce: 'n2' }).jobs;
    expect([...first, ...second].map((j) => j.id)).toEqual(['j0', 'j1', 'j2']);
    h.ok('push', { jobs: [{ id: 'late', payload: null, priority: 0, runAt: h.now, maxAttempts: 3 }] });
    // Handed back out of order, by two workers: claims see them in their original order again.
    h.ok('unclaim', { jobs: [{ id: 'j2', worker: 'w2', token: second[0]!.lease }] });
    h.ok('unclaim', { jobs: first.map((j) => ({ id: j.id, worker: W, token: j.lease })) });
    expect(h.ok('claim', { worker: W, max: 10, leaseMs: 1000, nonce: 'n3' }).jobs.map((j) => j.id)).toEqual(['j0', 'j1', 'j2', 'j3', 'late']);
  });

  it('wrong worker, wrong token and expired lease are all LEASE_LOST', () => {
    const h = new CoreHarness();
    const c = claimed(h);
    for (const [worker, token] of [['other', c.lease], [W, 'bogus']] as const) {
      for (const op of ['ack', 'heartbeat', 'nack'] as const) {
        const r = h.run(op, { id: 'a', worker, token, leaseMs: 10, rand: 0 });
        expect(r.ok ? 'ok' : r.error.code).toBe('LEASE_LOST');
      }
    }
    h.now += 1000;
    const r = h.run('ack', { id: 'a', worker: W, token: c.lease });
    expect(r.ok ? 'ok' : r.error.code).toBe('LEASE_LOST');
  });

  it('heartbeat extends the lease so a sweep leaves the job alone', () => {
    const h = new CoreHarness();
    const c = claimed(h);
    h.now += 900;
    expect(h.ok('heartbeat', { id: 'a', worker: W, token: c.lease, leaseMs: 1000 }).leaseUntil).toBe(h.now + 1000);
    h.now += 500;
    expect(h.ok('sweep', {})).toEqual({ promoted: 0, requeued: 0, dead: 0, expired: [] });
    h.ok('ack', { id: 'a', worker: W, token: c.lease });
  });

  it('an expired lease goes back to pending, then dead once attempts are spent', () => {
    const h = new CoreHarness();
    pushOne(h, 'a', { maxAttempts: 2 });
    h.ok('claim', { worker: W, max: 1, leaseMs: 100, nonce: 'n1' });
    h.now += 100;
    expect(h.ok('sweep', {}).requeued).toBe(1);
    h.ok('claim', { worker: W, max: 1, leaseMs: 100, nonce: 'n2' });
    h.now += 100;
    expect(h.ok('sweep', {}).dead).toBe(1);
    expect(h.ok('get', { id: 'a' })).toMatchObject({ state: 'dead', attempts: 2 });
    expect(h.ok('get', { id: 'a' }).lastError).toMatch(/lease expired/);
    assertInvariants(h.state, h.now);
  });

  it('nack retries with backoff, then dead-letters with the last error', () => {
    const h = new CoreHarness();
    pushOne(h, 'a', { maxAttempts: 2, backoff: { type: 'fixed', delayMs: 500 } });
    let c = h.ok('claim', { worker: W, max: 1, leaseMs: 1000, nonce: 'n1' }).jobs[0]!;
    const r1 = h.ok('nack', { id: 'a', worker: W, token: c.lease, error: 'boom 1', rand: 0.5 });
    expect(r1).toMatchObject({ state: 'delayed', runAt: h.now + 500 });
    h.now += 500;
    c = h.ok('claim', { worker: W, max: 1, leaseMs: 1000, nonce: 'n2' }).jobs[0]!;
    expect(c.attempt).toBe(2);
    expect(h.ok('nack', { id: 'a', worker: W, token: c.lease, error: 'boom 2', rand: 0.5 }).state).toBe('dead');
    expect(h.state.dead.get('a')).toMatchObject({ attempts: 2, lastError: 'boom 2' });
  });

  it('a replayed nack answers as its first try did and changes nothing: back in line, claimed again, dead, archived, reloaded', () => {
    const h = new CoreHarness();
    pushOne(h, 'a', { maxAttempts: 2, backoff: { type: 'fixed', delayMs: 500 } });
    const c1 = h.ok('claim', { worker: W, max: 1, leaseMs: 1000, nonce: 'n1' }).jobs[0]!;
    const first = h.ok('nack', { id: 'a', worker: W, token: c1.lease, error: 'boom 1', rand: 0.5 });
    const nacked = h.state.counters.nacked;
    const again = h.run('nack', { id: 'a', worker: W, token: c1.lease, error: 'boom 1', rand: 0.5 });
    expect(again.ok && { ...again.value, changed: again.changed }).toEqual({ ...first, changed: false });
    // Someone else's replay of it, or a made-up lease, is refused as before.
    for (const [worker, token] of [['other', c1.lease], [W, 'bogus']] as const) {
      const r = h.run('nack', { id: 'a', worker, token, rand: 0 });
      expect(r.ok ? 'ok' : r.error.code).toBe('LEASE_LOST');
    }
    h.now += 500;
    const c2 = h.ok('claim', { worker: W, max: 1, leaseMs: 1000, nonce: 'n2' }).jobs[0]!;
    // Claimed again since: the old nack's replay gets its own answer again; it neither nacks nor frees the new claim.
    const late = h.run('nack', { id: 'a', worker: W, token: c1.lease, rand: 0 });
    expect(late.ok && !late.changed && late.value).toEqual(first);
    expect(h.state.counters.nacked).toBe(nacked);
    expect(h.ok('nack', { id: 'a', worker: W, token: c2.lease, error: 'boom 2', rand: 0 }).state).toBe('dead');
    const dead = h.run('nack', { id: 'a', worker: W, token: c2.lease, rand: 0 });
    expect(dead.ok && !dead.changed && dead.value).toEqual({ id: 'a', state: 'dead' });
    h.commit(); // archived: the dead-letter entry still knows the nack
    expect(h.state.done).toEqual([]);
    h.reload(); // and so does queue.json, for a broker that takes over
    const archived = h.run('nack', { id: 'a', worker: W, token: c2.lease, rand: 0 });
    expect(archived.ok && !archived.changed && archived.value).toEqual({ id: 'a', state: 'dead' });
    const stale = h.run('nack', { id: 'a', worker: W, token: c1.lease, rand: 0 });
    expect(stale.ok ? 'ok' : stale.error.code).toBe('LEASE_LOST'); // only the nack that made it dead
    expect(h.state.counters).toMatchObject({ nacked: nacked + 1, dead: 1 });
    assertInvariants(h.state, h.now);
  });

  it('a replayed nack gets its own answer even when the job died later of a lease expiry; once archived, only a killing nack is remembered', () => {
    const h = new CoreHarness();
    pushOne(h, 'a', { maxAttempts: 2 });
    const c1 = h.ok('claim', { worker: W, max: 1, leaseMs: 1000, nonce: 'n1' }).jobs[0]!;
    const first = h.ok('nack', { id: 'a', worker: W, token: c1.lease, delayMs: 0, rand: 0 });
    expect(first).toEqual({ id: 'a', state: 'pending', runAt: h.now });
    h.ok('claim', { worker: 'w2', max: 1, leaseMs: 100, nonce: 'n2' });
    h.now += 100;
    expect(h.ok('sweep', {}).dead).toBe(1); // w2's lease ran out on the last attempt
    const replay = h.run('nack', { id: 'a', worker: W, token: c1.lease, rand: 0 });
    expect(replay.ok && !replay.changed && replay.value).toEqual(first); // not 'dead': that was not this nack
    expect(h.state.dead.get('a')?.nackedBy).toBeUndefined();
    h.commit();
    const archived = h.run('nack', { id: 'a', worker: W, token: c1.lease, rand: 0 });
    expect(archived.ok ? 'ok' : archived.error.code).toBe('LEASE_LOST');
    expect(h.state.counters).toMatchObject({ nacked: 1, dead: 1 });
  });

  it("the nacking lease is the broker's own: get shows the record with it, the wire never (publicJob)", () => {
    const h = new CoreHarness();
    const c = claimed(h);
    h.ok('nack', { id: 'a', worker: W, token: c.lease, rand: 0 });
    expect(h.ok('get', { id: 'a' }).nackedBy).toEqual({ worker: W, token: c.lease, state: 'delayed', runAt: expect.any(Number) });
    expect(publicJob(h.ok('get', { id: 'a' }))).not.toHaveProperty('nackedBy');
  });

  it('nack with delayMs 0 makes the job claimable at once', () => {
    const h = new CoreHarness();
    const c = claimed(h);
    h.ok('nack', { id: 'a', worker: W, token: c.lease, delayMs: 0, rand: 0 });
    expect(h.ok('claim', { worker: W, max: 1, leaseMs: 1000, nonce: 'n3' }).jobs[0]!.attempt).toBe(2);
  });
});

describe('cancel, retry, get', () => {
  it('cancels pending and delayed jobs, not claimed ones', () => {
    const h = new CoreHarness();
    pushOne(h, 'p');
    pushOne(h, 'd', { delayMs: 1000 });
    pushOne(h, 'c');
    h.ok('cancel', { id: 'p' });
    h.ok('cancel', { id: 'd' });
    h.ok('claim', { worker: W, max: 1, leaseMs: 1000, nonce: 'n' });
    const r = h.run('cancel', { id: 'c' });
    expect(r.ok ? 'ok' : r.error.code).toBe('FAILED_PRECONDITION');
    const missing = h.run('cancel', { id: 'nope' });
    expect(missing.ok ? 'ok' : missing.error.code).toBe('NOT_FOUND');
    expect(h.ok('stats', {})).toMatchObject({ pending: 0, delayed: 0, claimed: 1 });
  });

  it('retries a dead job from its archived record, with attempts reset', () => {
    const h = new CoreHarness();
    pushOne(h, 'a', { maxAttempts: 1 });
    const c = h.ok('claim', { worker: W, max: 1, leaseMs: 1000, nonce: 'n' }).jobs[0]!;
    h.ok('nack', { id: 'a', worker: W, token: c.lease, error: 'bad', rand: 0 });
    h.commit();
    expect(h.state.done).toHaveLength(0);
    const live = h.run('retry', { id: 'a' });
    expect(live.ok ? 'ok' : live.error.code).toBe('UNAVAILABLE');
    h.ok('retry', { id: 'a', record: h.archivedRecord('a')! });
    expect(h.ok('get', { id: 'a' })).toMatchObject({ state: 'pending', attempts: 0, payload: { n: 'a' } });
    const again = h.run('retry', { id: 'a' });
    expect(again.ok ? 'ok' : again.error.code).toBe('FAILED_PRECONDITION');
  });

  it('completed jobs leave the state once archived; get then knows only their final state, until the window forgets them', () => {
    const h = new CoreHarness();
    pushOne(h, 'a');
    const c = h.ok('claim', { worker: W, max: 1, leaseMs: 1000, nonce: 'n' }).jobs[0]!;
    h.ok('ack', { id: 'a', worker: W, token: c.lease });
    expect(h.ok('get', { id: 'a' }).state).toBe('completed');
    h.commit();
    expect(h.ok('get', { id: 'a' })).toMatchObject({ id: 'a', state: 'completed' });
    expect(h.run('cancel', { id: 'a' })).toMatchObject({ ok: false, error: { code: 'FAILED_PRECONDITION' } });
    h.now += 60_001;
    h.ok('archived', { keys: [] });
    const r = h.run('get', { id: 'a' });
    expect(r.ok ? 'ok' : r.error.code).toBe('NOT_FOUND');
    expect(h.state.counters.completed).toBe(1);
  });
});

describe('election', () => {
  it('takes a free or stale lease with a new epoch, refuses a live one', () => {
    const h = new CoreHarness();
    expect(h.ok('elect', { id: 'b1', url: 'u1', leaseMs: 1000 }).epoch).toBe(1);
    expect(h.ok('elect', { id: 'b1', url: 'u1', leaseMs: 1000, held: 1 }).epoch).toBe(1); // its own renewal
    const r = h.run('elect', { id: 'b2', url: 'u2', leaseMs: 1000 });
    expect(r.ok ? 'ok' : r.error.details).toMatchObject({ leader: 'u1' });
    h.now += 1000;
    expect(h.ok('elect', { id: 'b2', url: 'u2', leaseMs: 1000 }).epoch).toBe(2);
  });

  it('a broker restarted under its own id takes its old lease at once with a new epoch; a twin or a fenced one is refused', () => {
    const h = new CoreHarness();
    h.ok('elect', { id: 'b1', url: 'u1', leaseMs: 10_000 });
    // The previous incarnation was SIGKILLed with 10 s left: the new one does not wait them out.
    h.now += 100;
    expect(h.ok('elect', { id: 'b1', url: 'u1b', leaseMs: 10_000, restarted: true })).toMatchObject({ epoch: 2, url: 'u1b' });
    // The old incarnation, if it was only frozen, wakes up holding epoch 1: fenced.
    const old = h.run('elect', { id: 'b1', url: 'u1', leaseMs: 10_000, held: 1 });
    expect(old.ok ? 'ok' : old.error.code).toBe('NOT_LEADER');
    // A process that already led or was refused is not a restart: it waits like anyone else.
    const again = h.run('elect', { id: 'b1', url: 'u1', leaseMs: 10_000, restarted: false });
    expect(again.ok ? 'ok' : again.error.message).toMatch(/own id/);
    // A stale lease under its own id that it does not hold is taken with a new epoch too.
    h.now += 10_000;
    expect(h.ok('elect', { id: 'b1', url: 'u1', leaseMs: 10_000 }).epoch).toBe(3);
    expect(h.ok('elect', { id: 'b1', url: 'u1', leaseMs: 10_000, held: 3 }).epoch).toBe(3);
  });

  it('resign lets another broker in at once', () => {
    const h = new CoreHarness();
    h.ok('elect', { id: 'b1', url: 'u1', leaseMs: 1000 });
    expect(h.ok('resign', { id: 'b2' })).toEqual({ resigned: false }); // not the holder: nothing changes
    expect(h.ok('resign', { id: 'b1' })).toEqual({ resigned: true });
    expect(h.ok('elect', { id: 'b2', url: 'u2', leaseMs: 1000 }).epoch).toBe(2);
  });
});

describe('codec', () => {
  it('round-trips a state with every kind of job', () => {
    const h = new CoreHarness();
    pushOne(h, 'p');
    pushOne(h, 'd', { delayMs: 500 });
    pushOne(h, 'c', { priority: 3 });
    h.ok('claim', { worker: W, max: 1, leaseMs: 1000, nonce: 'n' });
    h.reload();
    assertInvariants(h.state, h.now);
    expect(h.ok('stats', {})).toMatchObject({ pending: 1, delayed: 1, claimed: 1 });
    expect(h.ok('claim', { worker: W, max: 5, leaseMs: 1000, nonce: 'm' }).jobs.map((j) => j.id)).toEqual(['p']);
  });
});

describe('backoff', () => {
  it('grows exponentially, caps, and jitters within bounds', () => {
    const b = { type: 'exponential' as const, baseMs: 100, maxMs: 1000, jitter: 0.5 };
    expect(backoffDelay(b, 1, 1)).toBe(100);
    expect(backoffDelay(b, 1, 0)).toBe(50);
    expect(backoffDelay(b, 3, 1)).toBe(400);
    expect(backoffDelay(b, 10, 1)).toBe(1000);
    expect(backoffDelay({ type: 'fixed', delayMs: 7 }, 9, 0.3)).toBe(7);
  });

  it('retries wait with equal jitter: at least half the doubling step, at most all of it, capped', () => {
    const step = { baseMs: 10, maxMs: 2000 };
    expect([retryDelay(1, step, 0), retryDelay(1, step, 0.999)]).toEqual([5, 10]);
    expect([retryDelay(4, step, 0), retryDelay(4, step, 0.5)]).toEqual([40, 60]);
    expect([retryDelay(20, step, 0), retryDelay(20, step, 0.999)]).toEqual([1000, 1999]);
  });
});
