import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/storage/memory.js';
import { describeDriver } from './driver-suite.js';

describeDriver('memory', async () => ({ store: createMemoryStore(), cleanup: async () => {} }));

describe('memory store', () => {
  it('is named memory and has no write interval', () => {
    const store = createMemoryStore();
    expect(store.name).toBe('memory');
    expect(store.minWriteIntervalMs).toBe(0);
  });

  it('gives two stores different etags for the same history', async () => {
    const a = await createMemoryStore().write('k', 'x');
    const b = await createMemoryStore().write('k', 'x');
    expect(a.etag).not.toBe(b.etag);
  });
});
