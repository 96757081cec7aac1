/**
 * The fuzz files' server and their checks afterwards, the same for HTTP and RESP: an in-process
 * broker server on a memory store that records every bug it reports through onError, the seeded
 * case loop with its heap readings, control jobs pushed between cases that must come out pending and untouched, a close() that must not
 * hang, and a valid queue.json for every topic the fuzzer created.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { parseState } from '../../src/core/codec.js';
import { assertInvariants } from '../../src/core/invariants.js';
import { createClient, createMemoryStore } from '../../src/index.js';
import { startBrokerServer, type BrokerServer, type BrokerServerOptions } from '../../src/server/broker-server.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { heapAfterGc } from './raw.js';

export interface FuzzTarget {
  store: StorageDriver;
  server: BrokerServer;
  /** What the server reported through onError: a fuzz case must never cause one. */
  bugs: Array<{ context: string; err: unknown }>;
}

/** Starts the server (memory store, HTTP on any port unless `listen` says otherwise). */
export async function startFuzzTarget(options: Omit<BrokerServerOptions, 'store' | 'onError'>): Promise<FuzzTarget> {
  const store = createMemoryStore();
  const bugs: FuzzTarget['bugs'] = [];
  const server = await startBrokerServer({ listen: '127.0.0.1:0', ...options, store, onError: (err, context) => bugs.push({ context, err }) });
  return { store, server, bugs };
}

/** A client on `topic` that pushes one job every 50 cases; `checkUntouched` then wants each one still pending. */
export function controlJobs(server: BrokerServer, topic: string, token: string) {
  const client = createClient({ url: server.url, topic, token });
  const pushed: string[] = [];
  return {
    async onCase(run: number): Promise<void> {
      if (run % 50 !== 0) return;
      const id = `ctl-${run}`;
      await client.push({ n: run }, { id });
      pushed.push(id);
    },
    async checkUntouched(): Promise<void> {
      expect((await client.stats()).pending).toBe(pushed.length);
      for (const id of pushed) expect(await client.get(id)).toMatchObject({ id, state: 'pending' });
    },
    close: () => client.close(),
  };
}

/**
 * Runs `runs` cases of `arb` through `check` (FUZZ_SEED=N replays a run; the first failure ends
 * it), pushing the control jobs in between. The heap is read after GC once warmed up (case 200:
 * code loaded, topics made) and at the end; the test bounds the growth.
 */
export async function fuzzCases<T>(arb: fc.Arbitrary<T>, runs: number, control: ReturnType<typeof controlJobs>, check: (value: T) => Promise<void>) {
  let cases = 0;
  let heapStart = 0;
  await fc.assert(
    fc.asyncProperty(arb, async (value) => {
      cases++;
      if (cases === 200) heapStart = heapAfterGc();
      await control.onCase(cases);
      await check(value);
    }),
    { numRuns: runs, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31), endOnFailure: true },
  );
  const heapEnd = heapAfterGc();
  return { cases, heapGrowth: heapEnd - heapStart, heap: `${(heapStart / 2 ** 20).toFixed(1)} → ${(heapEnd / 2 ** 20).toFixed(1)} MiB` };
}

/** close() must finish: it waits for every request in flight to have its answer. */
export async function expectCloseWithin(server: BrokerServer, ms = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`close() hung with ${server.inFlight} requests in flight`), ms)));
  expect(await Promise.race([server.close().then(() => 'closed'), hung])).toBe('closed');
  clearTimeout(timer);
}

/** Every topic's queue.json in the store parses and keeps the invariants; resolves to their keys. */
export async function expectValidStates(store: StorageDriver): Promise<string[]> {
  const keys = (await store.list('topics/')).filter((k) => k.endsWith('/queue.json'));
  for (const key of keys) {
    const obj = await store.read(key);
    assertInvariants(parseState(Buffer.from(obj!.body).toString('utf8'), key, Date.now()), Date.now());
  }
  return keys;
}
