/**
 * The commit threads of the file store (src/storage/fs-threads.ts): a process is kept alive while a
 * write waits for its thread and never by an idle one, close() waits for what was sent, and a thread
 * that dies answers its writes (as maybe landed) instead of leaving them waiting.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileStore } from '../../src/storage/fs.js';
import { CommitThreads } from '../../src/storage/fs-threads.js';

const CHILD = fileURLToPath(new URL('./fixtures/unclosed-store.ts', import.meta.url));
const PROJECT = fileURLToPath(new URL('../..', import.meta.url));
const text = (body: Uint8Array): string => new TextDecoder().decode(body);

describe('file store commit threads', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'bucketq-fs-threads-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('a process that never closes its store exits once idle, and not before its last write landed', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', CHILD, root], { cwd: PROJECT, timeout: 30_000 });
    expect(stdout).toMatch(/^landed [0-9a-f]{16}\.5\n$/);
    const store = createFileStore({ root });
    expect(text((await store.read('k'))!.body)).toBe('last');
    await store.close();
  });

  it('close() waits for the writes sent, and the store works again after it', async () => {
    const store = createFileStore({ root });
    let { etag } = await store.write('a/k', 'one', { ifNoneMatch: '*' });
    const inFlight = store.write('a/k', 'two', { ifMatch: etag });
    await store.close();
    ({ etag } = await inFlight);
    ({ etag } = await store.write('a/k', 'three', { ifMatch: etag }));
    expect(text((await store.read('a/k'))!.body)).toBe('three');
    await store.close();
    await store.close(); // idempotent
    expect(await readdir(path.join(root, '.tmp~'))).toEqual([]);
  });

  it('bodies reach the disk intact through the shared buffers, many keys in flight at once and sizes past each buffer', async () => {
    // The buffers a thread reuses (and drops, past a few) must never hand a job another's bytes.
    const store = createFileStore({ root });
    const keys = Array.from({ length: 24 }, (_, i) => `k${i}`);
    const body = (key: string, round: number) => {
      const size = [1, 1000, 64 * 1024, 64 * 1024 + 1, 300 * 1024][(round + key.length) % 5]!;
      const out = new Uint8Array(size);
      for (let i = 0; i < size; i++) out[i] = (i * 7 + round * 13 + key.charCodeAt(1)) & 0xff;
      return out;
    };
    const etags = new Map<string, string>();
    for (let round = 0; round < 6; round++) {
      await Promise.all(
        keys.map(async (key) => {
          const prev = etags.get(key);
          const { etag } = await store.write(key, body(key, round), prev ? { ifMatch: prev } : { ifNoneMatch: '*' });
          etags.set(key, etag);
        }),
      );
      for (const key of keys) expect(Buffer.from((await store.read(key))!.body).equals(Buffer.from(body(key, round)))).toBe(true);
    }
    await store.close();
  });

  it('a thread that dies rejects the job it had, and the next job gets a new thread', async () => {
    let victim: Worker | undefined;
    const threads = new CommitThreads(1, { beforeLink: async () => void (await victim?.terminate()) });
    // The test reaches into the pool for the thread to kill: nothing else makes a thread die.
    const pool = threads as unknown as { threads: Array<{ worker: Worker } | undefined> };
    const store = createFileStore({ root });
    const { etag } = await store.write('k', 'base');
    await store.close();
    const dir = path.join(root, 'k.v');
    const [gen, n] = etag.split('.') as [string, string];
    const name = (v: number) => `${gen}-${String(v).padStart(20, '0')}`;
    const job = (staging: string) => ({
      dir,
      gen,
      target: path.join(dir, name(Number(n) + 1)),
      body: new TextEncoder().encode('next'),
      staging: path.join(root, '.tmp~', staging),
      tombstone: 'deleted',
      precheck: { base: name(Number(n)), marker: `gen-${gen}`, prefix: `${gen}-` },
      collect: [],
    });
    const first = threads.place(job('a'));
    victim = pool.threads[0]!.worker;
    await expect(first).rejects.toThrow(/file store thread/);
    const dead = victim;
    victim = undefined;
    const reply = await threads.place(job('b'));
    expect(reply.kind).toBe('linked'); // the first died before its link: the slot was still free
    expect(pool.threads[0]!.worker).not.toBe(dead);
    await threads.close();
    const reopened = createFileStore({ root });
    expect(text((await reopened.read('k'))!.body)).toBe('next');
    await reopened.close();
  });

  it('a create answers what it found: created, the directory taken, a path gone, or a failed step with nothing made and no staging left', async () => {
    const threads = new CommitThreads(1);
    const tmp = path.join(root, '.tmp~');
    await mkdir(tmp);
    let n = 0;
    const create = (dir: string, parent = path.dirname(dir), staging = path.join(tmp, `s${++n}.new`)) =>
      threads.create({ dir, parent, staging, marker: 'gen-0123456789abcdef', version: `0123456789abcdef-${'1'.padStart(20, '0')}`, body: new TextEncoder().encode('one') });
    expect(await create(path.join(root, 'k.v'))).toMatchObject({ kind: 'created' });
    expect((await readdir(path.join(root, 'k.v'))).sort()).toEqual(['0123456789abcdef-00000000000000000001', 'gen-0123456789abcdef']);
    expect(await create(path.join(root, 'k.v'))).toMatchObject({ kind: 'exists' }); // ENOTEMPTY: another writer made it
    expect(await create(path.join(root, 'k.v'), root, path.join(root, 'gone', 'x.new'))).toMatchObject({ kind: 'missing' }); // .tmp~ removed
    await writeFile(path.join(root, 'plain'), '');
    expect(await create(path.join(root, 'plain', 'k.v'))).toMatchObject({ kind: 'failed', step: 'stage', code: 'ENOTDIR' });
    expect(await readdir(tmp)).toEqual([]);
    await threads.close();
  });
});
