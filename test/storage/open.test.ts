import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isQueueError } from '../../src/errors.js';
import type { FaultyStore } from '../../src/storage/faulty.js';
import { openStore } from '../../src/storage/index.js';

let base: string;
beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'bucketq-open-'));
});
afterAll(() => rm(base, { recursive: true, force: true }));

async function rejection(url: string): Promise<{ code: string; message: string }> {
  try {
    await openStore(url, { cwd: base });
  } catch (err) {
    if (isQueueError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error(`${url} was accepted`);
}

describe('openStore', () => {
  it('opens fresh memory stores, and shares named ones', async () => {
    const a = await openStore('memory://');
    const b = await openStore('memory:');
    await a.write('k', 'x');
    expect(a.name).toBe('memory');
    expect(await b.read('k')).toBeNull();
    const n1 = await openStore('memory://shared-test');
    const n2 = await openStore('memory://shared-test?latency=0');
    await n1.write('k', 'shared');
    expect(await n2.read('k')).not.toBeNull();
    expect(await (await openStore('memory://other-name')).read('k')).toBeNull();
  });

  it('resolves file: paths against cwd, and accepts absolute forms', async () => {
    const cases: Array<[string, string]> = [
      ['file:./data', path.join(base, 'data')],
      ['file:data', path.join(base, 'data')],
      [`file:${base}/abs`, path.join(base, 'abs')],
      [`file://${base}/abs`, path.join(base, 'abs')],
      [`file://${base}/with%20space`, path.join(base, 'with space')],
    ];
    for (const [url, dir] of cases) {
      const store = await openStore(url, { cwd: base });
      expect(store.name).toBe('file');
      const { etag } = await store.write('probe', url);
      const direct = await openStore(`file:${dir}`);
      expect((await direct.read('probe'))?.etag).toBe(etag);
      await Promise.all([store.close(), direct.close()]);
    }
  });

  it('wraps with faults and overrides the write interval from query parameters', async () => {
    const store = (await openStore('memory://?failRate=1&seed=3&minWriteInterval=250')) as FaultyStore;
    expect(store.name).toBe('memory+faults');
    expect(store.minWriteIntervalMs).toBe(250);
    await expect(store.read('k')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(store.stats.injectedFailures).toBe(1);
    const plain = await openStore('file:data?minWriteInterval=1000', { cwd: base });
    expect(plain.name).toBe('file');
    expect(plain.minWriteIntervalMs).toBe(1000);
    expect('stats' in plain).toBe(false);
  });

  it('keeps ranged reads when the write interval is overridden (segments read one section, not the whole object)', async () => {
    const store = await openStore('file:ranged?minWriteInterval=1000', { cwd: base });
    await store.write('seg', '0123456789');
    expect(store.readRange).toBeTypeOf('function');
    expect(new TextDecoder().decode((await store.readRange!('seg', 2, 5))!)).toBe('234');
    await store.close();
  });

  it('rejects bad URLs with one readable INVALID_ARGUMENT naming the part', async () => {
    const cases: Array<[string, RegExp]> = [
      ['ftp://x', /unknown scheme "ftp"/],
      ['just-a-path', /expected scheme:location/],
      ['memory://?latency=-1', /latency must be a non-negative number, got "-1"/],
      ['memory://?failRate=2', /failRate must be a number between 0 and 1, got "2"/],
      ['memory://?ambiguousRate=abc', /ambiguousRate .* got "abc"/],
      ['memory://?jitter=', /jitter must be/],
      ['memory://?seed=1.5', /seed must be an integer/],
      ['memory://?minWriteInterval=NaN', /minWriteInterval must be a non-negative number/],
      ['memory://?latency=1&latency=2', /latency is given twice/],
      ['memory://?lag=5', /unknown query parameter "lag"/],
      ['memory:name', /memory:\/\/NAME/],
      ['file:', /path is empty/],
      ['file://relative/path', /file:\/\/ needs an absolute path/],
    ];
    for (const [url, pattern] of cases) {
      const { code, message } = await rejection(url);
      expect(code, url).toBe('INVALID_ARGUMENT');
      expect(message, url).toMatch(pattern);
      expect(message, url).toContain(JSON.stringify(url));
    }
  });
});
