import { describe, expect, it } from 'vitest';
import { lazyPayloadText, setLazyPayload } from '../../src/core/claimed-payload.js';
import { createQueue } from '../../src/index.js';

describe('a claimed job payload kept as text until read', () => {
  it('parses on first read into a fresh copy, once, and forgets the text', () => {
    const job: { id: string; payload?: unknown } = { id: 'a' };
    setLazyPayload(job, '{"n":1,"items":[{"sku":"x"}]}');
    expect(lazyPayloadText(job)).toBe('{"n":1,"items":[{"sku":"x"}]}');
    const first = job.payload as { n: number };
    expect(first).toEqual({ n: 1, items: [{ sku: 'x' }] });
    expect(job.payload).toBe(first); // parsed once: the same object on every read
    expect(lazyPayloadText(job)).toBeUndefined(); // a reader may change it: the text no longer speaks for it
  });

  it('looks like a plain property to spreads, JSON, structuredClone and assignment', () => {
    const make = () => {
      const job: { id: string; payload?: unknown; lastError?: string } = { id: 'a' };
      setLazyPayload(job, '{"n":2}');
      job.lastError = 'boom';
      return job;
    };
    expect(Object.keys(make())).toEqual(['id', 'payload', 'lastError']);
    expect({ ...make() }).toEqual({ id: 'a', payload: { n: 2 }, lastError: 'boom' });
    expect(JSON.parse(JSON.stringify(make()))).toEqual({ id: 'a', payload: { n: 2 }, lastError: 'boom' });
    expect(structuredClone(make())).toEqual({ id: 'a', payload: { n: 2 }, lastError: 'boom' });
    const job = make();
    job.payload = 'replaced';
    expect(job.payload).toBe('replaced');
    expect(lazyPayloadText(job)).toBeUndefined();
  });

  it('an embedded claim hands out a copy: changing it changes nothing in the queue', async () => {
    const q = createQueue<{ n: number; tags: string[] }>({ store: 'memory://', topic: 't' });
    try {
      await q.push({ n: 1, tags: ['a'] });
      const [job] = await q.claim({ workerId: 'w', max: 1 });
      expect(job!.payload).toEqual({ n: 1, tags: ['a'] });
      job!.payload.tags.push('b');
      const again = await q.get(job!.id);
      expect(again?.payload).toEqual({ n: 1, tags: ['a'] });
    } finally {
      await q.close();
    }
  });
});
