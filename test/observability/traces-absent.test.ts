/**
 * Without @opentelemetry/api (an optional peer dependency): tracing reports itself off, request
 * helpers run the call bare (no span object at all), and the broker works as ever.
 */
import { describe, expect, it, vi } from 'vitest';

// tracing.ts loads the API with require (no top-level await; see there): that require fails here
// the way it does where the package is not installed.
vi.mock('node:module', async (original) => {
  const actual = await original<typeof import('node:module')>();
  const createRequire = (from: string | URL) => {
    const real = actual.createRequire(from);
    return Object.assign((id: string) => {
      if (id === '@opentelemetry/api') throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
      return real(id);
    }, real);
  };
  return { ...actual, default: { ...actual, createRequire }, createRequire };
});

describe('tracing without @opentelemetry/api', () => {
  it('is off, hands calls no span, and the broker still commits', async () => {
    const { tracingAvailable, traced, startRequestSpan } = await import('../../src/broker/tracing.js');
    expect(tracingAvailable).toBe(false);
    expect(startRequestSpan('bucketq.push', 't', {})).toBeNull();
    let seen: unknown = 'not called';
    expect(await traced('bucketq.push', 't', {}, async (span) => ((seen = span), 42))).toBe(42);
    expect(seen).toBeNull();

    const { Broker } = await import('../../src/broker/broker.js');
    const { createMemoryStore } = await import('../../src/storage/memory.js');
    const broker = new Broker({ store: createMemoryStore() });
    try {
      const [out] = await broker.push('t', [{ id: 'x', payload: 1 }]);
      expect(out).toMatchObject({ id: 'x', created: true });
      const [job] = await broker.claim('t', { workerId: 'w', max: 1 });
      expect(await broker.ack('t', { id: 'x', workerId: 'w', lease: job!.lease })).toEqual({ id: 'x' });
    } finally {
      await broker.stop();
    }
  });
});
