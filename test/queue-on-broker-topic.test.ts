/**
 * An embedded queue (createQueue, standby 'wait') on a topic whose lease is held by someone else:
 * a network broker (its lease names a URL) leads as long as it runs, so the queue fails at once
 * with NOT_LEADER naming the URL and what to do; an embedded holder (no URL: a crashed process
 * like this one) is waited out as before.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../src/broker/broker.js';
import { FakeClock } from '../src/clock.js';
import { createQueue } from '../src/queue.js';
import { createMemoryStore } from '../src/storage/memory.js';
import { drive } from './embedded-helpers.js';

describe('an embedded queue on a topic someone else leads', () => {
  it('held by a network broker: NOT_LEADER at once, naming its URL and createClient', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const network = new Broker({ store, clock, id: 'net', url: 'http://127.0.0.1:8080', leaseMs: 10_000 });
    await network.push('emails', [{ id: 'a', payload: 1 }]);
    const q = createQueue({ store, clock, topic: 'emails' });
    let outcome: unknown = 'pending';
    q.push({ n: 1 }).then(
      () => (outcome = 'ok'),
      (err: unknown) => (outcome = err),
    );
    await clock.advance(10); // far less than a lease: the old behaviour was still waiting here
    expect(outcome).toMatchObject({
      code: 'NOT_LEADER',
      message: "topic emails is led by broker net at http://127.0.0.1:8080: an embedded queue cannot share a topic with a running broker; use createClient({ url: 'http://127.0.0.1:8080', topic: 'emails' }) to go through it, give this queue another store, or stop that broker",
      details: { leader: 'http://127.0.0.1:8080', leaderId: 'net' },
    });
    // Later calls too, without waiting (and ackMany-style item errors carry the same advice).
    const items = await q.ackMany([{ id: 'a', workerId: 'w', lease: 'x' }]);
    expect(items[0]).toMatchObject({ ok: false, error: { code: 'NOT_LEADER', message: expect.stringContaining('createClient') } });
    await drive(clock, q.close());
    await drive(clock, network.stop());
  });

  it('held by an embedded process (no URL): waits for its lease to go stale, then takes over', async () => {
    const clock = new FakeClock();
    const store = createMemoryStore();
    const crashed = new Broker({ store, clock: new FakeClock(clock.now()), id: 'old', leaseMs: 5000 });
    await crashed.push('emails', [{ id: 'a', payload: 1 }]); // then it "dies": never renews
    const q = createQueue({ store, clock, topic: 'emails', brokerOptions: { leaseMs: 5000 } });
    let done = false;
    const p = q.push({ n: 2 }).then(() => (done = true));
    await clock.advance(4000);
    expect(done).toBe(false);
    await clock.advance(1100);
    await p;
    expect(await q.stats()).toMatchObject({ pending: 2 });
    await drive(clock, q.close());
  });
});
