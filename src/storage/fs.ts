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
 * Write ifMatch `<G>.<n>`: readdir pre-check (current must be n); write the body to a staging file
 * and fdatasync it; link it to `<G>-<n+1>` (EEXIST: lost the race → STORE_CONFLICT); then, in
 * parallel, fsync the key directory, unlink the staging file and readdir again to verify.
 *
 * Verify and garbage collection (the subtle part). A writer keeps the newest KEEP versions and
 * unlinks older ones, so the name `<G>-<m>` is freed only after a version >= m+KEEP existed. A
 * writer frozen between its pre-check and its link can therefore link into a freed slot: its file
 * is a "zombie", never the highest version, invisible to readers. The verify tells the cases apart:
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
 * process created it first → use theirs). Delete links a tombstone at n+1 the same way, then
 * replaces the kept old versions with symlinks, so a deleted key holds no data.
 *
 * Errors: before the link nothing happened → STORE_UNAVAILABLE; after it → STORE_AMBIGUOUS.
 * Cost of a commit: one fdatasync of the new file and one fsync of the key directory, through a
 * directory handle cached per store (up to 32); close() releases them.
 * Requires a local POSIX filesystem with atomic link/rename (ext4, xfs, btrfs, apfs, tmpfs);
 * network filesystems (NFS, SMB) are not supported. The root must be one filesystem (link() cannot
 * cross mounts).
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
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
  scan,
  TMP_DIR,
  TOMBSTONE_TARGET,
  versionName,
  writeDurable,
  type Scan,
} from './fs-layout.js';
import { asBytes, assertValidKey, assertValidPrefix } from './keys.js';
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
const DIR_HANDLES = 32;

type Outcome = 'landed' | 'taken' | 'foreign' | 'unsure';
interface CachedDir {
  handle: Promise<FileHandle>;
  /** Calls currently using the handle. */
  users: number;
}
const closeDirHandle = (entry: CachedDir): void => void entry.handle.then((h) => h.close()).catch(noop);

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
  /** Open handles of recently written key directories: a commit's directory fsync skips open/close. */
  const dirHandles = new Map<string, CachedDir>();

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

  /** Writes `bytes` durably to a new staging file and returns its path. */
  async function stageFile(bytes: Uint8Array): Promise<string> {
    await ensureTmp();
    const file = stagingPath();
    try {
      await writeDurable(file, bytes);
    } catch (err) {
      if (errCode(err) !== 'ENOENT') throw err;
      knownDirs.delete(tmpRoot); // someone removed .tmp~: make it again, once
      tmpReady = null;
      await ensureTmp();
      await writeDurable(file, bytes);
    }
    return file;
  }

  /**
   * fsync of a key directory through a cached handle: a hot key is fsynced on every commit, and
   * open+close would double the cost. Keyed by generation, so a re-created directory gets a fresh
   * handle; an entry is closed only when no call is using it.
   */
  async function syncKeyDir(dir: string, gen: string): Promise<void> {
    const id = `${gen}:${dir}`;
    let entry = dirHandles.get(id);
    if (entry) dirHandles.delete(id); // re-inserted last: the Map's order is the LRU order
    entry ??= { handle: fsp.open(dir, 'r'), users: 0 };
    dirHandles.set(id, entry);
    entry.users += 1;
    try {
      await (await entry.handle).sync();
    } catch (err) {
      if (dirHandles.get(id) === entry) dirHandles.delete(id);
      throw err;
    } finally {
      entry.users -= 1;
      if (entry.users === 0 && dirHandles.get(id) !== entry) closeDirHandle(entry);
      for (const [oldId, old] of dirHandles) {
        if (dirHandles.size <= DIR_HANDLES) break;
        if (old.users === 0) {
          dirHandles.delete(oldId);
          closeDirHandle(old);
        }
      }
    }
  }

  /**
   * Links version base+1 (the staged file, which it then removes, or a tombstone when null) and
   * verifies; see the header.
   */
  async function place(dir: string, gen: string, base: number, staged: string | null): Promise<{ outcome: Outcome; after: Scan | null }> {
    const target = path.join(dir, versionName(gen, base + 1));
    try {
      await options.testHooks?.beforeLink?.();
      if (staged) await fsp.link(staged, target);
      else await fsp.symlink(TOMBSTONE_TARGET, target);
    } catch (err) {
      if (staged) await fsp.unlink(staged).catch(noop);
      if (errCode(err) === 'EEXIST') return { outcome: 'taken', after: null };
      if (errCode(err) === 'ENOENT' && (await scan(dir)) === null) return { outcome: 'taken', after: null };
      throw err;
    }
    const landed = (s: Scan | null): boolean => s !== null && s.gen === gen && s.max >= base + 1 && s.max < base + 1 + KEEP_VERSIONS;
    let after: Scan | null;
    try {
      await options.testHooks?.afterLink?.();
      // Verify, make the link durable, drop the staging name and collect garbage, all at once.
      const verified = scan(dir).then(async (s) => (landed(s) && (await collectGarbage(dir, s!)), s));
      [after] = await Promise.all([verified, syncKeyDir(dir, gen), staged ? fsp.unlink(staged).catch(noop) : undefined]);
    } catch (err) {
      throw new QueueError('STORE_AMBIGUOUS', `File store: a version of ${dir} was linked, then ${errCode(err) ?? String(err)}`, { cause: err });
    }
    if (after && landed(after)) return { outcome: 'landed', after };
    await fsp.unlink(target).catch(noop); // invisible (zombie) or long superseded: never needed again
    return { outcome: after && after.gen !== gen ? 'foreign' : 'unsure', after };
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

  /** Builds the key directory with version 1 in staging and renames it in; null if another process won. */
  async function createKeyDir(dir: string, bytes: Uint8Array): Promise<string | null> {
    const parent = path.dirname(dir);
    await Promise.all([ensureDir(parent), ensureTmp()]);
    const gen = randomBytes(8).toString('hex');
    const staging = stagingPath('.new');
    try {
      await fsp.mkdir(staging);
      await fsp.writeFile(path.join(staging, MARKER + gen), '');
      await writeDurable(path.join(staging, versionName(gen, 1)), bytes);
      await fsyncDir(staging);
      await fsp.rename(staging, dir);
    } catch (err) {
      await fsp.rm(staging, { recursive: true, force: true }).catch(noop);
      const code = errCode(err);
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return null;
      if (code === 'ENOENT') {
        knownDirs.delete(parent); // parent or .tmp~ removed underneath us: the caller retries
        knownDirs.delete(tmpRoot);
        tmpReady = null;
        return null;
      }
      throw err;
    }
    try {
      await fsyncDir(parent);
    } catch (err) {
      throw new QueueError('STORE_AMBIGUOUS', `File store: ${dir} was created, then ${errCode(err) ?? String(err)}`, { cause: err });
    }
    return gen;
  }

  async function writeIfMatch(key: string, dir: string, bytes: Uint8Array, etag: string): Promise<{ etag: string }> {
    const want = parseEtag(etag);
    if (!want) throw conflict(key, `etag ${JSON.stringify(etag)} was not issued by this store`);
    // The pre-check runs while the body is being made durable; it turns a writer that held its etag
    // too long into a certain STORE_CONFLICT instead of a zombie.
    const [checked, staging] = await Promise.allSettled([scan(dir), stageFile(bytes)]);
    if (staging.status === 'rejected') throw staging.reason;
    const staged = staging.value;
    const s = checked.status === 'fulfilled' ? checked.value : null;
    const stale = !s ? 'the key does not exist' : s.gen !== want.gen || s.max !== want.n || !s.live ? 'the etag no longer matches' : '';
    if (checked.status === 'rejected' || stale) {
      await fsp.unlink(staged).catch(noop);
      throw checked.status === 'rejected' ? checked.reason : conflict(key, stale);
    }
    const { outcome } = await place(dir, want.gen, want.n, staged);
    if (outcome === 'landed') return { etag: `${want.gen}.${want.n + 1}` };
    if (outcome === 'unsure') throw new QueueError('STORE_AMBIGUOUS', `Write to ${key} may or may not have landed (writer paused during commit)`);
    throw conflict(key, 'another write landed first');
  }

  /** Create-if-absent (createOnly) or unconditional write, retrying until it lands or conflicts. */
  async function writeLoop(key: string, dir: string, bytes: Uint8Array, createOnly: boolean): Promise<{ etag: string }> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const s = await scan(dir);
      if (!s) {
        const gen = await createKeyDir(dir, bytes);
        if (gen) return { etag: `${gen}.1` };
        continue;
      }
      if (createOnly && s.live) throw conflict(key, 'the key already exists');
      const { outcome } = await place(dir, s.gen, s.max, await stageFile(bytes));
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
      const dir = keyDir(key);
      try {
        for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
          const s = await scan(dir);
          if (!s || !s.live) return null;
          try {
            const buf = await fsp.readFile(path.join(dir, versionName(s.gen, s.max)));
            return { body: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), etag: `${s.gen}.${s.max}` };
          } catch (err) {
            if (errCode(err) !== 'ENOENT') throw err; // superseded and collected meanwhile: look again
          }
        }
        throw new QueueError('STORE_UNAVAILABLE', `File store: ${key} kept changing while being read`);
      } catch (err) {
        throw toStoreError(err, `read ${key}`);
      }
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
          const { outcome, after } = await place(dir, s.gen, s.max, null);
          if (outcome === 'landed' && after) return await scrub(dir, after, s.max + 1);
        }
        throw new QueueError('STORE_UNAVAILABLE', `File store: delete of ${key} kept losing races`);
      } catch (err) {
        throw toStoreError(err, `delete ${key}`);
      }
    },

    async close(): Promise<void> {
      const entries = [...dirHandles.values()];
      dirHandles.clear();
      await Promise.all(entries.map((e) => e.handle.then((h) => h.close()).catch(noop)));
    },
  };
}
