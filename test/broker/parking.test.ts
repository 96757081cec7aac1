/**
 * The parking lot of long polls (src/broker/parking.ts) alone: deadlines on the fake clock, a
 * request taken out early (the caller hung up), everyone taken out at once, the wake-up at a due
 * time, and no timer that would keep a process alive once nobody is parked.
 */
import { describe, expect, it } from 'vitest';
import { ParkingLot } from '../../src/broker/parking.js';
import { keepAliveClock } from './helpers.js';

function lot() {
  const { fake, clock, alive } = keepAliveClock();
  const expired: string[] = [];
  const parking = new ParkingLot<string>(clock, (req) => expired.push(req));
  return { fake, alive, expired, parking };
}

describe('ParkingLot', () => {
  it('answers each request at its own deadline on the fake clock, and only then', async () => {
    const { fake, alive, expired, parking } = lot();
    parking.park('late', fake.now() + 100);
    parking.park('early', fake.now() + 50);
    expect(alive.size).toBe(2); // a caller waits on each: these timers keep a process alive
    await fake.advance(49);
    expect(expired).toEqual([]);
    await fake.advance(1);
    expect(expired).toEqual(['early']);
    expect(parking.size).toBe(1);
    await fake.advance(50);
    expect(expired).toEqual(['early', 'late']);
    expect(parking.size).toBe(0);
    expect(alive.size).toBe(0);
  });

  it('a request taken out before its deadline (the caller hung up) is not answered again, and its timer is gone', async () => {
    const { fake, alive, expired, parking } = lot();
    parking.park('a', fake.now() + 100);
    parking.park('b', fake.now() + 100);
    expect(parking.unpark('a')).toEqual(['a']);
    expect(parking.unpark('a')).toEqual([]); // not parked any more: the caller's abort finds nothing
    expect(alive.size).toBe(1);
    await fake.advance(100);
    expect(expired).toEqual(['b']);
    expect(fake.pendingTimers).toBe(0);
  });

  it('unparkAll takes every request out in the order parked and cancels every timer', async () => {
    const { fake, alive, expired, parking } = lot();
    for (const r of ['first', 'second', 'third']) parking.park(r, fake.now() + 1000);
    parking.wakeAt(fake.now() + 500, () => expect.unreachable('no wake-up after everyone left'));
    expect(parking.unparkAll()).toEqual(['first', 'second', 'third']);
    expect(parking.unparkAll()).toEqual([]);
    expect(alive.size).toBe(0);
    expect(fake.pendingTimers).toBe(0);
    await fake.advance(2000);
    expect(expired).toEqual([]);
  });

  it('wakes the whole lot at the due time, in order, and a later wakeAt replaces the earlier one', async () => {
    const { fake, alive, expired, parking } = lot();
    const woken: string[][] = [];
    parking.park('x', fake.now() + 10_000);
    parking.park('y', fake.now() + 10_000);
    parking.wakeAt(fake.now() + 300, (reqs) => woken.push(['first wake-up', ...reqs]));
    parking.wakeAt(fake.now() + 200, (reqs) => woken.push(reqs));
    await fake.advance(199);
    expect(woken).toEqual([]);
    await fake.advance(1);
    expect(woken).toEqual([['x', 'y']]);
    expect(parking.size).toBe(0);
    await fake.advance(10_000);
    expect(woken).toEqual([['x', 'y']]); // the replaced wake-up never fired
    expect(expired).toEqual([]); // woken requests are the loop's again: their deadlines are gone
    expect(alive.size).toBe(0);
  });

  it('a due time already past wakes at once; undefined only cancels the wake-up', async () => {
    const { fake, alive, parking } = lot();
    const woken: string[][] = [];
    parking.park('p', fake.now() + 5000);
    parking.wakeAt(fake.now() + 100, (reqs) => woken.push(reqs));
    parking.wakeAt(undefined, (reqs) => woken.push(reqs));
    expect(alive.size).toBe(1); // the deadline only
    parking.wakeAt(fake.now() - 50, (reqs) => woken.push(reqs));
    await fake.advance(0);
    expect(woken).toEqual([['p']]);
    expect(alive.size).toBe(0);
  });
});
