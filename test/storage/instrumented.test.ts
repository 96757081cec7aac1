/**
 * The instrumented store decorator (metrics, logs, readiness) must never change a storage call's
 * outcome: a landed write stays landed and a failure keeps its own error, even when the observer
 * (a user-supplied logger, a metrics bug) throws.
 */
import { describe, expect, it } from 'vitest';
import { QueueError } from '../../src/errors.js';
import { instrumentStore } from '../../src/storage/instrumented.js';
import { createMemoryStore } from '../../src/storage/memory.js';

describe('instrumentStore', () => {
  it('reports each call, and an observer that throws changes no outcome', async () => {
    const inner = createMemoryStore();
    const seen: string[] = [];
    const store = instrumentStore(inner, (call) => {
      seen.push(`${call.op} ${call.errorCode ?? 'ok'}`);
      throw new Error('observer bug');
    });
    const { etag } = await store.write('k', 'one', { ifNoneMatch: '*' });
    expect((await inner.read('k'))?.etag).toBe(etag);
    expect(Buffer.from((await store.read('k'))!.body).toString()).toBe('one');
    // A lost condition stays STORE_CONFLICT (the commit loop reloads on it), not the observer's error.
    const lost = await store.write('k', 'two', { ifMatch: 'not-the-etag' }).catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(QueueError);
    expect((lost as QueueError).code).toBe('STORE_CONFLICT');
    expect(seen).toEqual(['write ok', 'read ok', 'write STORE_CONFLICT']);
    expect(store.lastAnsweredAt).toBeGreaterThan(-Infinity);
  });
});
