/**
 * Broker.pushEach (one outcome per job, the valid ones in one commit) and the payloads a push
 * keeps: a copy of the caller's, unless the caller hands them over (`adopt`, the HTTP route).
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { codeOf, counting } from './helpers.js';

function setup() {
  const store = counting(createMemoryStore());
  const broker = new Broker({ store, clock: new FakeClock(), id: 'b1', limits: { maxBatch: 4, maxPayloadBytes: 50 } });
  return { store, broker };
}

describe('Broker.pushEach', () => {
  it('refuses a bad job alone and pushes the others in one commit', async () => {
    const { store, broker } = setup();
    await broker.push('t', [{ id: 'seed', payload: 0 }]);
    const writes = store.writeCalls;
    const out = await broker.pushEach('t', [{ id: 'a', payload: 1 }, { id: 'b' }, { id: 'c', payload: 'x'.repeat(60) }, { id: 'seed', payload: 2 }]);
    expect(out.map((r) => (r.ok ? `${r.value.id}:${r.value.created}` : r.error.code))).toEqual(['a:true', 'INVALID_ARGUMENT', 'PAYLOAD_TOO_LARGE', 'seed:false']);
    expect(store.writeCalls - writes).toBe(1);
    expect(await broker.stats('t')).toMatchObject({ pending: 2 });
  });

  it('answers the request as a whole for its size; every job refused writes nothing', async () => {
    const { store, broker } = setup();
    expect(await codeOf(broker.pushEach('t', Array.from({ length: 5 }, (_, n) => ({ payload: n }))))).toBe('PAYLOAD_TOO_LARGE');
    expect(await codeOf(broker.pushEach('t', []))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(broker.pushEach('bad topic', [{ payload: 1 }]))).toBe('INVALID_ARGUMENT');
    const out = await broker.pushEach('t', [{ nope: 1 }]);
    expect(out).toMatchObject([{ ok: false, error: { code: 'INVALID_ARGUMENT' } }]);
    expect(store.writeCalls).toBe(0);
  });
});

describe('payloads a push keeps', () => {
  it("a copy of the caller's, so changing the object afterwards changes no job; adopted ones as they are", async () => {
    const { broker } = setup();
    const mine = { n: 1 };
    await broker.push('t', [{ id: 'copied', payload: mine }]);
    mine.n = 2;
    expect(await broker.get('t', 'copied')).toMatchObject({ payload: { n: 1 } });

    await broker.push('t', [{ id: 'adopted', payload: { n: 3 } }], { adopt: true });
    await broker.pushEach('t', [{ id: 'each', payload: [4] }, { id: 'bad', payload: 'x'.repeat(60) }], { adopt: true });
    expect(await broker.get('t', 'adopted')).toMatchObject({ payload: { n: 3 } });
    expect(await broker.get('t', 'each')).toMatchObject({ payload: [4] });
    const [claimed] = await broker.claim('t', { workerId: 'w', max: 1 });
    expect(claimed).toMatchObject({ id: 'copied', payload: { n: 1 } });
  });
});
