import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JoinedBytes } from '../../src/core/joined-bytes.js';

/** An element with its bytes, as a job record and its cached JSON: a change gives it new bytes. */
interface Item {
  bytes: Buffer;
}
const SEP = Buffer.from(',\n');
const item = (text: string): Item => ({ bytes: Buffer.from(text) });
const expected = (items: Item[]) => items.map((i) => i.bytes.toString()).join(',\n');

describe('JoinedBytes', () => {
  it('joins a list that grows at the end and loses elements at the front, as the done list does', () => {
    const j = new JoinedBytes<Item>(SEP, (i) => i.bytes);
    let list: Item[] = [];
    let n = 0;
    for (let round = 0; round < 200; round++) {
      list = [...list, ...Array.from({ length: 1 + (round % 7) }, () => item(`{"n":${n++}}`))];
      if (round % 9 === 8) list = list.slice(list.length >> 1);
      expect(j.join(list).toString()).toBe(expected(list));
    }
  });

  it('starts over when an element changed, went missing from the middle or the list was reordered', () => {
    const j = new JoinedBytes<Item>(SEP, (i) => i.bytes);
    const list = ['a', 'b', 'c', 'd'].map(item);
    expect(j.join(list).toString()).toBe('a,\nb,\nc,\nd');
    list[1] = { bytes: Buffer.from('B') };
    expect(j.join(list).toString()).toBe('a,\nB,\nc,\nd');
    expect(j.join([list[0]!, list[2]!, list[3]!]).toString()).toBe('a,\nc,\nd');
    expect(j.join([list[3]!, list[0]!]).toString()).toBe('d,\na');
    expect(j.join([]).toString()).toBe('');
    expect(j.join(list.slice(0, 2)).toString()).toBe('a,\nB');
  });

  it('a view it returned keeps its bytes while the next calls append', () => {
    const j = new JoinedBytes<Item>(SEP, (i) => i.bytes);
    const list = [item('first')];
    const view = j.join(list);
    for (let i = 0; i < 50; i++) {
      list.push(item(`x${i}`));
      j.join(list);
    }
    expect(view.toString()).toBe('first');
  });

  it('equals a plain join after any sequence of list changes (property)', () => {
    type Step = { kind: 'add'; count: number } | { kind: 'dropFront'; count: number } | { kind: 'remove'; at: number } | { kind: 'change'; at: number } | { kind: 'truncate'; count: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), count: fc.integer({ min: 1, max: 40 }) }),
      fc.record({ kind: fc.constant('dropFront' as const), count: fc.integer({ min: 1, max: 30 }) }),
      fc.record({ kind: fc.constant('remove' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('change' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('truncate' as const), count: fc.integer({ min: 1, max: 10 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const j = new JoinedBytes<Item>(SEP, (i) => i.bytes);
        let list: Item[] = [];
        let n = 0;
        for (const s of steps) {
          if (s.kind === 'add') for (let i = 0; i < s.count; i++) list.push(item(`{"id":"j${n++}","pad":"${'x'.repeat(n % 50)}"}`));
          else if (s.kind === 'dropFront') list = list.slice(s.count);
          else if (s.kind === 'truncate') list = list.slice(0, Math.max(0, list.length - s.count));
          else if (list.length > 0 && s.kind === 'remove') list = list.filter((_, i) => i !== s.at % list.length);
          else if (list.length > 0 && s.kind === 'change') list[s.at % list.length] = item(`{"changed":${n++}}`);
          expect(j.join(list).toString()).toBe(expected(list));
        }
      }),
      { numRuns: 300 },
    );
  });
});
