/**
 * The default claim-ahead (`prefetch: 'auto'`, src/worker/auto-prefetch.ts) on the embedded queue
 * with a fake clock: each claim takes 10 fake ms (its round trip), handlers take what the test
 * says. Short handlers on a deep queue make claims ask for more than the free slots; long ones
 * keep claims to the free slots; held jobs stuck behind long handlers are handed back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryStore, createQueue, createWorker, FakeClock, type Queue, type Worker, type WorkerJob, type WorkerOptions } from '../../src/index.js';
import { AUTO_PREFETCH_MAX, AutoPrefetch } from '../../src/worker/auto-prefetch.js';
import { deferred, drive, until, type Deferred } from '../embedded-helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const ROUND_TRIP_MS = 10;

/** An embedded queue whose claims take ROUND_TRIP_MS of fake time; `asked` lists each claim's max. */
function setup() {
  const clock = new FakeClock();
  const queue = createQueue<number>({ store: createMemoryStore(), topic: 'auto', clock });
  cleanup.push(() => drive(clock, queue.close()));
  const asked: number[] = [];
  const claim = queue.claim.bind(queue);
  queue.claim = async (opts) => {
    asked.push(opts.max ?? 1);
    const jobs = await claim(opts);
    await clock.sleep(ROUND_TRIP_MS);
    return jobs;
  };
  const start = <R>(handler: (job: WorkerJob<number>) => Promise<R> | R, opts: WorkerOptions = {}): Worker<number, R> => {
    const worker = createWorker(queue, handler, opts);
    worker.on('error', () => {});
    cleanup.push(() => drive(clock, worker.close({ timeoutMs: 0 })));
    return worker;
  };
  return { clock, queue, asked, start };
}

async function pushN(queue: Queue<number>, n: number): Promise<void> {
  await queue.pushMany(Array.from({ length: n }, (_, i) => ({ id: `j${String(i).padStart(3, '0')}`, payload: i })));
}

describe("createWorker's default claim-ahead", () => {
  it('short handlers on a deep queue: claims ask for more than the free slots, growing to a bound', async () => {
    const { clock, queue, asked, start } = setup();
    await pushN(queue, 400);
    const completed = new Set<string>();
    const worker = start(() => 'done', { concurrency: 4 });
    worker.on('completed', (job) => completed.add(job.id));
    await until(clock, () => completed.size === 400, 1);
    expect(asked[0]).toBe(4); // nothing measured yet: the free slots
    expect(Math.max(...asked)).toBeGreaterThan(4 * 4);
    expect(Math.max(...asked)).toBeLessThanOrEqual(4 + AUTO_PREFETCH_MAX);
    expect(asked.length).toBeLessThan(400 / 4 / 2); // far fewer claims than one per four jobs
    expect((await queue.stats()).counters).toMatchObject({ claimed: 400, completed: 400, leasesExpired: 0 });
  });

  it('long handlers: claims ask only for the free slots', async () => {
    const { clock, queue, asked, start } = setup();
    await pushN(queue, 40);
    let completed = 0;
    const worker = start(async () => clock.sleep(5 * ROUND_TRIP_MS), { concurrency: 4 });
    worker.on('completed', () => completed++);
    await until(clock, () => completed === 40, 5);
    expect(asked.every((max) => max <= 4)).toBe(true);
    expect(worker.held).toBe(0);
  });

  it('jobs held while every slot is stuck on long handlers go back to the queue, their attempt not counted', async () => {
    const { clock, queue, asked, start } = setup();
    await pushN(queue, 200);
    // Jobs from 100 on block until the test lets them finish.
    const gates = new Map<number, Deferred<void>>();
    const handler = async (job: WorkerJob<number>) => {
      if (job.payload < 100) return 'quick';
      const gate = deferred();
      gates.set(job.payload, gate);
      await gate.promise;
      return 'slow';
    };
    const worker = start(handler, { concurrency: 2 });
    // Quick jobs grow the claim-ahead; then both slots are taken by blocked jobs while more are held.
    await until(clock, () => gates.size === 2 && worker.held > 0, 1);
    const claimsBefore = asked.length;
    // No slot frees: after four round trips the held jobs are handed back, untouched.
    await until(clock, () => worker.held === 0, 1);
    const stats = await queue.stats();
    expect(stats.claimed).toBe(2);
    const next = (await queue.get(`j${String(100 + 2).padStart(3, '0')}`)) as { state: string; attempts: number };
    expect(next).toMatchObject({ state: 'pending', attempts: 0 });
    // From now on the worker claims only for its free slots.
    for (const gate of gates.values()) gate.resolve();
    await until(clock, () => gates.size === 4, 1);
    expect(asked.slice(claimsBefore).every((max) => max <= 2)).toBe(true);
    for (const gate of gates.values()) gate.resolve();
  });

  it('an explicit prefetch keeps its meaning: 0 claims only the free slots however short the handlers', async () => {
    const { clock, queue, asked, start } = setup();
    await pushN(queue, 100);
    let completed = 0;
    const worker = start(() => 'done', { concurrency: 4, prefetch: 0 });
    worker.on('completed', () => completed++);
    await until(clock, () => completed === 100, 1);
    expect(asked.every((max) => max <= 4)).toBe(true);
  });
});

describe('AutoPrefetch', () => {
  it('grows on full claims while handlers beat the round trip, to what two round trips need; drops to 0 on long handlers', () => {
    const auto = new AutoPrefetch(4, 996);
    auto.claimed(4, 4, 10);
    expect(auto.value).toBe(0); // no handler measured yet
    auto.handled(5);
    auto.claimed(4, 4, 10);
    expect(auto.value).toBe(4);
    auto.claimed(8, 8, 10);
    expect(auto.value).toBe(8);
    auto.claimed(12, 12, 10);
    expect(auto.value).toBe(16); // 2 × 4 slots × 10 ms / 5 ms
    auto.claimed(20, 20, 10);
    expect(auto.value).toBe(16);
    auto.claimed(20, 3, 10); // a shallow queue: nothing to learn
    expect(auto.value).toBe(16);
    auto.handled(40);
    expect(auto.value).toBe(0);
  });

  it('is bounded by AUTO_PREFETCH_MAX and by the claim limit; a refused claim halves the ceiling', () => {
    const auto = new AutoPrefetch(16, 984);
    auto.handled(0);
    for (let i = 0; i < 20; i++) auto.claimed(16 + auto.value, 16 + auto.value, 10);
    expect(auto.value).toBe(AUTO_PREFETCH_MAX);
    expect(auto.refused()).toBe(true);
    expect(auto.value).toBe(AUTO_PREFETCH_MAX / 2);
    for (let i = 0; i < 5; i++) auto.claimed(16 + auto.value, 16 + auto.value, 10);
    expect(auto.value).toBe(AUTO_PREFETCH_MAX / 2);
    const small = new AutoPrefetch(990, 10);
    small.handled(0);
    for (let i = 0; i < 5; i++) small.claimed(990, 990, 10);
    expect(small.value).toBe(10);
    expect(new AutoPrefetch(4, 996).refused()).toBe(false);
  });
});
