/**
 * queue.json's dead-letter index is copied from cached entry bytes between commits (core/codec.ts):
 * what it writes must be exactly what JSON.stringify of the whole head writes, as entries are
 * added, retried, purged and expired, and the state must read back the same.
 */
import { describe, expect, it } from 'vitest';
import { parseState, serializeState } from '../../src/core/codec.js';
import type { QueueState } from '../../src/core/state.js';
import { CoreHarness } from './harness.js';

/** The head's first fields as one JSON.stringify of them writes them (how they were written before the cache). */
function stringifiedHead(s: QueueState): string {
  const head = JSON.stringify({
    format: s.format,
    topic: s.topic,
    seq: s.seq,
    writer: s.writer,
    time: s.time,
    broker: s.broker,
    settings: s.settings,
    nextOrder: s.nextOrder,
    counters: s.counters,
    dead: Object.fromEntries(s.dead),
    archiveOpen: s.archiveOpen,
  });
  return `${head.slice(0, -1)},"recent":`;
}

describe("queue.json's dead-letter index", () => {
  it('is written as JSON.stringify would write it, commit after commit, whatever happens to the entries', () => {
    const h = new CoreHarness();
    const kill = (ids: string[]) => {
      h.ok('push', { jobs: ids.map((id) => ({ id, payload: { id }, maxAttempts: 1 })) });
      for (const j of h.ok('claim', { worker: 'w', max: ids.length, leaseMs: 1000, nonce: `n-${ids[0]}` }).jobs) {
        h.ok('nack', { id: j.id, worker: 'w', token: j.lease, error: `boom "${j.id}"\n`, rand: 0 });
      }
    };
    const check = () => {
      const text = serializeState(h.state).toString('utf8');
      // Byte for byte what stringifying the head writes, key order included.
      expect(text.startsWith(stringifiedHead(h.state))).toBe(true);
      // And it reads back to the same index.
      const again = parseState(text, 'queue.json', h.now);
      expect([...again.dead]).toEqual(JSON.parse(JSON.stringify([...h.state.dead])));
    };
    kill(['a', 'b', 'c']);
    check();
    kill(['d', 'é']); // grows at the end: the cached run is reused
    check();
    h.ok('retry', { id: 'b' }); // out of the middle: rebuilt
    check();
    h.ok('purgeDead', { ids: ['a'] });
    check();
    kill(['f']);
    check();
    h.ok('purgeDead', {});
    check();
    expect(h.state.dead.size).toBe(0);
  });
});
