/**
 * The conformance suite every StorageDriver runs (memory, file, and later the cloud drivers).
 * Call describeDriver() from a driver's test file with a factory for a fresh, empty store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isQueueError } from '../../src/errors.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { codeOf } from '../codes.js';

export interface DriverFixture {
  store: StorageDriver;
  cleanup(): Promise<void>;
}

export interface SuiteOptions {
  /** Concurrent writers per round in the same-etag race (default 20). */
  racers?: number;
  /** Rounds of the same-etag race (default 50). */
  rounds?: number;
  /**
   * The etag is a hash of the bytes (S3 and its imitators: the MD5), so writing the same bytes
   * again repeats it. bucketq never does that to a CAS key (every commit carries a new seq), so
   * for such drivers the never-repeats test writes different bytes each time, and still checks
   * that etags never repeat and that one from before a delete never matches the re-created key.
   */
  contentHashEtags?: boolean;
  /**
   * Losers of the same-etag race may be told STORE_AMBIGUOUS instead of STORE_CONFLICT (radosgw
   * answers most of them with HTTP 500, and a 5xx on a conditional write is an unknown outcome).
   * Still checked: at most one writer is told it won, the stored body is the told winner's (or,
   * with none told, an ambiguous writer's), and most rounds do tell a winner.
   */
  ambiguousRaceLosers?: boolean;
  /**
   * The server accepts an If-Match that merely starts with the current etag (radosgw 16.2: the
   * current etag followed by anything matches). Harmless for bucketq, which only sends etags the
   * store returned, all of one length; the made-up etag of the ifMatch test then differs in its
   * last character instead of having one appended.
   */
  ifMatchPrefixQuirk?: boolean;
}

const text = (body: Uint8Array): string => new TextDecoder().decode(body);


export function describeDriver(name: string, makeStore: () => Promise<DriverFixture>, options: SuiteOptions = {}): void {
  const racers = options.racers ?? 20;
  const rounds = options.rounds ?? 50;
  const bodies = options.contentHashEtags ? ['A', 'B', 'C', 'D', 'E'] : ['A', 'B', 'A', 'A', 'A'];

  describe(`StorageDriver conformance: ${name}`, () => {
    let fixture: DriverFixture;
    let store: StorageDriver;
    beforeEach(async () => {
      fixture = await makeStore();
      store = fixture.store;
    });
    afterEach(async () => {
      await store.close();
      await store.close(); // idempotent
      await fixture.cleanup();
    });

    it('reads a missing key as null', async () => {
      expect(await store.read('nope/queue.json')).toBeNull();
    });

    it('creates if absent exactly once', async () => {
      const { etag } = await store.write('t/queue.json', 'one', { ifNoneMatch: '*' });
      expect(typeof etag).toBe('string');
      expect(await codeOf(store.write('t/queue.json', 'two', { ifNoneMatch: '*' }))).toBe('STORE_CONFLICT');
      const got = await store.read('t/queue.json');
      expect(got && text(got.body)).toBe('one');
      expect(got?.etag).toBe(etag);
    });

    it('replaces with the current etag and rejects a stale one', async () => {
      const first = await store.write('k', 'v1', { ifNoneMatch: '*' });
      const second = await store.write('k', 'v2', { ifMatch: first.etag });
      expect(second.etag).not.toBe(first.etag);
      expect(await codeOf(store.write('k', 'v3', { ifMatch: first.etag }))).toBe('STORE_CONFLICT');
      const got = await store.read('k');
      expect(got && text(got.body)).toBe('v2');
      expect(got?.etag).toBe(second.etag);
    });

    it('rejects ifMatch on a missing key, and a made-up etag', async () => {
      expect(await codeOf(store.write('missing', 'x', { ifMatch: 'whatever' }))).toBe('STORE_CONFLICT');
      const { etag } = await store.write('present', 'x');
      const madeUp = options.ifMatchPrefixQuirk ? `${etag.slice(0, -1)}${etag.endsWith('0') ? '1' : '0'}` : `${etag}0`;
      expect(await codeOf(store.write('present', 'y', { ifMatch: madeUp }))).toBe('STORE_CONFLICT');
      expect(await codeOf(store.write('present', 'y', { ifMatch: '' }))).toBe('STORE_CONFLICT');
    });

    it(options.contentHashEtags ? 'never repeats an etag for different bytes, even after delete + re-create' : 'never repeats an etag, even for A→B→A and after delete + re-create', async () => {
      const etags: string[] = [];
      const [a, b, c, d, e] = bodies as [string, string, string, string, string];
      etags.push((await store.write('k', a, { ifNoneMatch: '*' })).etag);
      etags.push((await store.write('k', b, { ifMatch: etags.at(-1)! })).etag);
      etags.push((await store.write('k', c, { ifMatch: etags.at(-1)! })).etag);
      etags.push((await store.write('k', d)).etag);
      await store.delete('k');
      etags.push((await store.write('k', e, { ifNoneMatch: '*' })).etag);
      expect(new Set(etags).size).toBe(etags.length);
      // An etag from before the delete never matches the re-created key.
      for (const old of etags.slice(0, -1)) {
        expect(await codeOf(store.write('k', 'Z', { ifMatch: old }))).toBe('STORE_CONFLICT');
      }
    });

    it('writes unconditionally, creating or replacing', async () => {
      const a = await store.write('u/x', 'first');
      const b = await store.write('u/x', 'second');
      expect(a.etag).not.toBe(b.etag);
      const got = await store.read('u/x');
      expect(got && text(got.body)).toBe('second');
      expect(got?.etag).toBe(b.etag);
    });

    it('deletes; deleting a missing key is fine; a deleted key can be re-created', async () => {
      await store.write('d/k', 'x');
      await store.delete('d/k');
      expect(await store.read('d/k')).toBeNull();
      await store.delete('d/k');
      await store.delete('never/was');
      expect(await codeOf(store.write('d/k', 'y', { ifMatch: 'stale' }))).toBe('STORE_CONFLICT');
      await store.write('d/k', 'again', { ifNoneMatch: '*' });
      const got = await store.read('d/k');
      expect(got && text(got.body)).toBe('again');
    });

    it('lists by prefix: nested, sorted, without deleted keys, partial segments', async () => {
      const keys = ['topics/b/queue.json', 'topics/a/queue.json', 'topics/a/archive/2026/01.json', 'topics/ab/queue.json', 'top.json', 'other/x'];
      for (const key of keys) await store.write(key, key);
      await store.write('topics/gone/queue.json', 'x');
      await store.delete('topics/gone/queue.json');
      expect(await store.list('topics/')).toEqual(['topics/a/archive/2026/01.json', 'topics/a/queue.json', 'topics/ab/queue.json', 'topics/b/queue.json']);
      expect(await store.list('topics/a')).toEqual(['topics/a/archive/2026/01.json', 'topics/a/queue.json', 'topics/ab/queue.json']);
      expect(await store.list('topics/a/')).toEqual(['topics/a/archive/2026/01.json', 'topics/a/queue.json']);
      expect(await store.list('top')).toEqual(['top.json', 'topics/a/archive/2026/01.json', 'topics/a/queue.json', 'topics/ab/queue.json', 'topics/b/queue.json']);
      expect(await store.list('topics/a/queue.js')).toEqual(['topics/a/queue.json']);
      expect(await store.list('nothing/')).toEqual([]);
      expect(await store.list('')).toEqual([...keys].sort());
    });

    it('keeps segments that look like the driver layout apart', async () => {
      await store.write('a.v/b', '1');
      await store.write('a', '2');
      await store.write('a.v', '3');
      await store.write('x/a.v/c.v', '4');
      expect(await store.list('')).toEqual(['a', 'a.v', 'a.v/b', 'x/a.v/c.v']);
      expect(await store.list('a.v/')).toEqual(['a.v/b']);
      const got = await store.read('a.v/b');
      expect(got && text(got.body)).toBe('1');
    });

    it('rejects invalid keys with INVALID_ARGUMENT', async () => {
      for (const key of ['', '/a', 'a/', 'a//b', '../x', 'a/../b', 'a/./b', 'a b', 'ä']) {
        expect(await codeOf(store.read(key))).toBe('INVALID_ARGUMENT');
        expect(await codeOf(store.write(key, 'x'))).toBe('INVALID_ARGUMENT');
      }
      expect(await codeOf(store.list('../'))).toBe('INVALID_ARGUMENT');
    });

    it('reads a range of an object, fewer bytes at its end, null for a missing key (drivers that can)', async () => {
      if (!store.readRange) return; // optional: segment readers fall back to read()
      const bytes = new Uint8Array(100);
      for (let i = 0; i < bytes.length; i++) bytes[i] = i;
      await store.write('segments/t/x.seg', bytes);
      expect(Array.from((await store.readRange('segments/t/x.seg', 10, 14))!)).toEqual([10, 11, 12, 13]);
      expect(Array.from((await store.readRange('segments/t/x.seg', 98, 200))!)).toEqual([98, 99]);
      expect(Array.from((await store.readRange('segments/t/x.seg', 0, 100))!)).toEqual(Array.from(bytes));
      expect(await store.readRange('segments/t/missing.seg', 0, 10)).toBeNull();
    });

    it('answers a range at or past the end, or an empty one, with no bytes; a missing key still with null', async () => {
      if (!store.readRange) return;
      await store.write('segments/t/y.seg', new Uint8Array(100).fill(7));
      await store.write('segments/t/empty.seg', new Uint8Array(0));
      const len = async (key: string, start: number, end: number) => (await store.readRange!(key, start, end))?.length ?? null;
      expect(await len('segments/t/y.seg', 100, 110)).toBe(0); // S3, GCS, Azure: 416
      expect(await len('segments/t/y.seg', 150, 160)).toBe(0);
      expect(await len('segments/t/y.seg', 5, 5)).toBe(0);
      expect(await len('segments/t/y.seg', 9, 3)).toBe(0);
      expect(await len('segments/t/y.seg', 99, 100)).toBe(1);
      expect(await len('segments/t/empty.seg', 0, 10)).toBe(0);
      expect(await len('segments/t/missing.seg', 5, 5)).toBeNull();
      expect(await len('segments/t/missing.seg', 150, 160)).toBeNull();
      for (const [start, end] of [[-1, 4], [0, -1], [1.5, 4], [0, Number.NaN]] as const) {
        expect(await codeOf(store.readRange('segments/t/y.seg', start, end))).toBe('INVALID_ARGUMENT');
      }
      expect(await codeOf(store.readRange('../y.seg', 0, 4))).toBe('INVALID_ARGUMENT');
    });

    it('is binary-safe and copies bodies in and out', async () => {
      const bytes = new Uint8Array(256 * 4);
      for (let i = 0; i < bytes.length; i++) bytes[i] = i % 256;
      const { etag } = await store.write('bin', bytes);
      bytes[0] = 42; // mutating the caller's buffer afterwards changes nothing
      const got = await store.read('bin');
      expect(got?.etag).toBe(etag);
      expect(got?.body.length).toBe(1024);
      expect(got?.body[0]).toBe(0);
      expect(got?.body[255]).toBe(255);
      expect(Array.from(got!.body.subarray(256, 260))).toEqual([0, 1, 2, 3]);
      got!.body[1] = 99;
      expect((await store.read('bin'))?.body[1]).toBe(1);
      await store.write('empty', new Uint8Array(0));
      expect((await store.read('empty'))?.body.length).toBe(0);
    });

    it(`lets exactly one of ${racers} writers with the same etag win, ${rounds} rounds`, async () => {
      let { etag } = await store.write('race', 'start', { ifNoneMatch: '*' });
      let toldWinners = 0;
      let previous = 'start';
      for (let round = 0; round < rounds; round++) {
        const attempts = Array.from({ length: racers }, (_, i) => store.write('race', `r${round}-w${i}`, { ifMatch: etag }));
        const results = await Promise.allSettled(attempts);
        const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ i, etag: r.value.etag }] : []));
        const losers = results.flatMap((r, i) => (r.status === 'rejected' ? [{ i, reason: r.reason as unknown }] : []));
        const got = await store.read('race');
        if (!options.ambiguousRaceLosers) {
          expect(winners).toHaveLength(1);
          for (const loser of losers) expect(isQueueError(loser.reason, 'STORE_CONFLICT')).toBe(true);
        } else {
          expect(winners.length).toBeLessThanOrEqual(1);
          for (const loser of losers) expect(isQueueError(loser.reason, 'STORE_CONFLICT') || isQueueError(loser.reason, 'STORE_AMBIGUOUS')).toBe(true);
          if (winners.length === 0) {
            // One of the ambiguous writes landed, or (all of them really lost) none did.
            const possible = [previous, ...losers.filter((l) => isQueueError(l.reason, 'STORE_AMBIGUOUS')).map((l) => `r${round}-w${l.i}`)];
            expect(possible).toContain(got && text(got.body));
            previous = text(got!.body);
            etag = got!.etag;
            continue;
          }
        }
        toldWinners++;
        expect(got && text(got.body)).toBe(`r${round}-w${winners[0]!.i}`);
        expect(got?.etag).toBe(winners[0]!.etag);
        etag = winners[0]!.etag;
        previous = `r${round}-w${winners[0]!.i}`;
      }
      expect(toldWinners).toBeGreaterThan(rounds / 2);
    }, 60_000);
  });
}
