/** One batch applied to a draft (src/core/batch.ts): the commit's order, a refused election, one op's error, nothing changed. */
import { describe, expect, it } from 'vitest';
import { applyBatch } from '../../src/core/batch.js';
import { assertInvariants } from '../../src/core/invariants.js';
import { createState, type QueueState } from '../../src/core/state.js';

const NOW = 1_700_000_000_000;
const ELECT_A = { id: 'A', url: 'http://a', leaseMs: 10_000 };

/** A topic led by A (commit 1) with job `j1` pending. */
function ledByA(): QueueState {
  const s = createState('t');
  const first = applyBatch(s, 'A', [{ op: 'push', input: { jobs: [{ id: 'j1', payload: 1 }] } }], ELECT_A, NOW);
  expect(first).toMatchObject({ ok: true, changed: true });
  return s;
}

describe('applyBatch', () => {
  it('stamps the commit, elects, then applies each request in order', () => {
    const s = createState('t');
    const out = applyBatch(
      s,
      'A',
      [
        { op: 'push', input: { jobs: [{ id: 'a', payload: 1 }] } },
        { op: 'claim', input: { worker: 'w', max: 5, leaseMs: 1000, nonce: 'n' } },
      ],
      ELECT_A,
      NOW,
    );
    expect(out).toMatchObject({ ok: true, changed: true, swept: undefined });
    expect(s).toMatchObject({ seq: 1, writer: 'A', time: NOW, broker: { id: 'A', epoch: 1, leaseUntil: NOW + 10_000 } });
    expect(out.ok && out.results.map((r) => r.ok && r.value)).toEqual([{ jobs: [expect.objectContaining({ id: 'a', created: true })] }, { jobs: [expect.objectContaining({ id: 'a' })] }]);
    assertInvariants(s, NOW);
  });

  it('a refused election ends the batch: nothing applied, the stamp taken back', () => {
    const s = ledByA();
    const before = JSON.stringify({ seq: s.seq, writer: s.writer, time: s.time, broker: s.broker });
    const out = applyBatch(s, 'B', [{ op: 'push', input: { jobs: [{ id: 'by-b', payload: 2 }] } }], { id: 'B', url: 'http://b', leaseMs: 10_000 }, NOW + 1);
    expect(out).toMatchObject({ ok: false, error: { code: 'NOT_LEADER' } });
    expect(JSON.stringify({ seq: s.seq, writer: s.writer, time: s.time, broker: s.broker })).toBe(before);
    expect(s.jobs.has('by-b')).toBe(false);
  });

  it("one op's error fails only that op", () => {
    const s = ledByA();
    const out = applyBatch(
      s,
      'A',
      [
        { op: 'ack', input: { id: 'j1', worker: 'w', token: 'not-claimed' } },
        { op: 'push', input: { jobs: [{ id: 'j2', payload: 2 }] } },
      ],
      null,
      NOW + 1,
    );
    expect(out.ok && out.results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['LEASE_LOST', 'ok']);
    expect(out).toMatchObject({ ok: true, changed: true });
    expect(s.jobs.has('j2')).toBe(true);
  });

  it('a batch that changes nothing says so, and unstamp leaves the draft as it was', () => {
    const s = ledByA();
    const out = applyBatch(s, 'A', [{ op: 'stats', input: {} }, { op: 'push', input: { jobs: [{ id: 'j1', payload: 1 }] } }], null, NOW + 5);
    expect(out).toMatchObject({ ok: true, changed: false });
    expect(s.seq).toBe(2);
    if (out.ok) out.unstamp();
    expect(s).toMatchObject({ seq: 1, writer: 'A', time: NOW });
  });

  it('sweeps what came due before the requests: a claim takes the job whose lease expired', () => {
    const s = ledByA();
    applyBatch(s, 'A', [{ op: 'claim', input: { worker: 'w1', max: 1, leaseMs: 100, nonce: 'n1' } }], null, NOW);
    const out = applyBatch(s, 'A', [{ op: 'claim', input: { worker: 'w2', max: 1, leaseMs: 100, nonce: 'n2' } }], null, NOW + 101);
    expect(out.ok && out.swept?.expired).toMatchObject([{ id: 'j1', worker: 'w1' }]);
    expect(out.ok && out.results[0]).toMatchObject({ ok: true, value: { jobs: [{ id: 'j1', attempt: 2 }] } });
  });
});
