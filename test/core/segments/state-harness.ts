/**
 * A leader of one topic in the pure core, for tests: batches through applyBatch with a segment
 * "store" (planned segments written create-only before the head), queue.json kept as text, and
 * reloads (a takeover) that rebuild the id index from the stored fingerprints.
 */
import { expect } from 'vitest';
import { applyBatch, type BatchRequest } from '../../../src/core/batch.js';
import { parseState, serializeState } from '../../../src/core/codec.js';
import { assertInvariants } from '../../../src/core/invariants.js';
import { segmentLookups } from '../../../src/core/segments/lookups.js';
import type { BacklogLimits } from '../../../src/core/segments/manifest.js';
import { decodeSegment, decodeSegmentFingerprints, decodeSegmentMeta, decodeSegmentRecord, type DecodedSegment } from '../../../src/core/segments/segment-codec.js';
import { createState, type QueueState } from '../../../src/core/state.js';
import { SMALL } from './backlog-harness.js';

export const NOW = 1_700_000_000_000;
export const ELECT = { id: 'A', url: 'http://a', leaseMs: 10_000 };

/** A leader of one topic over a map of "stored" objects: segments written before each head. */
export class Topic {
  store = new Map<string, Buffer>();
  head = '';
  state: QueueState;
  now = NOW;
  private attempt = 0;

  constructor(readonly limits: Partial<BacklogLimits> = SMALL) {
    this.state = createState('t', limits);
    this.batch([], ELECT);
  }

  private source = (key: string): DecodedSegment | undefined => {
    const bytes = this.store.get(key);
    return bytes && decodeSegment(bytes, key);
  };

  batch(requests: BatchRequest[], elect: typeof ELECT | null = null) {
    const nonce = (++this.attempt).toString(16).padStart(8, '0');
    // As the broker does before apply: confirm fingerprint hits against the segments' ids.
    for (const key of segmentLookups(this.state, requests).confirm) this.state.backlog.provideIds(key, decodeSegmentMeta(this.store.get(key)!, key).ids);
    // ... and read the records of jobs a cancel finds in a segment (gets are left to the tests).
    const { records } = segmentLookups(this.state, requests);
    requests = requests.map((r) => {
      const id = (r.input as { id?: string }).id;
      const key = id === undefined ? undefined : records.get(id);
      return r.op === 'cancel' && key ? ({ ...r, input: { ...r.input, record: decodeSegmentRecord(this.store.get(key)!, id!, key) } } as BatchRequest) : r;
    });
    const out = applyBatch(this.state, 'A', requests, elect, this.now, { nonce, source: this.source });
    if (!out.ok) throw out.error;
    for (const w of out.segmentWrites) {
      expect(this.store.has(w.key)).toBe(false); // create-only: a name is never written twice
      this.store.set(w.key, w.bytes);
    }
    this.head = serializeState(this.state).toString();
    assertInvariants(this.state, this.now);
    return out;
  }

  ok(requests: BatchRequest[]) {
    return this.batch(requests).results.map((r) => {
      if (!r.ok) throw r.error;
      return r.value;
    });
  }

  /** A takeover: the head parsed again, the index rebuilt from every named segment's fingerprints. */
  reload(): void {
    this.state = parseState(this.head, 'topics/t/queue.json', this.now, this.limits);
    for (const key of this.state.backlog.unindexed()) this.state.backlog.provideFingerprints(key, decodeSegmentFingerprints(this.store.get(key)!, key).fps);
    assertInvariants(this.state, this.now);
  }
}

/** Claims everything, one batch a claim of `per`, refilling from the store as it goes. */
export function drain(t: Topic, per: number): string[] {
  const got: string[] = [];
  for (let i = 0; i < 100; i++) {
    const [r] = t.ok([{ op: 'claim', input: { worker: 'w', max: per, leaseMs: 60_000, nonce: `c${i}` } }]) as [{ jobs: Array<{ id: string }> }];
    got.push(...r.jobs.map((j) => j.id));
    if (r.jobs.length === 0 && t.state.idx.counts.pending === 0) break;
  }
  return got;
}
