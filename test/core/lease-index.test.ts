import { describe, expect, it } from 'vitest';
import { assertInvariants } from '../../src/core/invariants.js';
import { CoreHarness } from './harness.js';

describe('the lease index after a job is claimed again with the same expiry', () => {
  it('unclaim then a new claim in the same millisecond: the expiry is handled once', () => {
    const h = new CoreHarness();
    h.ok('push', { jobs: [{ id: 'j', payload: 1, maxAttempts: 1 }] });
    const [first] = h.ok('claim', { worker: 'gone', max: 1, leaseMs: 1000, nonce: 'n1' }).jobs;
    // The long-polling caller hung up: the broker hands the job back, and another worker claims it
    // in the same batch, with the same lease length, so the new lease ends at the same instant.
    h.ok('unclaim', { jobs: [{ id: 'j', worker: 'gone', token: first!.lease }] });
    const [second] = h.ok('claim', { worker: 'w2', max: 1, leaseMs: 1000, nonce: 'n2' }).jobs;
    expect(second!.leaseUntil).toBe(first!.leaseUntil);
    h.now += 1000;
    const swept = h.ok('sweep', {});
    expect(swept).toEqual({ promoted: 0, requeued: 0, dead: 1, expired: [{ id: 'j', worker: 'w2', dead: true }] });
    expect(h.state.counters.leasesExpired).toBe(1);
    expect(h.state.counters.dead).toBe(1);
    expect(h.state.done.map((j) => j.id)).toEqual(['j']);
    assertInvariants(h.state, h.now);
  });

  it('nack then a claim whose lease ends when the old one did: requeued once', () => {
    const h = new CoreHarness();
    h.ok('push', { jobs: [{ id: 'j', payload: 1, maxAttempts: 5 }] });
    const [first] = h.ok('claim', { worker: 'w1', max: 1, leaseMs: 1000, nonce: 'n1' }).jobs;
    h.now += 500;
    h.ok('nack', { id: 'j', worker: 'w1', token: first!.lease, delayMs: 0, rand: 0 });
    h.ok('claim', { worker: 'w2', max: 1, leaseMs: 500, nonce: 'n2' });
    h.now += 500;
    expect(h.ok('sweep', {})).toMatchObject({ promoted: 0, requeued: 1, dead: 0 });
    expect(h.state.counters.leasesExpired).toBe(1);
    assertInvariants(h.state, h.now);
  });
});
