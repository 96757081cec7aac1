/**
 * queue.json's dead-letter index is copied from cached entry bytes between commits (core/codec.ts):
 * what it writes must be what JSON.stringify of the whole head writes, as entries are added,
 * retried and purged, and the state must read back the same.
 */
import { describe, expect, it } from 'vitest';
import { parseState, serializeState } from '../../src/core/codec.js';
import { CoreHarness } from './harness.js';

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
      // What stringifying the head writes (the dead index's entries in its own order: an object
      // would put integer-like ids first, which no reader minds).
      const { dead, ...rest } = JSON.parse(text) as { dead: unknown };
      expect(dead).toEqual(JSON.parse(JSON.stringify(Object.fromEntries(h.state.dead))));
      expect(text.slice(0, text.indexOf('},"dead":{') + 1)).toBe(JSON.stringify({ format: h.state.format, topic: h.state.topic, seq: h.state.seq, writer: h.state.writer, time: h.state.time, broker: h.state.broker, settings: h.state.settings, nextOrder: h.state.nextOrder, counters: h.state.counters }).slice(0, -1));
      expect(rest).toMatchObject({ archiveOpen: JSON.parse(JSON.stringify(h.state.archiveOpen)) });
      // And it reads back to the same index.
      const again = parseState(text, 'queue.json', h.now);
      expect(Object.fromEntries(again.dead)).toEqual(JSON.parse(JSON.stringify(Object.fromEntries(h.state.dead))));
    };
    kill(['a', 'b', 'c']);
    check();
    kill(['d', 'é', '123', '7']); // grows at the end: the cached run is reused (integer-like ids too)
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
