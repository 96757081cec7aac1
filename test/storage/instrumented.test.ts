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

  it('reports the bytes each call moved, ranged reads included', async () => {
    const bytes: string[] = [];
    const store = instrumentStore(createMemoryStore(), (call) => void bytes.push(`${call.op} ${call.bytes ?? '-'}`));
    await store.write('k', 'héllo');
    await store.write('b', new Uint8Array(100));
    await store.read('k');
    await store.readRange!('b', 10, 30);
    await store.readRange!('b', 90, 300);
    await store.read('missing');
    await store.list('');
    expect(bytes).toEqual(['write 6', 'write 100', 'read 6', 'read 20', 'read 10', 'read 0', 'list -']);
  });
});
