/**
 * A worker's ack lingers for the next push (batch-deferral.ts), and a long poll on a topic with
 * nothing pending parks without a batch (TopicLoop#parkNow): with many producers and one busy
 * worker, the producers' pushes and the worker's acks then share each commit instead of taking
 * turns. Memory store (its writes counted) and the fake clock.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { ACK_LINGER_MS } from '../../src/broker/topic-loop.js';
import { FakeClock } from '../../src/clock.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { drive } from '../embedded-helpers.js';
import { codeOf, countedBroker, keepAliveClock, watch } from './helpers.js';

const setup = countedBroker;

/** Lets the loop run whatever its queue starts (setImmediate turns), without moving the clock. */
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

/** A job pushed and handed to worker `w`'s parked claim; returns its lease. */
async function claimedJob(broker: Broker, clock: FakeClock, id: string) {
  const waiting = broker.claim('jobs', { workerId: 'w', waitMs: 30_000 });
  await clock.advance(1);
  await broker.push('jobs', [{ id, payload: { id } }]);
  const [job] = await waiting;
  return { id: job!.id, lease: job!.lease, workerId: 'w' };
}

/** Worker `w` acks its job and claims again (as createWorker does): the ack lingers behind the parked claim. */
function lingeringAck(broker: Broker, job: { id: string; lease: string; workerId: string }) {
  const acked = broker.ack('jobs', job);
  void broker.claim('jobs', { workerId: 'w', waitMs: 30_000 });
  return acked;
}

describe('a worker ack lingers for the next push', () => {
  it('a long poll on a topic with nothing pending parks without a commit', async () => {
    const { broker, clock, writes } = setup();
    await broker.stats('jobs'); // elected: a commit landed
    const before = writes();
    const waiting = watch(broker.claim('jobs', { workerId: 'w', waitMs: 5000 }));
    await turns();
    expect(writes()).toBe(before);
    expect(waiting.done).toBe(false);
    await clock.advance(5000);
    expect(waiting.done).toBe(true);
    expect(writes()).toBe(before);
  });

  it("an ack and its worker's next claim wait for the next push: one commit carries the ack, the push and the hand-off", async () => {
    const { broker, clock, writes } = setup();
    await broker.stats('jobs');
    const first = await claimedJob(broker, clock, 'j1');
    const before = writes();
    // As createWorker does: the handler ends, the ack goes out and the freed slot claims again.
    const acked = broker.ack('jobs', first);
    const next = broker.claim('jobs', { workerId: 'w', waitMs: 30_000 });
    const ackState = watch(acked);
    await turns();
    expect(writes()).toBe(before); // nothing committed yet: the ack lingers, the claim is parked
    expect(ackState.done).toBe(false);
    await broker.push('jobs', [{ id: 'j2', payload: 2 }]);
    expect(writes() - before).toBe(1);
    expect(await acked).toEqual({ id: 'j1' });
    expect((await next).map((j) => j.id)).toEqual(['j2']);
    expect(await broker.stats('jobs')).toMatchObject({ claimed: 1, pending: 0, counters: { completed: 1 } });
  });

  it(`on a quiet topic the lingering ack commits alone after ${ACK_LINGER_MS} ms`, async () => {
    const { broker, clock, writes } = setup();
    await broker.stats('jobs');
    const first = await claimedJob(broker, clock, 'j1');
    const before = writes();
    const acked = lingeringAck(broker, first);
    const ackState = watch(acked);
    await clock.advance(ACK_LINGER_MS - 1);
    expect(ackState.done).toBe(false);
    await clock.advance(1);
    expect(await acked).toEqual({ id: 'j1' });
    expect(writes() - before).toBe(1);
  });

  it('an ack whose worker has no claim parked commits at once', async () => {
    const { broker, clock, writes } = setup();
    await broker.stats('jobs');
    const first = await claimedJob(broker, clock, 'j1');
    const before = writes();
    expect(await broker.ack('jobs', first)).toEqual({ id: 'j1' }); // the clock never moved
    expect(writes() - before).toBe(1);
  });

  it("another worker's parked claim does not hold an ack back", async () => {
    const { broker, clock } = setup();
    await broker.stats('jobs');
    const first = await claimedJob(broker, clock, 'j1');
    void broker.claim('jobs', { workerId: 'other', waitMs: 30_000 });
    await turns();
    expect(await broker.ack('jobs', first)).toEqual({ id: 'j1' });
  });

  it('a read after a lingering ack commits it first (read your own writes)', async () => {
    const { broker, clock } = setup();
    await broker.stats('jobs');
    const first = await claimedJob(broker, clock, 'j1');
    const acked = lingeringAck(broker, first);
    expect(await broker.stats('jobs')).toMatchObject({ claimed: 0, counters: { completed: 1 } });
    expect(await acked).toEqual({ id: 'j1' });
  });

  it('a flush does not wait for the linger', async () => {
    const { broker, clock } = setup();
    await broker.stats('jobs');
    const first = await claimedJob(broker, clock, 'j1');
    const acked = lingeringAck(broker, first);
    await broker.flush();
    expect(await acked).toEqual({ id: 'j1' });
  });

  it("a lingering ack's wait keeps the process alive (its caller waits for the answer), and ends with it", async () => {
    const { fake, clock, alive } = keepAliveClock();
    const broker = new Broker({ store: createMemoryStore(), clock, id: 'b1' });
    await broker.stats('jobs');
    const first = await claimedJob(broker, fake, 'j1');
    void broker.claim('jobs', { workerId: 'w', waitMs: 30_000 });
    await turns();
    const withClaim = alive.size; // the parked claim's deadline, a wake-up for the lease
    const acked = broker.ack('jobs', first);
    await turns();
    expect(alive.size).toBe(withClaim + 1); // and the ack's wait
    await fake.advance(ACK_LINGER_MS);
    expect(await acked).toEqual({ id: 'j1' });
    expect(alive.size).toBeLessThanOrEqual(withClaim);
    await drive(fake, broker.stop());
  });

  it("an ack commits at once when its worker's parked claim leaves: its caller hung up", async () => {
    const { broker, clock } = setup();
    await broker.stats('jobs');
    const first = await claimedJob(broker, clock, 'j1');
    const ac = new AbortController();
    const polling = codeOf(broker.claim('jobs', { workerId: 'w', waitMs: 30_000 }, ac.signal));
    const acked = broker.ack('jobs', first);
    const ackState = watch(acked);
    await turns();
    expect(ackState.done).toBe(false);
    ac.abort();
    expect(await polling).toBe('CLOSED');
    await turns(); // the clock does not move
    expect(ackState.done).toBe(true);
    expect(await acked).toEqual({ id: 'j1' });
  });

  it("an ack commits at once when its worker's parked claim leaves: its deadline came, empty", async () => {
    const { broker, clock } = setup();
    await broker.stats('jobs');
    const first = await claimedJob(broker, clock, 'j1');
    const polling = broker.claim('jobs', { workerId: 'w', waitMs: ACK_LINGER_MS - 3 });
    const acked = broker.ack('jobs', first);
    const ackState = watch(acked);
    await turns();
    expect(ackState.done).toBe(false);
    await clock.advance(ACK_LINGER_MS - 3); // the deadline, before the linger's own end
    expect(await polling).toEqual([]);
    await turns();
    expect(ackState.done).toBe(true);
    expect(await acked).toEqual({ id: 'j1' });
  });

  it('a claim that comes while a batch claiming the last job is in flight is not parked on that batch: it gets the job if the write fails', async () => {
    const { broker, clock, switchable } = setup(50);
    await drive(clock, broker.stats('jobs'));
    await drive(clock, broker.push('jobs', [{ id: 'only', payload: 1 }]));
    const a = broker.claim('jobs', { workerId: 'a' });
    await clock.advance(10); // a's batch took the job in memory; its write is in flight
    const b = broker.claim('jobs', { workerId: 'b', waitMs: 30_000 });
    switchable.down = true;
    expect(await codeOf(drive(clock, a))).toMatch(/UNAVAILABLE/); // a's write fails, retries and all
    switchable.down = false; // b's batch (re-reading the object) succeeds
    const t = clock.now();
    expect((await drive(clock, b)).map((j) => j.id)).toEqual(['only']);
    // At once, in b's own batch: not when the lease's renewal commit (a third of the lease) wakes a parked claim.
    expect(clock.now() - t).toBeLessThan(1000);
  });
});
