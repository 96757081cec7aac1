/**
 * runDoctor's verdicts on stores that misbehave in the ways real ones do, built by wrapping the
 * memory store: ambiguous answers (radosgw's 500s), writers told they won when they lost, and a
 * store that ignores If-Match on missing keys. The CLI and real servers are in test/cli/doctor.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { isQueueError, QueueError } from '../../src/errors.js';
import { runDoctor, type CheckName, type CheckResult } from '../../src/storage/doctor.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver, WriteCondition } from '../../src/storage/types.js';

type Twist = (inner: StorageDriver, key: string, body: Uint8Array | string, condition: WriteCondition | undefined) => Promise<{ etag: string }>;

/** The memory store, with conditional writes bent by `twist` once `from` has settled. */
function bent(twist: Twist, from: CheckName): { store: StorageDriver; onCheck: (c: CheckResult) => void } {
  const inner = createMemoryStore();
  let on = false;
  return {
    onCheck: (c) => {
      if (c.name === from) on = true;
      if (c.name === 'race') on = false;
    },
    store: { ...inner, name: 'bent', write: (key, body, condition) => (on && condition ? twist(inner, key, body, condition) : inner.write(key, body, condition)) },
  };
}

const verdicts = (checks: CheckResult[]) => Object.fromEntries(checks.map((c) => [c.name, c.verdict]));

describe('runDoctor', () => {
  it('passes on the memory store, every check, with a latency figure', async () => {
    const report = await runDoctor(createMemoryStore(), { racers: 4, rounds: 3, writes: 5 });
    expect(report.ok).toBe(true);
    expect(report.failed).toEqual([]);
    expect(report.checks.every((c) => c.verdict === 'pass')).toBe(true);
    expect(report.latency?.writes).toBe(5);
  });

  it('resolves ambiguous race answers by re-reading, like radosgw answering losers (and here winners) with 500', async () => {
    const { store, onCheck } = bent(async (inner, key, body, condition) => {
      try {
        await inner.write(key, body, condition);
      } catch (err) {
        if (!isQueueError(err, 'STORE_CONFLICT')) throw err;
      }
      throw new QueueError('STORE_AMBIGUOUS', 'injected: HTTP 500');
    }, 'if-match-missing');
    const report = await runDoctor(store, { racers: 5, rounds: 3, writes: 3, onCheck });
    expect(report.ok).toBe(true);
    expect(report.checks.find((c) => c.name === 'race')?.detail).toMatch(/ambiguous answers resolved by re-reading in 3 round\(s\)/);
  });

  it('fails the race when a losing writer is told it won', async () => {
    const { store, onCheck } = bent(async (inner, key, body, condition) => {
      try {
        return await inner.write(key, body, condition);
      } catch {
        return { etag: 'made-up' };
      }
    }, 'if-match-missing');
    const report = await runDoctor(store, { racers: 4, rounds: 2, onCheck });
    expect(report.ok).toBe(false);
    expect(report.failed).toEqual(['race']);
    expect(report.checks.find((c) => c.name === 'race')?.detail).toMatch(/^round 1: 4 of 4 writers with the same etag were told they won/);
  });

  it('fails if-match-missing on a store that creates a key for If-Match (as MinIO once did)', async () => {
    const { store, onCheck } = bent((inner, key, body, condition) => inner.write(key, body, key.endsWith('absent') ? undefined : condition), 'stale-etag');
    const report = await runDoctor(store, { onCheck });
    expect(verdicts(report.checks)).toMatchObject({ 'stale-etag': 'pass', 'if-match-missing': 'fail', race: 'pass', cleanup: 'pass' });
    expect(report.failed).toEqual(['if-match-missing']);
  });

  it('an unreachable store: reach errs with the reason (could not run, not failed), the rest is skipped, the verdict is could-not-check', async () => {
    const inner = createMemoryStore();
    const down: StorageDriver = { ...inner, read: () => Promise.reject(new QueueError('FAILED_PRECONDITION', 'access denied')) };
    const report = await runDoctor(down);
    expect(report.checks[0]).toMatchObject({ name: 'reach', verdict: 'error', detail: 'could not run: FAILED_PRECONDITION: access denied' });
    expect(verdicts(report.checks)).toMatchObject({ 'read-write': 'skip', race: 'skip' });
    expect(report).toMatchObject({ ok: false, verdict: 'could-not-check', failed: [], errors: ['reach'] });
  });

  it('a store that stops answering mid-way (STORE_UNAVAILABLE on writes) is could-not-check; one that answers wrongly is not-safe', async () => {
    const inner = createMemoryStore();
    const flaky: StorageDriver = { ...inner, write: () => Promise.reject(new QueueError('STORE_UNAVAILABLE', 'connection reset')) };
    const report = await runDoctor(flaky);
    expect(verdicts(report.checks)).toMatchObject({ reach: 'pass', 'read-write': 'error', 'create-if-absent': 'error' });
    expect(report).toMatchObject({ verdict: 'could-not-check', failed: [] });
    const ignoresConditions: StorageDriver = { ...inner, write: (key, body) => inner.write(key, body) };
    expect(await runDoctor(ignoresConditions)).toMatchObject({ verdict: 'not-safe', failed: expect.arrayContaining(['create-if-absent']) });
  });
});
