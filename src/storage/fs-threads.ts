/**
 * The system calls of the file store's commit, run in worker threads: one message per conditional
 * write, where the promise API makes one trip through libuv's threadpool per call (ten of them).
 * Each trip wakes a pool thread and then the event loop: on a busy two-core machine that was
 * about 45 context switches and 95 system calls per commit (15 and 31 here), and costlier than the
 * calls themselves. Here a commit is one round trip, and the calls run back to back.
 *
 * Only the calls live here (the thread's code: fs-thread-main.ts); the protocol and every decision
 * stay in fs.ts (see its header). A `place` job makes the pre-check (a readdir: is the version it
 * builds on still the current one? optional), stages the body (open O_EXCL, write, data sync,
 * close), links the new version (a tombstone symlink for a delete), fsyncs the key directory,
 * reads the directory's names back for the verify and drops the staging name, then answers with
 * what it found. A job stops at the first step that fails, and says which. Only after the answer does it unlink the version this
 * link freed under the KEEP rule (a delete's before: the caller scrubs at once): no reader needs
 * it gone, and the thread's next job waits for it. A `create` job builds a new key directory in
 * staging (marker, version 1, both synced), renames it into place and syncs its parent: a
 * segment of a bulk push is such a create, and its dozen promise calls were half its time. A
 * store runs its creates on threads of their own (fs.ts), so a segment of a few MiB (10 ms or so
 * with O_DSYNC here) never holds up another topic's head commit.
 *
 * A thread does one job at a time. A store has up to `threads` of them, and a key always goes to
 * the same one (its commits are one at a time anyway), so different topics still commit and
 * fsync in parallel, which lets the filesystem merge their journal commits. Threads start on
 * first use, never keep the process alive while idle, and close their directory fds on close().
 */
import { Worker } from 'node:worker_threads';
import { giveBack, takeBuffer, type BodyBuffer, type BodyBuffers } from './fs-body-buffers.js';
import { DIR_FDS, SOURCE, type CreateJob, type CreateReply, type PlaceJob, type PlaceReply, type Posted, type ThreadJob, type ThreadMessage, type ThreadReply, type ThreadHooks } from './fs-thread-main.js';

export type { CreateJob, CreateReply, PlaceJob, PlaceReply, ThreadHooks } from './fs-thread-main.js';

interface Waiting {
  resolve(reply: ThreadReply): void;
  reject(err: Error): void;
}

/** A thread, and its shared body buffers: free ones, and dropped ones not yet let go on the thread (fs-body-buffers.ts). */
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
  place(job: Omit<PlaceJob, 'op' | 'id' | 'hooks'>): Promise<PlaceReply> {
    return this.run({ ...job, op: 'place', id: this.nextId++, hooks: this.hooks !== undefined }) as Promise<PlaceReply>;
  }

  /** Runs a create (a new key directory) on the thread of that directory; rejects as place() does. */
  create(job: Omit<CreateJob, 'op' | 'id' | 'hooks'>): Promise<CreateReply> {
    return this.run({ ...job, op: 'create', id: this.nextId++, hooks: false }) as Promise<CreateReply>;
  }

  private run(job: ThreadJob): Promise<ThreadReply> {
    const t = this.thread(job.dir);
    return new Promise<ThreadReply>((resolve, reject) => {
      if (t.waiting.size === 0) t.worker.ref(); // a caller waits: keep the process alive until it has its answer
      // One copy of the body, into a shared buffer the thread reads it from; back to `free` with the answer.
      const shared = job.body && takeBuffer(t.free, job.body.length);
      if (shared) new Uint8Array(shared.buffer, 0, job.body!.length).set(job.body!);
      const done = () => {
        if (!shared) return;
        giveBack(t, shared);
        // A dropped buffer is let go on the thread at once, not with its next job: an idle thread
        // must not keep a bulk push's segments' buffers.
        if (t.dropped.length > 0 && !t.closed) t.worker.postMessage({ op: 'forget', buffers: t.dropped.splice(0) } satisfies Posted);
      };
      t.waiting.set(job.id, {
        resolve: (reply) => (done(), resolve(reply)),
        reject: (err) => (done(), reject(err)),
      });
      const body = shared && { buffer: shared.id, length: job.body!.length, ...(shared.sent ? {} : { shared: shared.buffer }) };
      if (shared) shared.sent = true;
      t.worker.postMessage({ ...job, body } as Posted);
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
