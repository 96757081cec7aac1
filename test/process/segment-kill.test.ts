/**
 * A leader process SIGKILLed between writing a batch's segments and the head write that names
 * them (docs/format.md, sections 4 and 5), on a `file:` store with tiny head bounds (--backlog):
 *
 *   1. an embedded broker pushes batch A (acknowledged; most of it lands in segments) and stops;
 *   2. broker process P1 takes the topic over; it runs with the test hook BUCKETQ_TEST_HOLD_WRITE
 *      (src/cli/test-hooks.ts), which holds one write of the commit path forever and says so on
 *      stderr;
 *   3. batch B is pushed to P1; the hook holds its commit (after all its segments landed and before
 *      its head, or after its first segment and before the others); the test SIGKILLs P1 then and
 *      lists the store (before any other broker runs: nothing can have collected an orphan yet);
 *   4. broker process P2 starts and takes over once P1's lease is stale: it serves A exactly once
 *      in order, knows nothing of B (the push was never acknowledged; B's ids push anew), reports
 *      no missing segment, and deletes B's orphan segments at a listing two leases after the one
 *      that found them (BUCKETQ_TEST_ORPHAN_LISTING_MS).
 *
 * The moment of the kill comes from the hook's stderr line, the takeover from P2's "leading" line,
 * everything else from bounded polls: no sleep.
 */
import { checkManifest } from '../../src/core/segments/manifest.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { parseBacklogSpec } from '../../src/core/segments/limits-spec.js';
import { createFileStore } from '../../src/storage/fs.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { startBrokerProcess, type BrokerProcess } from '../broker-process.js';
import { api } from '../http-helpers.js';

const LEASE_MS = 1500;
const BACKLOG = 'windowJobs=6,lowWater=3,tailSealJobs=4,tailTotalJobs=10,segmentMaxJobs=5,tombstoneMax=4';
const HOOK_LINE = /^bucketq test hook: holding the write of (\S+)$/;

let dir = '';
let store: StorageDriver;
const brokers: BrokerProcess[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bucketq-segkill-'));
  store = createFileStore({ root: dir });
});

afterEach(async () => {
  for (const b of brokers.splice(0)) {
    if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGKILL');
    await b.exited;
  }
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

async function broker(id: string, env: NodeJS.ProcessEnv = {}): Promise<BrokerProcess> {
  const args = ['--store', `file:${dir}`, '--listen', '127.0.0.1:0', '--id', id, '--lease-ms', String(LEASE_MS), '--standby-check-ms', '200', '--backlog', BACKLOG];
  const b = await startBrokerProcess(args, env);
  brokers.push(b);
  return b;
}

/** Segment keys the store holds, and those the landed head names (ready, delayed, garbage). */
async function segments(): Promise<{ stored: string[]; named: Set<string> }> {
  const head = JSON.parse(Buffer.from((await store.read('topics/t/queue.json'))!.body).toString('utf8')) as { backlog: unknown };
  const m = checkManifest(head.backlog, 'queue.json', 't'); // the stored form expanded
  const named = new Set([...m.ready, ...m.delayed, ...m.garbage].map((s) => s.key));
  return { stored: (await store.list('segments/t/')).sort(), named };
}

/** Claims and acks (one settle per claim) until `n` jobs came; long polls wait for the read-aheads; gives up at a deadline. */
async function claimAll(url: string, n: number): Promise<string[]> {
  const call = api(url);
  const got: string[] = [];
  for (const deadline = Date.now() + 30_000; got.length < n && Date.now() < deadline; ) {
    const { status, body } = await call<{ jobs: Array<{ id: string; lease: string }> }>('POST', '/v1/topics/t/claim', { workerId: 'w', max: 4, waitMs: 300 });
    expect(status).toBe(200);
    if (body.jobs.length === 0) continue;
    got.push(...body.jobs.map((j) => j.id));
    const settled = await call('POST', '/v1/topics/t/settle', { acks: body.jobs.map((j) => ({ id: j.id, workerId: 'w', lease: j.lease })), nacks: [] });
    expect(settled.status).toBe(200);
  }
  return got;
}

describe.each([
  // Every segment of batch B landed; its head write is held (the "between writing a segment and the commit that names it").
  { moment: 'after all its segments landed, before its head', hold: String.raw`^topics/t/queue\.json$`, after: '^segments/t/' },
  // Its first segment landed, the others are held (so is the head, which waits for them).
  { moment: 'after its first segment landed, before its other segments and its head', hold: String.raw`^segments/t/.*-[1-9][0-9]*\.seg$`, after: '' },
])('a leader process SIGKILLed while its commit of segments is in flight ($moment)', ({ hold, after }) => {
  it('the next leader serves every acknowledged job once, in order, nothing of the lost batch, and deletes its orphan segments', async () => {
    // 1. Batch A, acknowledged, mostly in segments.
    const embedded = new Broker({ store, id: 'e', leaseMs: LEASE_MS, backlog: parseBacklogSpec(BACKLOG) });
    const batchA = ids('a', 30);
    await embedded.push('t', batchA.map((id) => ({ id, payload: { id } })));
    await embedded.stop(); // gives the lease up: P1 takes over at once
    const before = await segments();
    expect(before.stored.length).toBeGreaterThan(0);
    expect(before.stored.every((k) => before.named.has(k))).toBe(true);

    // 2. P1 leads with the hook.
    const p1 = await broker('p1', { BUCKETQ_TEST_HOLD_WRITE: hold, BUCKETQ_TEST_HOLD_WRITE_AFTER: after });
    await p1.line(/leading topic t /);

    // 3. Batch B to P1: held mid-commit, then P1 is killed.
    const batchB = ids('b', 20);
    const pushB = api(p1.url)('POST', '/v1/topics/t/jobs', { jobs: batchB.map((id) => ({ id, payload: { id } })) }).then(
      (r) => `answered ${r.status}`,
      () => 'no answer',
    );
    await vi.waitFor(() => expect(p1.stderr.some((l) => HOOK_LINE.test(l))).toBe(true), { timeout: 15_000, interval: 20 });
    p1.child.kill('SIGKILL');
    expect((await p1.exited).signal).toBe('SIGKILL');
    expect(await pushB).toBe('no answer'); // never acknowledged
    // Listed before P2 exists: no collection can have started.
    const killed = await segments();
    const orphans = killed.stored.filter((k) => !killed.named.has(k));
    expect(orphans.length).toBeGreaterThan(0); // B's segments that landed, named by no head
    expect(before.named).toEqual(killed.named); // the head is the one before B

    // 4. P2, listing segments for orphans often, takes over once P1's lease is stale.
    const p2 = await broker('p2', { BUCKETQ_TEST_ORPHAN_LISTING_MS: '200' });
    await p2.line(/leading topic t /);
    const call = api(p2.url);
    const stats = await call('GET', '/v1/topics/t');
    expect(stats.body).toMatchObject({ pending: 30, claimed: 0 });
    // Nothing of B is known: not in the head, not in the id index (orphans are never read).
    const again = await call('POST', '/v1/topics/t/jobs', { jobs: batchB.map((id) => ({ id, payload: { id, again: true } })) });
    expect(again.status).toBe(201);
    expect(again.body.jobs.map((j: { created: boolean }) => j.created)).toEqual(batchB.map(() => true));
    expect(await claimAll(p2.url, 50)).toEqual([...batchA, ...batchB]);
    expect((await call('GET', '/readyz')).body).not.toHaveProperty('segmentLost');

    // The orphans go at a listing two leases after the one that found them; the consumed segments, as garbage.
    await vi.waitFor(async () => expect((await segments()).stored).toEqual([]), { timeout: 30_000, interval: 100 });
    expect((await call('GET', '/v1/topics/t')).body).toMatchObject({ pending: 0, claimed: 0 });
  }, 90_000);
});
