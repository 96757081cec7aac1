/**
 * Local-directory storage that stays correct when several OS processes share the directory and any
 * of them is SIGKILLed or SIGSTOPped at any instant.
 *
 * Why no lock files: a lock needs a staleness rule (the holder may be dead), and a holder that was
 * only frozen (SIGSTOP, a VM pause, a long GC) wakes up after its lock was stolen and overwrites a
 * newer version. Instead every version gets its own immutable file and the compare-and-swap is
 * `link(2)`, which atomically fails with EEXIST when the name is taken. Nothing is ever overwritten.
 *
 * Layout, for key `a/b/c.json` under root R:
 *   R/a/b/c.json.v/gen-<G>                 marker: the directory's generation G (16 hex digits)
 *   R/a/b/c.json.v/<G>-<n, 20 digits>      version n: a regular file holds the bytes; a symlink
 *                                          (to "deleted") is a tombstone or a scrubbed old version
 *   R/.tmp~/<pid>-<random>-<seq>[.new]     staging files and staging key directories
 * An intermediate segment ending in ".v" is stored with a "~" appended ("~" is not a key
 * character), so only key directories end in ".v". The etag is `<G>.<n>`; n only grows and the
 * key directory is never removed (delete writes a tombstone), so etags never repeat.
 *
 * Read: readdir; the highest version of the marker's generation is current; a tombstone or no
 * version means missing. If the file vanished (garbage-collected) between readdir and open, retry.
 *
 * Write ifMatch `<G>.<n>`: pre-check (readdir: current must be n); write the body to a staging
 * file, durably (O_DSYNC on Linux, else write + fdatasync); link it to `<G>-<n+1>` (EEXIST: lost
 * the race → STORE_CONFLICT); fsync the key directory; readdir again to verify; unlink the staging
 * name. The pre-check runs before staging, so a writer that lost learns it without an fsync; it
 * turns a writer that held its etag too long into a certain STORE_CONFLICT instead of a zombie.
 * These system calls run back to back on a commit thread of the store (fs-threads.ts): one message
 * per commit instead of a trip through libuv's threadpool per call.
 *
 * Verify and garbage collection (the subtle part). A writer keeps the newest KEEP versions and
 * unlinks older ones, so the name `<G>-<m>` is freed only after a version >= m+KEEP existed (the
 * writer that links n+1 unlinks n+1-KEEP, right after answering; anything older the verify
 * still sees, a dead writer's share, is collected after it). A writer frozen between its
 * pre-check and its link can therefore link into a freed slot: its file is a "zombie", never the
 * highest version, invisible to readers. The verify tells the cases apart:
 * - marker changed (directory re-created externally): the file is invisible → STORE_CONFLICT;
 * - highest version < n+1+KEEP: no slot up to n+1 was ever freed, so our link took a fresh slot
 *   and the write landed (it may already be superseded, which is normal) → success;
 * - otherwise either we are a zombie or KEEP other commits landed on top of ours while we were
 *   frozen between link and verify; both happen only under a pause, and names cannot tell them
 *   apart → our file is unlinked and the call throws STORE_AMBIGUOUS (the broker resolves it by
 *   re-reading the commit seq and writer id it stores in the object: broker/queue-object.ts).
 *
 * Create (ifNoneMatch, or any write to a missing key): build the key directory with its marker and
 * version 1 under .tmp~, fsync, and rename() it into place (atomic; ENOTEMPTY/EEXIST means another
 * process created it first → use theirs), then fsync the parent: one job on one of the store's
 * create threads. An ifNoneMatch write tries the create before it looks at the directory: the
 * rename is the look (a key that exists costs one wasted create, then the look). Delete links a
 * tombstone at n+1 the same way, then replaces the kept old versions with symlinks, so a deleted
 * key holds no data.
 *
 * Errors: before the link nothing happened → STORE_UNAVAILABLE; after it (or a commit thread that
 * died) → STORE_AMBIGUOUS.
 *
 * Cost of a commit: two durable steps, the new file's data and the key directory's entry, each a
 * journal commit on ext4; 17 system calls (readdir is 5: open, stat, two getdents, close); one
 * round trip to a thread, which keeps the key directories' fds open (up to 32; close() releases
 * them and ends the threads). What was weighed to get there:
 * - The commit's calls on a thread of their own: done (fs-threads.ts). Each promise call was a
 *   trip through libuv's threadpool, waking a pool thread and then the event loop; with ten of them
 *   that was ~45 context switches and ~95 system calls per commit, most of its CPU.
 * - O_DSYNC on the staging file: write and data sync in one call (Linux only; macOS's O_DSYNC does
 *   not flush the drive's cache as libuv's fdatasync does there).
 * - Skipping the pre-check when this store wrote the current version itself: not done. That is
 *   exactly the leader that was paused between two commits (the likeliest place for a pause) while
 *   another broker took over; with the pre-check its next write is a clean STORE_CONFLICT (the
 *   broker reloads and steps down); without it, after KEEP commits by the other, a zombie whose
 *   verify says STORE_AMBIGUOUS, which fails that broker's batch. Safety would not suffer (the
 *   verify decides), but the answer would. A pre-check by lstat of versions n and n+1 instead of a
 *   readdir was weighed too: it is as certain only while every writer collects its share, so
 *   a writer SIGKILLed between link and collection leaves a hole it could miss.
 * - A cheaper verify: no. Only the highest version tells a landed write from a zombie, and only a
 *   readdir shows it (a collected slot looks the same as one never made).
 * - Collection off the critical path: the unlink of the freed version (it frees blocks, about as
 *   slow as the directory's fsync) runs on the commit thread after the answer, before its next
 *   job. It must follow the link (the KEEP rule); for a moment after a write KEEP+1 versions may
 *   be there, as a writer killed before collecting leaves them, and no reader or verify counts
 *   on fewer. (It ran beside the fsync on libuv's threadpool before: a pool thread's wake-up on
 *   every commit's path, 0.3–0.6 ms of an idle store's commit.) A process that exits without
 *   close() right after a write may leave that version behind; the next write collects it.
 * - writev: nothing to gain, the body is one buffer.
 *
 * Requires a local POSIX filesystem with atomic link/rename (ext4, xfs, btrfs, apfs, tmpfs);
 * network filesystems (NFS, SMB) are not supported. The root must be one filesystem (link() cannot
 * cross mounts).
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { QueueError } from '../errors.js';
import {
  errCode,
  fsyncDir,
  KEEP_VERSIONS,
  KEY_SUFFIX,
  keySegment,
  dirSegment,
  MARKER,
  noop,
  parseEtag,
  parseScan,
  scan,
  TMP_DIR,
  TOMBSTONE_TARGET,
  versionName,
  type Scan,
} from './fs-layout.js';
import { CommitThreads, type PlaceJob } from './fs-threads.js';
import { asBytes, assertValidKey, assertValidPrefix, assertValidRange } from './keys.js';
import type { StorageDriver, StoredObject, WriteCondition } from './types.js';

export const DRIVER_NAME = 'file';
export { KEEP_VERSIONS };

export interface FileStoreOptions {
  /** Directory that holds the objects; created on first write. A local filesystem, not NFS/SMB. */
  root: string;
  /** @internal Test hooks around the link of a new version: they simulate a writer frozen there. */
  testHooks?: { beforeLink?: () => Promise<void>; afterLink?: () => Promise<void> };
}

const STALE_STAGING_MS = 60 * 60 * 1000;
const MAX_SEGMENT = 250;
const MAX_ATTEMPTS = 1000;
/** Commit threads per store (fs-threads.ts): one key always uses the same one. */
const THREADS = 4;
/**
 * Threads for creates (a new key directory: a segment, a payload object, a topic's first head),
 * apart from the commit threads: a segment of a few MiB written with O_DSYNC holds its thread
 * for 10 ms or so, and a head commit of another topic must not wait behind it.
 */
const CREATE_THREADS = 2;

type Outcome = 'landed' | 'stale' | 'gone' | 'taken' | 'foreign' | 'unsure';

function conflict(key: string, why: string): QueueError {
  return new QueueError('STORE_CONFLICT', `Conditional write to ${key} failed: ${why}`);
}

function toStoreError(err: unknown, what: string): QueueError {
  if (err instanceof QueueError) return err;
  return new QueueError('STORE_UNAVAILABLE', `File store: ${what} failed (${errCode(err) ?? String(err)})`, { cause: err });
}

/** A store in the directory `options.root`; safe to share between processes. */
export function createFileStore(options: FileStoreOptions): StorageDriver {
  const root = path.resolve(options.root);
  const tmpRoot = path.join(root, TMP_DIR);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  let seq = 0;
  const knownDirs = new Set<string>();
  let tmpReady: Promise<void> | null = null;
  /** Where the system calls of a commit run (fs-threads.ts), the key directories' fds cached there. */
  const threads = new CommitThreads(THREADS, options.testHooks);
  const createThreads = new CommitThreads(CREATE_THREADS);

  const stagingPath = (suffix = ''): string => path.join(tmpRoot, `${tag}-${++seq}${suffix}`);

  function keyDir(key: string): string {
    assertValidKey(key);
    const segments = key.split('/');
    if (segments.some((s) => s.length > MAX_SEGMENT)) {
      throw new QueueError('INVALID_ARGUMENT', `Storage key ${JSON.stringify(key)} has a segment longer than ${MAX_SEGMENT} characters`);
    }
    const last = segments.pop()!;
    return path.join(root, ...segments.map(dirSegment), last + KEY_SUFFIX);
  }

  /** mkdir -p, making every new directory entry durable; remembered per process. */
  async function ensureDir(dir: string): Promise<void> {
    if (knownDirs.has(dir)) return;
    const first = await fsp.mkdir(dir, { recursive: true });
    if (first !== undefined) {
      const created: string[] = [];
      for (let d = dir; ; d = path.dirname(d)) {
        created.push(d);
        if (d === first || d === path.dirname(d)) break;
      }
      await Promise.all(created.map((d) => fsyncDir(path.dirname(d))));
    }
    knownDirs.add(dir);
  }

  /** Creates .tmp~ once and removes staging leftovers of crashed processes (older than an hour). */
  function ensureTmp(): Promise<void> {
    tmpReady ??= (async () => {
      await ensureDir(tmpRoot);
      const names = await fsp.readdir(tmpRoot).catch(() => [] as string[]);
      const cutoff = Date.now() - STALE_STAGING_MS;
      for (const name of names) {
        const p = path.join(tmpRoot, name);
        const st = await fsp.lstat(p).catch(() => null);
        if (st && st.mtimeMs < cutoff) await fsp.rm(p, { recursive: true, force: true }).catch(noop);
      }
    })().catch((err: unknown) => {
      tmpReady = null;
      throw err;
    });
    return tmpReady;
  }

  /**
   * Links version base+1 (`bytes`, staged first, or a tombstone when null), after the pre-check
   * of version `base` when `precheck`, and verifies; see the header. The system calls run on the
   * key's commit thread (fs-threads.ts); what they found is judged here.
   */
  async function place(dir: string, gen: string, base: number, bytes: Uint8Array | null, precheck: boolean): Promise<Outcome> {
    if (bytes) await ensureTmp();
    const freed = base + 1 - KEEP_VERSIONS; // the version the KEEP rule frees once base+1 exists
    const job: Omit<PlaceJob, 'op' | 'id' | 'hooks'> = {
      dir,
      gen,
      target: path.join(dir, versionName(gen, base + 1)),
      body: bytes,
      staging: bytes ? stagingPath() : '',
      tombstone: TOMBSTONE_TARGET,
      precheck: precheck ? { base: versionName(gen, base), marker: MARKER + gen, prefix: `${gen}-` } : null,
      collect: freed > 0 ? [versionName(gen, freed)] : [],
    };
    let reply = await run(dir, () => threads.place(job));
    if (reply.kind === 'failed' && reply.step === 'stage' && reply.code === 'ENOENT') {
      knownDirs.delete(tmpRoot); // someone removed .tmp~: make it again, once
      tmpReady = null;
      await ensureTmp();
      reply = await run(dir, () => threads.place({ ...job, staging: stagingPath() }));
    }
    switch (reply.kind) {
      case 'stale': // a damaged directory is CORRUPT_STATE, as a read says
        return reply.names && parseScan(dir, reply.names) ? 'stale' : 'gone';
      case 'taken':
        return reply.kind;
      case 'missing':
        if ((await scan(dir)) === null) return 'taken'; // the key directory went away
        throw new QueueError('STORE_UNAVAILABLE', `File store: linking a version into ${dir} failed (ENOENT)`);
      case 'failed':
        if (reply.step !== 'verify') throw new QueueError('STORE_UNAVAILABLE', `File store: ${reply.step} for ${dir} failed (${reply.code}: ${reply.message})`);
        throw new QueueError('STORE_AMBIGUOUS', `File store: a version of ${dir} was linked, then ${reply.code}: ${reply.message}`);
    }
    let after: Scan | null;
    try {
      after = parseScan(dir, reply.names);
    } catch (err) {
      throw new QueueError('STORE_AMBIGUOUS', `File store: a version of ${dir} was linked, then ${errCode(err) ?? String(err)}`, { cause: err });
    }
    if (after !== null && after.gen === gen && after.max >= base + 1 && after.max < base + 1 + KEEP_VERSIONS) {
      // The thread unlinks the version this commit freed (after its answer: `names` may still
      // list it). Older ones and other generations' leftovers (a writer that died before
      // collecting) are rare: collect them here.
      const left = after.versions.some((v) => v.n <= after.max - KEEP_VERSIONS && v.n !== freed);
      if (left || after.foreign.length > 0) await collectGarbage(dir, after);
      return 'landed';
    }
    await fsp.unlink(job.target).catch(noop); // invisible (zombie) or long superseded: never needed again
    return after && after.gen !== gen ? 'foreign' : 'unsure';
  }

  /** A job on the key's commit thread; a thread that died leaves the outcome unknown. */
  async function run<R>(dir: string, job: () => Promise<R>): Promise<R> {
    try {
      return await job();
    } catch (err) {
      throw new QueueError('STORE_AMBIGUOUS', `File store: a write to ${dir} may or may not have landed (${(err as Error).message})`, { cause: err });
    }
  }

  /** Best effort: unlink versions more than KEEP_VERSIONS below the highest, and older-generation leftovers. */
  async function collectGarbage(dir: string, s: Scan): Promise<void> {
    for (const v of s.versions) {
      if (v.n > s.max - KEEP_VERSIONS) break;
      await fsp.unlink(path.join(dir, v.name)).catch(noop);
    }
    for (const name of s.foreign) await fsp.unlink(path.join(dir, name)).catch(noop);
  }

  /** After a tombstone at `top`: swap the kept data versions below it for symlinks (atomic rename). */
  async function scrub(dir: string, s: Scan, top: number): Promise<void> {
    for (const v of s.versions) {
      if (!v.data || v.n >= top) continue;
      const link = stagingPath('.del');
      await fsp.symlink(TOMBSTONE_TARGET, link).catch(noop);
      await fsp.rename(link, path.join(dir, v.name)).catch(() => fsp.unlink(link).catch(noop));
    }
  }

  /**
   * Builds the key directory with version 1 in staging and renames it in (on its commit thread:
   * fs-threads.ts); null if another process won, or a directory it needs went away (the caller
   * looks again).
   */
  async function createKeyDir(dir: string, bytes: Uint8Array): Promise<string | null> {
    const parent = path.dirname(dir);
    await Promise.all([ensureDir(parent), ensureTmp()]);
    const gen = randomBytes(8).toString('hex');
    const reply = await run(dir, () => createThreads.create({ dir, parent, staging: stagingPath('.new'), marker: MARKER + gen, version: versionName(gen, 1), body: bytes }));
    switch (reply.kind) {
      case 'created':
        return gen;
      case 'exists':
        return null;
      case 'missing':
        knownDirs.delete(parent); // parent or .tmp~ removed underneath us: the caller retries
        knownDirs.delete(tmpRoot);
        tmpReady = null;
        return null;
      case 'failed':
        if (reply.step === 'stage') throw new QueueError('STORE_UNAVAILABLE', `File store: creating ${dir} failed (${reply.code}: ${reply.message})`);
        throw new QueueError('STORE_AMBIGUOUS', `File store: ${dir} was created, then ${reply.code}: ${reply.message}`);
    }
  }

  async function writeIfMatch(key: string, dir: string, bytes: Uint8Array, etag: string): Promise<{ etag: string }> {
    const want = parseEtag(etag);
    if (!want) throw conflict(key, `etag ${JSON.stringify(etag)} was not issued by this store`);
    const outcome = await place(dir, want.gen, want.n, bytes, true);
    if (outcome === 'landed') return { etag: `${want.gen}.${want.n + 1}` };
    if (outcome === 'stale') throw conflict(key, 'the etag no longer matches');
    if (outcome === 'gone') throw conflict(key, 'the key does not exist');
    if (outcome === 'unsure') throw new QueueError('STORE_AMBIGUOUS', `Write to ${key} may or may not have landed (writer paused during commit)`);
    throw conflict(key, 'another write landed first');
  }

  /** Create-if-absent (createOnly) or unconditional write, retrying until it lands or conflicts. */
  /** Reads the live version of `key` with `get` (whole or a range), looking again if it was superseded meanwhile. */
  async function readLive(key: string, get: (file: string) => Promise<Buffer>): Promise<{ bytes: Buffer; etag: string } | null> {
    const dir = keyDir(key);
    try {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const s = await scan(dir);
        if (!s || !s.live) return null;
        try {
          return { bytes: await get(path.join(dir, versionName(s.gen, s.max))), etag: `${s.gen}.${s.max}` };
        } catch (err) {
          if (errCode(err) !== 'ENOENT') throw err; // superseded and collected meanwhile: look again
        }
      }
      throw new QueueError('STORE_UNAVAILABLE', `File store: ${key} kept changing while being read`);
    } catch (err) {
      throw toStoreError(err, `read ${key}`);
    }
  }

  async function writeLoop(key: string, dir: string, bytes: Uint8Array, createOnly: boolean): Promise<{ etag: string }> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // A create-only write goes straight to the create at first: its rename fails when the key
      // directory exists (ENOTEMPTY), and only then is the directory looked at. A segment's key
      // is new, so its write saves the look.
      const s = createOnly && attempt === 0 ? null : await scan(dir);
      if (!s) {
        const gen = await createKeyDir(dir, bytes);
        if (gen) return { etag: `${gen}.1` };
        continue;
      }
      if (createOnly && s.live) throw conflict(key, 'the key already exists');
      const outcome = await place(dir, s.gen, s.max, bytes, false);
      if (outcome === 'landed') return { etag: `${s.gen}.${s.max + 1}` };
      if (outcome === 'unsure' && createOnly) {
        throw new QueueError('STORE_AMBIGUOUS', `Create of ${key} may or may not have landed (writer paused during commit)`);
      }
    }
    throw new QueueError('STORE_UNAVAILABLE', `File store: write to ${key} kept losing races`);
  }

  return {
    name: DRIVER_NAME,
    minWriteIntervalMs: 0,

    async read(key: string): Promise<StoredObject | null> {
      const got = await readLive(key, (file) => fsp.readFile(file));
      return got && { body: new Uint8Array(got.bytes.buffer, got.bytes.byteOffset, got.bytes.byteLength), etag: got.etag };
    },

    async readRange(key: string, start: number, end: number): Promise<Uint8Array | null> {
      assertValidRange(start, end);
      const got = await readLive(key, async (file) => {
        const fh = await fsp.open(file, 'r');
        try {
          const buf = Buffer.allocUnsafe(Math.max(0, end - start));
          const { bytesRead } = await fh.read(buf, 0, buf.length, start);
          return buf.subarray(0, bytesRead);
        } finally {
          await fh.close();
        }
      });
      return got && new Uint8Array(got.bytes.buffer, got.bytes.byteOffset, got.bytes.byteLength);
    },

    async write(key: string, body: Uint8Array | string, condition?: WriteCondition): Promise<{ etag: string }> {
      const dir = keyDir(key);
      const bytes = asBytes(body);
      if (condition && 'ifNoneMatch' in condition && condition.ifNoneMatch !== '*') {
        throw new QueueError('INVALID_ARGUMENT', 'ifNoneMatch only accepts "*"');
      }
      try {
        if (condition && 'ifMatch' in condition) return await writeIfMatch(key, dir, bytes, condition.ifMatch);
        return await writeLoop(key, dir, bytes, condition !== undefined && 'ifNoneMatch' in condition);
      } catch (err) {
        throw toStoreError(err, `write ${key}`);
      }
    },

    async list(prefix: string): Promise<string[]> {
      assertValidPrefix(prefix);
      const complete = prefix.split('/');
      const partial = complete.pop()!;
      const found: string[] = [];
      const walk = async (dir: string, keyPrefix: string, first: boolean): Promise<void> => {
        const entries = await fsp.readdir(dir, { withFileTypes: true }).catch((err: unknown) => {
          if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') return [];
          throw err;
        });
        await Promise.all(
          entries.map(async (e) => {
            if (!e.isDirectory() || (dir === root && e.name === TMP_DIR)) return;
            const isKey = e.name.endsWith(KEY_SUFFIX);
            const segment = isKey ? e.name.slice(0, -KEY_SUFFIX.length) : keySegment(e.name);
            if (first && !segment.startsWith(partial)) return;
            const full = path.join(dir, e.name);
            if (!isKey) return walk(full, `${keyPrefix}${segment}/`, false);
            if ((await scan(full))?.live) found.push(keyPrefix + segment);
          }),
        );
      };
      try {
        await walk(path.join(root, ...complete.map(dirSegment)), complete.map((s) => `${s}/`).join(''), true);
      } catch (err) {
        throw toStoreError(err, `list ${prefix}`);
      }
      return found.filter((key) => key.startsWith(prefix)).sort();
    },

    async delete(key: string): Promise<void> {
      const dir = keyDir(key);
      try {
        for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
          const s = await scan(dir);
          if (!s || !s.live) return;
          if ((await place(dir, s.gen, s.max, null, false)) !== 'landed') continue;
          const after = await scan(dir); // with file types: the scrub replaces data versions only
          return after ? await scrub(dir, after, s.max + 1) : undefined;
        }
        throw new QueueError('STORE_UNAVAILABLE', `File store: delete of ${key} kept losing races`);
      } catch (err) {
        throw toStoreError(err, `delete ${key}`);
      }
    },

    async close(): Promise<void> {
      await Promise.all([threads.close(), createThreads.close()]);
    },
  };
}
