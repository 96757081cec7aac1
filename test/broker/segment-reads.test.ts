/**
 * What a leader reads of a segment to answer for one job in it (docs/format.md, section 3): a
 * duplicate push or a cancel reads the segment's header, a get that header and the job's record,
 * never the whole object when the store reads ranges; and every section it reads is checked, so a
 * damaged record is refused (CORRUPT_STATE) instead of answered.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { DEFAULT_LIMITS } from '../../src/core/segments/manifest.js';
import { decodeSegmentMeta, recordSpan } from '../../src/core/segments/segment-codec.js';
import { instrumentStore } from '../../src/storage/instrumented.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { codeOf, drive } from '../embedded-helpers.js';
import { readManifest, readQueue } from './helpers.js';

const payload = (id: string) => ({ id, text: 'x'.repeat(300) });

/** A store holding 6,000 jobs of ~450 bytes, most in segments of ~2,000, written by a leader that stopped. */
async function backlog(): Promise<{ base: StorageDriver; clock: FakeClock; last: { key: string; bytes: number; ids: string[] } }> {
  const base = createMemoryStore();
  const clock = new FakeClock();
  const first = new Broker({ store: base, clock, id: 'b1', backlog: DEFAULT_LIMITS });
  for (let b = 0; b < 3; b++) {
    await drive(clock, first.push('jobs', Array.from({ length: 2000 }, (_, i) => ({ id: `j${b * 2000 + i}`, payload: payload(`j${b * 2000 + i}`) }))));
  }
  await first.stop();
  const key = (await readManifest(base, 'jobs')).ready.at(-1)!.key;
  const body = (await base.read(key))!.body;
  return { base, clock, last: { key, bytes: body.length, ids: decodeSegmentMeta(body, key).ids } };
}

/** A second leader on `base` whose every storage call is recorded with the bytes it read. */
function takeover(base: StorageDriver, clock: FakeClock, store: StorageDriver = base) {
  const reads: Array<{ key: string; bytes: number }> = [];
  const observed = instrumentStore(store, (call) => {
    if (call.op === 'read' && call.errorCode === null) reads.push({ key: call.key, bytes: call.bytes ?? 0 });
  });
  const broker = new Broker({ store: observed, clock, id: 'b2', backlog: DEFAULT_LIMITS, retry: { attempts: 2, baseMs: 1, maxMs: 1 } });
  const of = (key: string) => reads.filter((r) => r.key === key);
  return { broker, reads, of };
}

describe('reads of one job in a segment', () => {
  it('a get, a duplicate push and a cancel read the header and one record, not the segment', async () => {
    const { base, clock, last } = await backlog();
    expect(last.bytes).toBeGreaterThan(500_000);
    const { broker, of } = takeover(base, clock);
    const target = last.ids[1234]!;
    expect(await drive(clock, broker.get('jobs', target))).toMatchObject({ id: target, state: 'pending', payload: payload(target) });
    const forGet = of(last.key);
    // The fingerprints (the id index at a takeover), the header, the record: three ranged reads
    // (16 KB + 217 KB + 0.5 KB of a 1.08 MB segment when written; before, 16 KB + twice 1.08 MB).
    expect(forGet.length).toBeLessThanOrEqual(4);
    expect(Math.max(...forGet.map((r) => r.bytes))).toBeLessThan(last.bytes / 3);
    expect(forGet.reduce((sum, r) => sum + r.bytes, 0)).toBeLessThan(last.bytes / 3);

    const before = of(last.key).length;
    const again = await drive(clock, broker.push('jobs', [{ id: last.ids[99]!, payload: 'again' }]));
    expect(again[0]).toMatchObject({ created: false, state: 'pending' });
    expect(await drive(clock, broker.cancel('jobs', last.ids[100]!))).toEqual({ id: last.ids[100], state: 'cancelled' });
    const forOthers = of(last.key).slice(before);
    expect(forOthers.length).toBeGreaterThan(0);
    expect(forOthers.every((r) => r.bytes < last.bytes / 3)).toBe(true);
    await broker.stop();
  });

  it('reads the rest of a header longer than its first read (ids of 250 characters)', async () => {
    const base = createMemoryStore();
    const clock = new FakeClock();
    const first = new Broker({ store: base, clock, id: 'b1', backlog: DEFAULT_LIMITS });
    const long = (i: number) => `${'k'.repeat(244)}-${String(i).padStart(5, '0')}`;
    for (let b = 0; b < 2; b++) await drive(clock, first.push('jobs', Array.from({ length: 2000 }, (_, i) => ({ id: long(b * 2000 + i), payload: b * 2000 + i }))));
    await first.stop();
    const key = (await readManifest(base, 'jobs')).ready.at(-1)!.key;
    const ids = decodeSegmentMeta((await base.read(key))!.body, key).ids;
    const { broker, of } = takeover(base, clock);
    expect(await drive(clock, broker.get('jobs', ids[1900]!))).toMatchObject({ id: ids[1900], state: 'pending', payload: Number(ids[1900]!.slice(-5)) });
    // fingerprints, the guessed prefix of the header, the rest of it, the record
    expect(of(key)).toHaveLength(4);
    await broker.stop();
  });

  it('reads the whole segment from a store without ranged reads, with the same answers', async () => {
    const { base, clock, last } = await backlog();
    const { readRange: _, ...plain } = base;
    const { broker, of } = takeover(base, clock, plain as StorageDriver);
    const target = last.ids[1500]!;
    expect(await drive(clock, broker.get('jobs', target))).toMatchObject({ id: target, payload: payload(target) });
    expect(of(last.key).some((r) => r.bytes === last.bytes)).toBe(true);
    await broker.stop();
  });

  it('refuses a damaged record as CORRUPT_STATE, and a damaged header for a duplicate push', async () => {
    const { base, clock, last } = await backlog();
    const body = Buffer.from((await base.read(last.key))!.body);
    const meta = decodeSegmentMeta(body, last.key);
    // One character of job 1234's payload text changed: still valid JSON with the right id.
    const [start, end] = recordSpan(meta, 1234);
    const at = body.indexOf('xxxx', start);
    expect(at).toBeGreaterThan(start);
    expect(at).toBeLessThan(end);
    body[at] = 'y'.charCodeAt(0);
    await base.write(last.key, body);
    const { broker } = takeover(base, clock);
    const err = await drive(clock, broker.get('jobs', last.ids[1234]!).catch((e: unknown) => e));
    expect(err).toMatchObject({ code: 'CORRUPT_STATE', message: expect.stringMatching(/record 1234 checksum mismatch/) });
    // Another job of the same segment is still answered.
    expect(await drive(clock, broker.get('jobs', last.ids[1233]!))).toMatchObject({ id: last.ids[1233] });
    // One id in the header changed: a duplicate push cannot be confirmed, and says why.
    await broker.stop();
    const idAt = body.indexOf(`"${last.ids[50]}"`) + 1; // the header comes before the records
    expect(idAt).toBeLessThan(meta.recordsAt);
    body[idAt] = 'k'.charCodeAt(0);
    await base.write(last.key, body);
    const { broker: third } = takeover(base, clock);
    expect(await drive(clock, codeOf(third.push('jobs', [{ id: last.ids[50]!, payload: 'again' }])))).toBe('CORRUPT_STATE');
    await third.stop();
  });
});
