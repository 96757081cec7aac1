/**
 * The code of a file store's commit thread (fs-threads.ts runs it), and the messages it takes and
 * answers. Two jobs: `place` links a new version of an existing key directory (fs.ts, "Write
 * ifMatch"), `create` builds a key directory under .tmp~ and renames it into place (fs.ts,
 * "Create"). Synchronous system calls, back to back: where the promise API makes one trip
 * through libuv's threadpool per call, a job is one round trip. Only the calls live here; the
 * protocol and every decision stay in fs.ts.
 *
 * The thread's code is the source text of `threadMain` (new Worker(text, {eval: true})): the
 * function as this module was compiled (tsc, tsx or vitest), so it must use nothing from outside
 * its body but its arguments. A thread cannot load a .ts file (Node 20 gives worker threads no
 * tsx), and this keeps it typed, in one file and in one build. tsx adds `__name(fn, "name")` calls
 * (esbuild's keepNames): the prelude defines it.
 */
import type { MessagePort } from 'node:worker_threads';

/** A conditional write's steps, as a thread runs them. */
export interface PlaceJob {
  op: 'place';
  id: number;
  /** The key directory, and its generation (directory fds are cached per generation). */
  dir: string;
  gen: string;
  /** The name to link: the new version. */
  target: string;
  /** The body to stage and link, or null for a tombstone (a symlink to `tombstone`). */
  body: Uint8Array | null;
  /** A fresh path under .tmp~ for the staging file (with a body). */
  staging: string;
  tombstone: string;
  /**
   * The pre-check, when set: `base` (a version's name) must be the directory's current version,
   * under the marker `marker` (`prefix` is its generation's `<G>-`). Made before the body is staged.
   */
  precheck: { base: string; marker: string; prefix: string } | null;
  /** Versions the KEEP rule frees once the link is made: unlinked right after the answer. */
  collect: string[];
  /** Stop before and after the link until the main thread's test hook has run. */
  hooks: boolean;
}

/**
 * A create (a key directory that did not exist): built at `staging` with the marker and version 1,
 * both synced, renamed to `dir`, then `dir`'s parent synced. No test hooks: a create never links.
 */
export interface CreateJob {
  op: 'create';
  id: number;
  dir: string;
  /** The directory holding `dir`: its entry for `dir` is synced after the rename. */
  parent: string;
  /** A fresh path under .tmp~ for the staging directory. */
  staging: string;
  /** The marker's and version 1's names in it. */
  marker: string;
  version: string;
  body: Uint8Array;
  hooks: boolean;
}

export type ThreadJob = PlaceJob | CreateJob;

/**
 * A job as posted: the body travels as its length in a buffer the two threads share, named by a
 * number; the buffer itself is sent along only the first time the thread gets it.
 */
export type PostedBody = { buffer: number; shared?: SharedArrayBuffer; length: number };
export type PostedJob = (Omit<PlaceJob, 'body'> & { body: PostedBody | null }) | (Omit<CreateJob, 'body'> & { body: PostedBody });
/** A message to a thread: a job, or the buffers the main thread dropped (the thread lets them go at once). */
export type Posted = PostedJob | { op: 'forget'; buffers: number[] };

export type PlaceReply =
  /** The pre-check found another version current (the directory's names, null when it is missing): nothing was linked. */
  | { id: number; kind: 'stale'; names: string[] | null }
  /** The link failed with EEXIST (another writer took the slot) or ENOENT: nothing was linked. */
  | { id: number; kind: 'taken' | 'missing' }
  /** Linked and synced; the directory's names as read right after. */
  | { id: number; kind: 'linked'; names: string[] }
  /** A step failed: `stage` and `link` before anything was linked, `verify` after. */
  | { id: number; kind: 'failed'; step: 'stage' | 'link' | 'verify'; code: string; message: string };

export type CreateReply =
  /** Renamed into place and its parent synced. */
  | { id: number; kind: 'created' }
  /** The rename found `dir` there (ENOTEMPTY, EEXIST: another writer made it first) or a path gone (ENOENT): nothing was made. */
  | { id: number; kind: 'exists' | 'missing' }
  /** `stage`: before the rename, nothing was made; `verify`: renamed, then the parent's sync failed. */
  | { id: number; kind: 'failed'; step: 'stage' | 'verify'; code: string; message: string };

export type ThreadReply = PlaceReply | CreateReply;
export type HookName = 'beforeLink' | 'afterLink';
export type ThreadMessage = ThreadReply | { id: number; kind: 'hook'; hook: HookName } | { id: -1; kind: 'closed' };

export interface ThreadHooks {
  beforeLink?: () => Promise<void>;
  afterLink?: () => Promise<void>;
}

/** Directory fds each thread keeps open: a hot key is fsynced on every commit, and open+close would double that. */
export const DIR_FDS = 32;

/**
 * The body of a thread. Synchronous calls on purpose: the thread has nothing else to do, and each
 * would otherwise be another hop. Sent as text: nothing from outside this function.
 */
export function threadMain(require: NodeJS.Require, port: MessagePort, gate: Int32Array, maxDirFds: number): void {
  const fs = require('node:fs') as typeof import('node:fs');
  const { O_WRONLY, O_CREAT, O_EXCL } = fs.constants;
  // Linux: O_DSYNC makes the write durable as fdatasync after it would, in the same call. macOS's
  // O_DSYNC does not flush the drive's cache (its fdatasync, F_FULLFSYNC in libuv, does): elsewhere fdatasync stays.
  const dsync = process.platform === 'linux' ? (fs.constants.O_DSYNC ?? 0) : 0;
  const dirFds = new Map<string, number>();
  const errCode = (err: unknown): string => String((err as NodeJS.ErrnoException | null)?.code ?? 'UNKNOWN');
  const failed = <S extends 'stage' | 'link' | 'verify'>(id: number, step: S, err: unknown) => ({ id, kind: 'failed' as const, step, code: errCode(err), message: String((err as Error)?.message ?? err) });
  const quietly = (call: () => void): void => {
    try {
      call();
    } catch {
      // best effort: a leftover staging name is swept with .tmp~, a leftover version by the next collection
    }
  };

  const pause = (id: number, hook: HookName): void => {
    Atomics.store(gate, 0, 0);
    port.postMessage({ id, kind: 'hook', hook });
    Atomics.wait(gate, 0, 0);
  };

  /** The directory's fd, cached per generation (a re-created directory is another inode), least recently used out first. */
  const dirFd = (dir: string, gen: string): number => {
    const key = `${gen}:${dir}`;
    let fd = dirFds.get(key);
    if (fd === undefined) fd = fs.openSync(dir, 'r');
    else dirFds.delete(key);
    dirFds.set(key, fd);
    for (const [old, oldFd] of dirFds) {
      if (dirFds.size <= maxDirFds) break;
      dirFds.delete(old);
      quietly(() => fs.closeSync(oldFd));
    }
    return fd;
  };
  const forgetDir = (dir: string, gen: string): void => {
    const fd = dirFds.get(`${gen}:${dir}`);
    dirFds.delete(`${gen}:${dir}`);
    if (fd !== undefined) quietly(() => fs.closeSync(fd));
  };

  /**
   * The versions the last link freed, unlinked once its answer is sent. An unlink that frees
   * blocks takes about as long as the directory's fsync; it used to run beside that fsync on
   * libuv's threadpool, with the answer waiting for it, which put a wake-up of a pool thread on
   * every commit's path (on an idle store 2.4–2.5 ms a commit became 1.8–2.2:
   * `npx tsx bench/fs-commit.ts --gap-ms 20 --only store`).
   */
  let freed: string[] = [];
  const unlinkFreed = (): void => {
    for (const name of freed) quietly(() => fs.unlinkSync(name));
    freed = [];
  };

  /**
   * Creates `file` (it must not exist) holding `body`, durably. A failure after the open closes
   * and unlinks it (never a file another writer made: the open is exclusive) and throws.
   */
  const writeNew = (file: string, body: Uint8Array): void => {
    const fd = fs.openSync(file, O_WRONLY | O_CREAT | O_EXCL | dsync, 0o666);
    try {
      for (let off = 0; off < body.length; ) off += fs.writeSync(fd, body, off, body.length - off, off);
      if (!dsync || body.length === 0) fs.fdatasyncSync(fd); // O_DSYNC syncs each write; an empty file had none
      fs.closeSync(fd);
    } catch (err) {
      quietly(() => fs.closeSync(fd));
      quietly(() => fs.unlinkSync(file));
      throw err;
    }
  };

  const place = (job: PlaceJob): PlaceReply => {
    const { id, body } = job;
    const pre = job.precheck;
    if (pre) {
      // The pre-check, before the body is staged: the directory's current version must be
      // `pre.base`, a regular file, under the only marker, `pre.marker`, with no higher version of
      // its generation (names are zero-padded: they sort as the numbers do).
      let entries: import('node:fs').Dirent[];
      try {
        entries = fs.readdirSync(job.dir, { withFileTypes: true });
      } catch (err) {
        const code = errCode(err);
        if (code === 'ENOENT' || code === 'ENOTDIR') return { id, kind: 'stale', names: null };
        return failed(id, 'stage', err);
      }
      let markers = 0;
      let current = false;
      let newer = false;
      for (const e of entries) {
        if (e.name.startsWith('gen-')) {
          markers++;
          newer ||= e.name !== pre.marker;
        } else if (e.name === pre.base) current = e.isFile();
        else if (e.name.length === pre.base.length && e.name.startsWith(pre.prefix) && e.name > pre.base) newer = true;
      }
      if (markers !== 1 || !current || newer) return { id, kind: 'stale', names: entries.map((e) => e.name) };
    }
    if (body) {
      try {
        writeNew(job.staging, body);
      } catch (err) {
        return failed(id, 'stage', err);
      }
    }
    const drop = (): void => {
      if (body) quietly(() => fs.unlinkSync(job.staging));
    };
    if (job.hooks) pause(id, 'beforeLink');
    try {
      if (body) fs.linkSync(job.staging, job.target);
      else fs.symlinkSync(job.tombstone, job.target);
    } catch (err) {
      drop();
      const code = errCode(err);
      if (code === 'EEXIST') return { id, kind: 'taken' };
      if (code === 'ENOENT') return { id, kind: 'missing' };
      return failed(id, 'link', err);
    }
    if (job.hooks) pause(id, 'afterLink');
    // Freed by this link (a version >= the freed one + KEEP exists now): unlinked after the answer.
    freed = job.collect.map((name) => `${job.dir}/${name}`);
    let names: string[];
    try {
      fs.fsyncSync(dirFd(job.dir, job.gen));
      names = fs.readdirSync(job.dir);
    } catch (err) {
      forgetDir(job.dir, job.gen);
      drop();
      return failed(id, 'verify', err);
    }
    drop();
    if (!body) {
      // A delete's tombstone: the caller scrubs the kept versions as soon as it has the answer,
      // and must not race this unlink (it would leave a stray symlink no later write collects).
      unlinkFreed();
    }
    return { id, kind: 'linked', names };
  };

  /** fsync of a directory by path, for one it syncs once (a cached fd could outlive a re-created directory). */
  const syncDirOnce = (dir: string): void => {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  };

  const create = (job: CreateJob): CreateReply => {
    const { id, body, staging } = job;
    try {
      fs.mkdirSync(staging);
      fs.closeSync(fs.openSync(`${staging}/${job.marker}`, O_WRONLY | O_CREAT | O_EXCL, 0o666));
      writeNew(`${staging}/${job.version}`, body);
      syncDirOnce(staging); // the marker's and the version's entries, before the directory is visible
      fs.renameSync(staging, job.dir);
    } catch (err) {
      quietly(() => fs.rmSync(staging, { recursive: true, force: true }));
      const code = errCode(err);
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return { id, kind: 'exists' };
      if (code === 'ENOENT') return { id, kind: 'missing' };
      return failed(id, 'stage', err);
    }
    try {
      syncDirOnce(job.parent);
    } catch (err) {
      return failed(id, 'verify', err);
    }
    return { id, kind: 'created' };
  };

  // One job at a time, in the order sent: the handler is synchronous, its unlinks included.
  /** The shared body buffers this thread was sent, by number, until the main thread drops them. */
  const buffers = new Map<number, SharedArrayBuffer>();
  port.on('message', (posted: Posted | 'close') => {
    if (posted === 'close') {
      for (const fd of dirFds.values()) quietly(() => fs.closeSync(fd));
      dirFds.clear();
      port.postMessage({ id: -1, kind: 'closed' });
      return;
    }
    if (posted.op === 'forget') {
      for (const n of posted.buffers) buffers.delete(n);
      return;
    }
    const bodyOf = (posted: PostedBody): Uint8Array => {
      const { buffer, shared, length } = posted;
      if (shared) buffers.set(buffer, shared);
      const held = buffers.get(buffer);
      // A body must never be read from nothing (it would be an empty version, reported written).
      if (!held) throw new Error(`body buffer ${buffer} is not held by this thread`);
      return new Uint8Array(held, 0, length);
    };
    let reply: ThreadReply;
    try {
      if (posted.op === 'create') reply = create({ ...posted, body: bodyOf(posted.body) });
      else reply = place({ ...posted, body: posted.body && bodyOf(posted.body) });
    } catch (err) {
      // Not one of the jobs' own failures: a bug. Whether the link or rename happened is unknown.
      reply = failed(posted.id, 'verify', err);
    }
    port.postMessage(reply);
    unlinkFreed();
  });
}

export const SOURCE = `'use strict';
const __name = (target) => target;
const { parentPort, workerData } = require('node:worker_threads');
(${threadMain.toString()})(require, parentPort, workerData.gate, workerData.maxDirFds);
`;
