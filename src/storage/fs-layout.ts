/**
 * The on-disk vocabulary of the file store (see fs.ts for the design): names, the etag format,
 * and `scan`, which reads one key directory into its generation and versions.
 */
import fs, { promises as fsp } from 'node:fs';
import { promisify } from 'node:util';
import { QueueError } from '../errors.js';

/** Versions kept per key, the current one included; also the zombie-detection window (see fs.ts). */
export const KEEP_VERSIONS = 8;
export const TMP_DIR = '.tmp~';
export const KEY_SUFFIX = '.v';
export const MARKER = 'gen-';
export const TOMBSTONE_TARGET = 'deleted';

export interface Version {
  n: number;
  name: string;
  data: boolean;
}
export interface Scan {
  gen: string;
  /** This generation's versions, ascending. */
  versions: Version[];
  /** Anything else: leftovers of an older generation. */
  foreign: string[];
  /** Highest version number, 0 when there is none. */
  max: number;
  /** Whether the highest version holds data (not a tombstone). */
  live: boolean;
}

/** `gen` in marker names is 16 hex digits; `n` in version names is zero-padded to 20 digits. */
export const noop = (): void => {};
export const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | null)?.code;
export const versionName = (gen: string, n: number): string => `${gen}-${String(n).padStart(20, '0')}`;
export const dirSegment = (s: string): string => (s.endsWith(KEY_SUFFIX) ? `${s}~` : s);
export const keySegment = (name: string): string => (name.endsWith('~') ? name.slice(0, -1) : name);

export function parseEtag(etag: string): { gen: string; n: number } | null {
  const m = /^([0-9a-f]{16})\.([1-9][0-9]{0,14})$/.exec(typeof etag === 'string' ? etag : '');
  return m ? { gen: m[1]!, n: Number(m[2]) } : null;
}

/** Reads a key directory: its generation and versions, or null when it does not exist. */
export async function scan(dir: string): Promise<Scan | null> {
  try {
    const entries = await fsp.readdir(dir, { withFileTypes: true });
    return parseScan(
      dir,
      entries.map((e) => e.name),
      entries.map((e) => e.isFile()),
    );
  } catch (err) {
    if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') return null;
    throw err;
  }
}

/**
 * A key directory from its entries' names, and whether each is a regular file. Without `isFile`
 * (the commit's verify reads names only) every version counts as data: `data` and `live` unknown.
 */
export function parseScan(dir: string, names: readonly string[], isFile?: readonly boolean[]): Scan | null {
  let marker = -1;
  let markers = 0;
  for (let i = 0; i < names.length; i++) {
    if (names[i]!.startsWith(MARKER)) {
      marker = i;
      markers++;
    }
  }
  if (markers === 0 && names.length === 0) return null;
  if (markers !== 1) throw new QueueError('CORRUPT_STATE', `${dir} holds ${markers} generation markers instead of one`);
  const gen = names[marker]!.slice(MARKER.length);
  const versions: Version[] = [];
  const foreign: string[] = [];
  for (let i = 0; i < names.length; i++) {
    if (i === marker) continue;
    const name = names[i]!;
    const mine = name.length === gen.length + 21 && name.startsWith(`${gen}-`);
    const n = mine ? Number(name.slice(gen.length + 1)) : NaN;
    if (Number.isSafeInteger(n) && n > 0) versions.push({ n, name, data: isFile?.[i] ?? true });
    else foreign.push(name);
  }
  versions.sort((a, b) => a.n - b.n);
  const top = versions.at(-1);
  return { gen, versions, foreign, max: top?.n ?? 0, live: top?.data ?? false };
}

// The callback API with a plain fd: fs.promises' FileHandle costs several times the main-thread CPU.
const openFd = promisify(fs.open);
const fsyncFd = promisify(fs.fsync);
const closeFd = promisify(fs.close);

export async function fsyncDir(dir: string): Promise<void> {
  const fd = await openFd(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    await closeFd(fd);
  }
}
