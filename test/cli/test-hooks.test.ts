/** The test hooks of `bucketq broker` (src/cli/test-hooks.ts): nothing when unset, clear refusals, a hold that never answers. */
import { describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/cli/command.js';
import { brokerTestHooks } from '../../src/cli/test-hooks.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { deferred } from '../embedded-helpers.js';

describe('bucketq broker test hooks', () => {
  it('change nothing when no variable is set', () => {
    expect(brokerTestHooks({ BUCKETQ_TEST_HOLD_WRITE: '', PATH: '/bin' })).toEqual({ brokerOptions: {} });
  });

  it('refuse a pattern that is not a regular expression, an AFTER without a HOLD, a bad listing period', () => {
    expect(() => brokerTestHooks({ BUCKETQ_TEST_HOLD_WRITE: '(' })).toThrow(UsageError);
    expect(() => brokerTestHooks({ BUCKETQ_TEST_HOLD_WRITE_AFTER: '^segments/' })).toThrow(/needs BUCKETQ_TEST_HOLD_WRITE/);
    expect(() => brokerTestHooks({ BUCKETQ_TEST_ORPHAN_LISTING_MS: 'soon' })).toThrow(/milliseconds/);
    expect(brokerTestHooks({ BUCKETQ_TEST_ORPHAN_LISTING_MS: '200' }).brokerOptions).toEqual({ orphanListingMs: 200 });
  });

  it('hold a matching write only after a write matching AFTER landed, say so once, and pass everything else on', async () => {
    const said: string[] = [];
    const inner = createMemoryStore();
    const store = brokerTestHooks({ BUCKETQ_TEST_HOLD_WRITE: 'head$', BUCKETQ_TEST_HOLD_WRITE_AFTER: '^seg/' }, (l) => said.push(l)).wrapStore!(inner);
    await store.write('t/head', 'one'); // not armed yet
    await store.write('seg/1', 'x');
    let answered = false;
    void store.write('t/head', 'two').finally(() => (answered = true));
    void store.write('u/head', 'three').finally(() => (answered = true));
    await store.write('other', 'y'); // not held
    await new Promise((r) => setImmediate(r));
    expect(answered).toBe(false);
    expect(said).toEqual(['bucketq test hook: holding the write of t/head']);
    expect(Buffer.from((await store.read('t/head'))!.body).toString()).toBe('one');
    expect(await store.read('u/head')).toBeNull();
    expect(await inner.list('')).toEqual(expect.arrayContaining(['other', 'seg/1', 't/head']));
  });

  it('report a hold only once the writes in flight beside it have settled: what landed is known at the report', async () => {
    const said: string[] = [];
    const inner = createMemoryStore();
    const slowWrite = deferred();
    const slow: StorageDriver = { ...inner, write: async (k, b, c) => (k === 'seg-0' && (await slowWrite.promise), inner.write(k, b, c)) };
    const store = brokerTestHooks({ BUCKETQ_TEST_HOLD_WRITE: 'seg-[1-9]' }, (l) => said.push(l)).wrapStore!(slow);
    const first = store.write('seg-0', 'a'); // in flight (slow) when the next is held
    void store.write('seg-1', 'b');
    await new Promise((r) => setImmediate(r));
    expect(said).toEqual([]);
    slowWrite.resolve();
    await first;
    await vi.waitFor(() => expect(said).toEqual(['bucketq test hook: holding the write of seg-1']), { timeout: 5000, interval: 5 });
  });
});
