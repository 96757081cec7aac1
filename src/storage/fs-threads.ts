/**
 * The system calls of the file store's commit, run in worker threads: one message per conditional
 * write, where the promise API makes one trip through libuv's threadpool per call (ten of them).
 * Each trip wakes a pool thread and then the event loop: on a busy two-core machine that was
 * about 45 context switches and 95 system calls per commit (15 and 31 here), and costlier than the
 * calls themselves. Here a commit is one round trip, and the calls run back to back.
 *
 * Only the calls live here; the protocol and every decision stay in fs.ts (see its header). A
 * `place` job makes the pre-check (a readdir: is the version it builds on still the current one?
 * optional), stages the body (open O_EXCL, write, data sync, close), links the new version (a
 * tombstone symlink for a delete), fsyncs the key directory, reads the directory's names back for
 * the verify and drops the staging name, then answers with what it found. A job stops at the
 * first step that fails, and says which. Only after the answer does it unlink the version this
 * link freed under the KEEP rule (a delete's before: the caller scrubs at once): no reader needs
 * it gone, and the thread's next job waits for it.
 *
 * A thread does one job at a time. A store has up to `threads` of them, and a key always goes to
 * the same one (its commits are one at a time anyway), so different topics still commit and
 * fsync in parallel, which lets the filesystem merge their journal commits. Threads start on
 * first use, never keep the process alive while idle, and close their directory fds on close().
 *
 * The thread's code is the source text of `threadMain` (new Worker(text, {eval: true})): the
 * function as this module was compiled (tsc, tsx or vitest), so it must use nothing from outside
 * its body but its arguments. A thread cannot load a .ts file (Node 20 gives worker threads no
 * tsx), and this keeps it typed, in one file and in one build. tsx adds `__name(fn, "name")` calls
 * (esbuild's keepNames): the prelude defines it.
 */
import { Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { giveBack, takeBuffer, type BodyBuffer, type BodyBuffers } from './fs-body-buffers.js';

/** One step of a commit, as a thread runs it. */
export interface PlaceJob {
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
 * A job as posted: the body travels as its length in a buffer the two threads share, named by a
 * number; the buffer itself is sent along only the first time the thread gets it.
 */
type PostedJob = Omit<PlaceJob, 'body'> & {
  body: { buffer: number; shared?: SharedArrayBuffer; length: number } | null;
  /** Buffers the main thread no longer uses: the thread lets them go. */
  forget?: number[];
};

export type PlaceReply =
  /** The pre-check found another version current (the directory's names, null when it is missing): nothing was linked. */
  | { id: number; kind: 'stale'; names: string[] | null }
  /** The link failed with EEXIST (another writer took the slot) or ENOENT: nothing was linked. */
  | { id: number; kind: 'taken' | 'missing' }
  /** Linked and synced; the directory's names as read right after. */
  | { id: number; kind: 'linked'; names: string[] }
  /** A step failed: `stage` and `link` before anything was linked, `verify` after. */
  | { id: number; kind: 'failed'; step: 'stage' | 'link' | 'verify'; code: string; message: string };

type HookName = 'beforeLink' | 'afterLink';
type ThreadMessage = PlaceReply | { id: number; kind: 'hook'; hook: HookName } | { id: -1; kind: 'closed' };

export interface ThreadHooks {
  beforeLink?: () => Promise<void>;
  afterLink?: () => Promise<void>;
}

/** Directory fds each thread keeps open: a hot key is fsynced on every commit, and open+close would double that. */
const DIR_FDS = 32;

/**
 * The body of a thread. Synchronous calls on purpose: the thread has nothing else to do, and each
 * would otherwise be another hop. Sent as text: nothing from outside this function.
 */
function threadMain(require: NodeJS.Require, port: MessagePort, gate: Int32Array, maxDirFds: number): void {
  const fs = require('node:fs') as typeof import('node:fs');
  const { O_WRONLY, O_CREAT, O_EXCL } = fs.constants;
  // Linux: O_DSYNC makes the write durable as fdatasync after it would, in the same call. macOS's
  // O_DSYNC does not flush the drive's cache (its fdatasync, F_FULLFSYNC in libuv, does): elsewhere fdatasync stays.
  const dsync = process.platform === 'linux' ? (fs.constants.O_DSYNC ?? 0) : 0;
  const dirFds = new Map<string, number>();
  const errCode = (err: unknown): string => String((err as NodeJS.ErrnoException | null)?.code ?? 'UNKNOWN');
  const failed = (id: number, step: 'stage' | 'link' | 'verify', err: unknown): PlaceReply => ({ id, kind: 'failed', step, code: errCode(err), message: String((err as Error)?.message ?? err) });
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
      let fd: number;
      try {
        fd = fs.openSync(job.staging, O_WRONLY | O_CREAT | O_EXCL | dsync, 0o666);
      } catch (err) {
        return failed(id, 'stage', err);
      }
      try {
        for (let off = 0; off < body.length; ) off += fs.writeSync(fd, body, off, body.length - off, off);
        if (!dsync || body.length === 0) fs.fdatasyncSync(fd); // O_DSYNC syncs each write; an empty file had none
        fs.closeSync(fd);
      } catch (err) {
        quietly(() => fs.closeSync(fd));
        quietly(() => fs.unlinkSync(job.staging));
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

  // One job at a time, in the order sent: the handler is synchronous, its unlinks included.
  /** The shared body buffers this thread was sent, by number, until the main thread drops them. */
  const buffers = new Map<number, SharedArrayBuffer>();
  port.on('message', (posted: PostedJob | 'close') => {
    if (posted === 'close') {
      for (const fd of dirFds.values()) quietly(() => fs.closeSync(fd));
      dirFds.clear();
      port.postMessage({ id: -1, kind: 'closed' });
      return;
    }
    for (const n of posted.forget ?? []) buffers.delete(n);
    let body: Uint8Array | null = null;
    if (posted.body) {
      const { buffer, shared, length } = posted.body;
      if (shared) buffers.set(buffer, shared);
      body = new Uint8Array(buffers.get(buffer)!, 0, length);
    }
    const job: PlaceJob = { ...posted, body };
    let reply: PlaceReply;
    try {
      reply = place(job);
    } catch (err) {
      // Not one of place's own failures: a bug. Whether the link happened is unknown.
      reply = failed(job.id, 'verify', err);
    }
    port.postMessage(reply);
    unlinkFreed();
  });
}

const SOURCE = `'use strict';
const __name = (target) => target;
const { parentPort, workerData } = require('node:worker_threads');
(${threadMain.toString()})(require, parentPort, workerData.gate, workerData.maxDirFds);
`;

interface Waiting {
  resolve(reply: PlaceReply): void;
  reject(err: Error): void;
}

/** A thread, and its shared body buffers: free ones, and dropped ones its next job names (fs-body-buffers.ts). */
interface Thread extends BodyBuffers {
  worker: Worker;
  gate: Int32Array;
  waiting: Map<number, Waiting>;
  closed: Promise<void> | null;
}

/** The commit threads of one store. */
export class CommitThreads {
  private readonly threads: Array<Thread | undefined>;
  private nextId = 0;

  constructor(
    size: number,
    private readonly hooks?: ThreadHooks,
  ) {
    this.threads = new Array<Thread | undefined>(Math.max(1, size));
  }

  /**
   * Runs a job on the thread of its key directory. Rejects only when the thread itself failed
   * (it died, or could not start): the job may or may not have linked.
   */
  place(job: Omit<PlaceJob, 'id' | 'hooks'>): Promise<PlaceReply> {
    const t = this.thread(job.dir);
    const id = this.nextId++;
    return new Promise<PlaceReply>((resolve, reject) => {
      if (t.waiting.size === 0) t.worker.ref(); // a caller waits: keep the process alive until it has its answer
      // One copy of the body, into a shared buffer the thread reads it from; back to `free` with the answer.
      let shared: BodyBuffer | null = null;
      if (job.body) {
        shared = takeBuffer(t.free, job.body.length);
        new Uint8Array(shared.buffer, 0, job.body.length).set(job.body);
      }
      const done = () => {
        if (shared) giveBack(t, shared);
      };
      t.waiting.set(id, {
        resolve: (reply) => (done(), resolve(reply)),
        reject: (err) => (done(), reject(err)),
      });
      let body: PostedJob['body'] = null;
      if (shared) {
        body = { buffer: shared.id, length: job.body!.length };
        if (!shared.sent) body.shared = shared.buffer;
        shared.sent = true;
      }
      const posted: PostedJob = { ...job, body, id, hooks: this.hooks !== undefined };
      if (t.dropped.length > 0) posted.forget = t.dropped.splice(0);
      t.worker.postMessage(posted);
    });
  }

  /** Waits for the jobs sent, closes every thread's directory fds and ends the threads. */
  async close(): Promise<void> {
    await Promise.all(
      this.threads.map((t) => {
        if (!t) return undefined;
        t.closed ??= new Promise<void>((resolve) => {
          t.worker.ref();
          t.worker.once('exit', () => resolve());
          t.worker.postMessage('close'); // after the jobs sent: the port keeps their order
        });
        return t.closed;
      }),
    );
  }

  private thread(dir: string): Thread {
    let h = 0;
    for (let i = 0; i < dir.length; i++) h = (Math.imul(h, 31) + dir.charCodeAt(i)) | 0;
    const i = (h >>> 0) % this.threads.length;
    const existing = this.threads[i];
    if (existing && !existing.closed) return existing;
    const gate = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(SOURCE, { eval: true, workerData: { gate, maxDirFds: DIR_FDS }, name: 'bucketq-fs' });
    worker.unref();
    const t: Thread = { worker, gate, waiting: new Map(), closed: null, free: [], dropped: [] };
    worker.on('message', (m: ThreadMessage) => this.received(t, m));
    const lost = (why: string) => {
      if (this.threads[i] === t) this.threads[i] = undefined;
      const err = new Error(`file store thread ${why}`);
      for (const w of t.waiting.values()) w.reject(err);
      t.waiting.clear();
    };
    worker.on('error', (err) => lost(`failed: ${err.message}`));
    worker.on('exit', (code) => lost(`exited (${code})`));
    this.threads[i] = t;
    return t;
  }

  private received(t: Thread, m: ThreadMessage): void {
    if (m.kind === 'closed') return void t.worker.terminate();
    if (m.kind === 'hook') {
      // The thread waits on the gate until the test hook (a writer frozen right there) has run.
      const release = () => {
        Atomics.store(t.gate, 0, 1);
        Atomics.notify(t.gate, 0);
      };
      void (this.hooks?.[m.hook]?.() ?? Promise.resolve()).then(release, release);
      return;
    }
    const w = t.waiting.get(m.id);
    if (!w) return;
    t.waiting.delete(m.id);
    if (t.waiting.size === 0) t.worker.unref();
    w.resolve(m);
  }
}
