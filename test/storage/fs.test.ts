import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileStore, KEEP_VERSIONS, type FileStoreOptions } from '../../src/storage/fs.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { describeDriver } from './driver-suite.js';
import { codeOf } from '../codes.js';

const newRoot = (): Promise<string> => mkdtemp(path.join(tmpdir(), 'bucketq-fs-'));
const text = (body: Uint8Array): string => new TextDecoder().decode(body);

describeDriver('file', async () => {
  const root = await newRoot();
  return { store: createFileStore({ root }), cleanup: () => rm(root, { recursive: true, force: true }) };
});


describe('file store on disk', () => {
  let root: string;
  let store: StorageDriver;
  let opened: StorageDriver[] = [];
  /** A store on the same root, closed after the test (stores cache directory handles). */
  const open = (options: Omit<FileStoreOptions, 'root'> = {}, at = root): StorageDriver => {
    const s = createFileStore({ ...options, root: at });
    opened.push(s);
    return s;
  };
  beforeEach(async () => {
    root = await newRoot();
    store = open();
  });
  afterEach(async () => {
    await Promise.all(opened.map((s) => s.close()));
    opened = [];
    await rm(root, { recursive: true, force: true });
  });

  const keyDir = (...parts: string[]): string => path.join(root, ...parts);

  it('lays a key out as a directory of immutable versions and keeps only a few', async () => {
    let { etag } = await store.write('t/queue.json', 'v1', { ifNoneMatch: '*' });
    for (let i = 2; i <= 30; i++) ({ etag } = await store.write('t/queue.json', `v${i}`, { ifMatch: etag }));
    // The commit thread unlinks the version a write freed right after answering it; close() waits for that.
    await store.close();
    const names = await readdir(keyDir('t', 'queue.json.v'));
    const [gen, n] = etag.split('.');
    expect(names).toContain(`gen-${gen}`);
    expect(names.filter((x) => x.startsWith(`${gen}-`))).toHaveLength(KEEP_VERSIONS);
    expect(names).toContain(`${gen}-${n!.padStart(20, '0')}`);
    expect(await readdir(keyDir('.tmp~'))).toEqual([]);
  });

  it('keeps no data for a deleted key', async () => {
    let { etag } = await store.write('k', 'a'.repeat(1000));
    for (let i = 0; i < 5; i++) ({ etag } = await store.write('k', 'b'.repeat(1000), { ifMatch: etag }));
    await store.delete('k');
    const entries = await readdir(keyDir('k.v'), { withFileTypes: true });
    expect(entries.filter((e) => e.isFile()).map((e) => e.name)).toEqual([expect.stringMatching(/^gen-/)]);
  });

  it('shares one directory between independent store instances', async () => {
    const other = open();
    const { etag } = await store.write('shared', 'one', { ifNoneMatch: '*' });
    expect(await codeOf(other.write('shared', 'x', { ifNoneMatch: '*' }))).toBe('STORE_CONFLICT');
    const seen = await other.read('shared');
    expect(seen?.etag).toBe(etag);
    await other.write('shared', 'two', { ifMatch: etag });
    expect(await codeOf(store.write('shared', 'three', { ifMatch: etag }))).toBe('STORE_CONFLICT');
  });

  it('lets exactly one of many stores create a new key', async () => {
    const stores = Array.from({ length: 12 }, () => open());
    const results = await Promise.allSettled(stores.map((s, i) => s.write('new/key', `w${i}`, { ifNoneMatch: '*' })));
    const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    expect(winners).toHaveLength(1);
    expect(text((await store.read('new/key'))!.body)).toBe(`w${winners[0]}`);
    expect(await readdir(keyDir('.tmp~'))).toEqual([]);
  });

  it('a create-only write: an existing key conflicts, a deleted one gets its next version, a body past the kept buffers lands whole, no staging is left', async () => {
    // Straight to the create (a segment's key is new): the rename finds an existing directory
    // (ENOTEMPTY), and only then is it read: a live key conflicts, a deleted one gets a version.
    await store.write('seg', 'first', { ifNoneMatch: '*' });
    expect(await codeOf(store.write('seg', 'again', { ifNoneMatch: '*' }))).toBe('STORE_CONFLICT');
    await store.delete('seg');
    const { etag } = await store.write('seg', 'after delete', { ifNoneMatch: '*' });
    expect(etag).toMatch(/\.3$/); // version 1, the tombstone 2, this 3: the same directory
    expect(text((await store.read('seg'))!.body)).toBe('after delete');
    // A body past the shared buffers a thread keeps, as a 4 MiB segment can be.
    const big = new Uint8Array(9 * 1024 * 1024).map((_, i) => i % 251);
    await store.write('big/seg', big, { ifNoneMatch: '*' });
    expect(Buffer.compare((await store.read('big/seg'))!.body, big)).toBe(0);
    expect(await readdir(keyDir('.tmp~'))).toEqual([]);
  });

  it('a create finds .tmp~ gone, makes it again and lands', async () => {
    await store.write('a', 'x', { ifNoneMatch: '*' });
    await rm(keyDir('.tmp~'), { recursive: true });
    await store.write('b/c', 'y', { ifNoneMatch: '*' });
    expect(text((await store.read('b/c'))!.body)).toBe('y');
    expect(await readdir(keyDir('.tmp~'))).toEqual([]);
  });

  it('rejects a writer that held its etag while the key moved on (STORE_CONFLICT, nothing visible)', async () => {
    const { etag: old } = await store.write('k', 'base');
    let etag = old;
    for (let i = 0; i < KEEP_VERSIONS + 3; i++) ({ etag } = await store.write('k', `new${i}`, { ifMatch: etag }));
    expect(await codeOf(store.write('k', 'paused', { ifMatch: old }))).toBe('STORE_CONFLICT');
    expect(text((await store.read('k'))!.body)).toBe(`new${KEEP_VERSIONS + 2}`);
    expect((await store.read('k'))!.etag).toBe(etag);
  });

  it('catches a writer frozen between its check and its link after its slot was collected', async () => {
    const other = open();
    let latest = '';
    let freeze = async (): Promise<void> => {};
    const paused = open({ testHooks: { beforeLink: () => freeze() } });
    const { etag: base } = await store.write('k', 'base');
    freeze = async () => {
      freeze = async () => {};
      let etag = base; // while "frozen", the others commit enough for our slot to be collected
      for (let i = 0; i < KEEP_VERSIONS + 2; i++) ({ etag } = await other.write('k', `other${i}`, { ifMatch: etag }));
      latest = etag;
    };
    const code = await codeOf(paused.write('k', 'zombie', { ifMatch: base }));
    // Names alone cannot tell a zombie from a write superseded KEEP times, so the honest answer is
    // "ambiguous" — never success — and the zombie file is gone.
    expect(code).toBe('STORE_AMBIGUOUS');
    const now = await store.read('k');
    expect(now?.etag).toBe(latest);
    expect(text(now!.body)).toBe(`other${KEEP_VERSIONS + 1}`);
    const [gen, n] = base.split('.');
    expect(await readdir(keyDir('k.v'))).not.toContain(`${gen}-${String(Number(n) + 1).padStart(20, '0')}`);
    await store.write('k', 'after', { ifMatch: latest });
  });

  it('reports success for a write superseded by others before it verified (fewer than KEEP)', async () => {
    const other = open();
    let freeze = async (): Promise<void> => {};
    const paused = open({ testHooks: { afterLink: () => freeze() } });
    const { etag: base } = await store.write('k', 'base');
    freeze = async () => {
      freeze = async () => {};
      const seen = await other.read('k'); // our version is visible, and others build on it
      expect(text(seen!.body)).toBe('mine');
      let etag = seen!.etag;
      for (let i = 0; i < KEEP_VERSIONS - 2; i++) ({ etag } = await other.write('k', `other${i}`, { ifMatch: etag }));
    };
    const { etag } = await paused.write('k', 'mine', { ifMatch: base });
    expect(await codeOf(store.write('k', 'late', { ifMatch: etag }))).toBe('STORE_CONFLICT');
    expect(text((await store.read('k'))!.body)).toBe(`other${KEEP_VERSIONS - 3}`);
  });

  it('reports STORE_AMBIGUOUS, not a conflict, when KEEP commits landed on top before it verified', async () => {
    const other = open();
    let freeze = async (): Promise<void> => {};
    const paused = open({ testHooks: { afterLink: () => freeze() } });
    const { etag: base } = await store.write('k', 'base');
    freeze = async () => {
      freeze = async () => {};
      let etag = (await other.read('k'))!.etag;
      for (let i = 0; i < KEEP_VERSIONS; i++) ({ etag } = await other.write('k', `other${i}`, { ifMatch: etag }));
    };
    expect(await codeOf(paused.write('k', 'mine', { ifMatch: base }))).toBe('STORE_AMBIGUOUS');
    expect(text((await store.read('k'))!.body)).toBe(`other${KEEP_VERSIONS - 1}`);
  });

  it('rejects a frozen writer whose key directory was re-created meanwhile (foreign generation)', async () => {
    let freeze = async (): Promise<void> => {};
    const paused = open({ testHooks: { beforeLink: () => freeze() } });
    const { etag: base } = await store.write('k', 'base');
    freeze = async () => {
      freeze = async () => {};
      await rm(keyDir('k.v'), { recursive: true });
      await open().write('k', 'reborn');
    };
    expect(await codeOf(paused.write('k', 'zombie', { ifMatch: base }))).toBe('STORE_CONFLICT');
    expect(text((await store.read('k'))!.body)).toBe('reborn');
    expect((await readdir(keyDir('k.v'))).filter((x) => x.startsWith(base.split('.')[0]!))).toEqual([]);
  });

  it('ignores crash debris in .tmp~ and sweeps it once it is an hour old', async () => {
    await mkdir(keyDir('.tmp~', '999-dead-1.new'), { recursive: true });
    await writeFile(keyDir('.tmp~', '999-dead-1.new', 'gen-0123456789abcdef'), '');
    await writeFile(keyDir('.tmp~', '999-dead-2'), 'half a body');
    await writeFile(keyDir('.tmp~', '999-recent-3'), 'maybe a live, frozen writer');
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(keyDir('.tmp~', '999-dead-1.new'), old, old);
    await utimes(keyDir('.tmp~', '999-dead-2'), old, old);
    expect(await store.list('')).toEqual([]);
    await store.write('k', 'x');
    expect(await store.list('')).toEqual(['k']);
    expect(text((await store.read('k'))!.body)).toBe('x');
    expect(await readdir(keyDir('.tmp~'))).toEqual(['999-recent-3']);
  });

  it('treats a marker-less empty directory as missing and reports real corruption', async () => {
    await mkdir(keyDir('empty.v'));
    expect(await store.read('empty')).toBeNull();
    await store.write('empty', 'x', { ifNoneMatch: '*' });
    expect(text((await store.read('empty'))!.body)).toBe('x');
    await mkdir(keyDir('bad.v'));
    await writeFile(keyDir('bad.v', 'junk'), '');
    expect(await codeOf(store.read('bad'))).toBe('CORRUPT_STATE');
  });

  it('maps an unusable root to STORE_UNAVAILABLE', async () => {
    await writeFile(keyDir('file-not-dir'), '');
    const broken = open({}, keyDir('file-not-dir', 'sub'));
    expect(await codeOf(broken.write('k', 'x'))).toBe('STORE_UNAVAILABLE');
    expect(await broken.read('k')).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// Real OS processes sharing one directory.

const CHILD = fileURLToPath(new URL('./fixtures/cas-child.ts', import.meta.url));
const PROJECT = fileURLToPath(new URL('../..', import.meta.url));

interface Child {
  proc: ChildProcessWithoutNullStreams;
  lines: string[];
  ready: Promise<void>;
  exited: Promise<number | null>;
  /** Resolves once the child has printed `count` "ok" lines. */
  oks(count: number): Promise<void>;
}

function startChild(root: string, key: string, id: string, target: number): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, root, key, id, String(target)], { cwd: PROJECT });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let stderr = '';
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  createInterface({ input: proc.stdout }).on('line', (line) => {
    lines.push(line);
    if (line === 'ready') markReady();
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      if (code !== 0 && code !== null) console.error(`child ${id} exited ${code}: ${stderr}`);
      resolve(code);
    }),
  );
  const oks = (count: number): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (lines.filter((l) => l.startsWith('ok ')).length >= count) resolve();
        else waiters.push(check);
      };
      check();
    });
  return { proc, lines, ready, exited, oks };
}

interface Counter {
  counter: number;
  log: string[];
}

async function readCounter(root: string, key: string): Promise<Counter> {
  const store = createFileStore({ root });
  const got = await store.read(key);
  await store.close();
  return JSON.parse(text(got!.body)) as Counter;
}

function expectConsistent(state: Counter, ok: string[], conflicts: string[]): void {
  expect(state.counter).toBe(state.log.length);
  expect(new Set(state.log).size).toBe(state.log.length);
  const inLog = new Set(state.log);
  for (const id of ok) expect(inLog.has(id), `landed write ${id} is in the log`).toBe(true);
  for (const id of conflicts) expect(inLog.has(id), `rejected write ${id} is not in the log`).toBe(false);
}

describe('file store across OS processes', () => {
  let root: string;
  beforeEach(async () => {
    root = await newRoot();
    const store = createFileStore({ root });
    await store.write('q/queue.json', JSON.stringify({ counter: 0, log: [] }), { ifNoneMatch: '*' });
    await store.close();
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('loses no update when 4 processes race CAS increments on one key', async () => {
    const perChild = 40;
    const children = Array.from({ length: 4 }, (_, i) => startChild(root, 'q/queue.json', `p${i}`, perChild));
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.proc.stdin.end('go\n');
    expect(await Promise.all(children.map((c) => c.exited))).toEqual([0, 0, 0, 0]);
    const reports = children.map((c) => JSON.parse(c.lines.at(-1)!) as { ok: string[]; conflicts: string[]; ambiguous: string[] });
    const ok = reports.flatMap((r) => r.ok);
    const conflicts = reports.flatMap((r) => r.conflicts);
    const ambiguous = reports.flatMap((r) => r.ambiguous);
    expect(ok).toHaveLength(4 * perChild);
    const state = await readCounter(root, 'q/queue.json');
    expectConsistent(state, ok, conflicts);
    expect(state.counter).toBe(ok.length + ambiguous.filter((id) => state.log.includes(id)).length);
    expect(conflicts.length).toBeGreaterThan(0); // they really raced
  }, 60_000);

  it('stays consistent when writers are SIGKILLed or SIGSTOPped mid-commit', async () => {
    const landed: string[] = [];
    for (let round = 0; round < 3; round++) {
      const victim = startChild(root, 'q/queue.json', `v${round}`, 0);
      const steady = startChild(root, 'q/queue.json', `s${round}`, 30);
      await Promise.all([victim.ready, steady.ready]);
      victim.proc.stdin.end('go\n');
      steady.proc.stdin.end('go\n');
      await victim.oks(5);
      victim.proc.kill('SIGSTOP'); // frozen at an arbitrary point while the other process commits
      await steady.oks(15);
      victim.proc.kill('SIGCONT');
      await victim.oks(10);
      victim.proc.kill('SIGKILL');
      expect(await steady.exited).toBe(0);
      await victim.exited;
      landed.push(...[...victim.lines, ...steady.lines].filter((l) => l.startsWith('ok ')).map((l) => l.slice(3)));
      const state = await readCounter(root, 'q/queue.json');
      expectConsistent(state, landed, []);
      expect(await readdir(path.join(root, 'q', 'queue.json.v'))).not.toHaveLength(0);
    }
    // CAS still works for a fresh writer afterwards.
    const store = createFileStore({ root });
    const current = await store.read('q/queue.json');
    await store.write('q/queue.json', 'done', { ifMatch: current!.etag });
    await store.close();
  }, 60_000);
});
