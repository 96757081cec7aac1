/**
 * The keyed pages of `listJobs` (browse-ops.ts): sort keys, the opaque cursor handed out with a
 * page, and the buffer that keeps only one page while every candidate job is offered to it.
 *
 * A cursor is the sort key of the last job a page covered, so a job pushed or claimed between two
 * pages neither repeats nor shifts the rest by one. A page of delayed jobs that reads segments may
 * add hints: per delayed segment, a key below which it holds nothing after the cursor (segment-pages.ts).
 */
import { QueueError } from '../../errors.js';

export type SortKey = [number, number | string];
/** Delayed segment (its key without `segments/<topic>/` and `.seg`) → a lower bound of its keys after the cursor. */
export type PageHints = Record<string, [number, number]>;

export interface Cursor {
  key: SortKey;
  hints: PageHints;
}

/** Hints a cursor carries at most: it travels in a URL's query string. */
export const MAX_HINTS = 64;

export function compareKeys(a: SortKey, b: SortKey): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] === b[1]) return 0;
  return a[1] < b[1] ? -1 : 1;
}

export function encodeCursor(key: SortKey, hints: PageHints = {}): string {
  const body = Object.keys(hints).length > 0 ? [key[0], key[1], hints] : key;
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export function decodeCursor(cursor: string): Cursor {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    raw = undefined;
  }
  const bad = () => new QueueError('INVALID_ARGUMENT', `after is not a cursor this broker handed out: ${JSON.stringify(cursor.slice(0, 80))}`);
  if (!Array.isArray(raw) || (raw.length !== 2 && raw.length !== 3) || !isNum(raw[0]) || !(isNum(raw[1]) || typeof raw[1] === 'string')) throw bad();
  const hints: PageHints = {};
  if (raw.length === 3) {
    const h: unknown = raw[2];
    if (typeof h !== 'object' || h === null || Array.isArray(h) || Object.keys(h).length > MAX_HINTS) throw bad();
    for (const [k, v] of Object.entries(h)) {
      if (!Array.isArray(v) || v.length !== 2 || !isNum(v[0]) || !isNum(v[1])) throw bad();
      hints[k] = [v[0], v[1]];
    }
  }
  return { key: [raw[0], raw[1]], hints };
}

export interface PageEntry<T> {
  key: SortKey;
  job: () => T;
}

/**
 * The first `limit` entries after the cursor, in key order, out of everything offered: a sorted
 * buffer of at most `limit`, so a page costs O(offers) and not a sort of every job (it runs on
 * the commit loop's thread).
 */
export class PageBuffer<T> {
  readonly page: Array<PageEntry<T>> = [];
  /** Offers after the cursor that did not fit the page. */
  beyond = 0;

  constructor(
    private readonly after: SortKey | undefined,
    private readonly limit: number,
  ) {}

  offer(key: SortKey, job: () => T): void {
    if (this.after !== undefined && compareKeys(key, this.after) <= 0) return;
    const page = this.page;
    if (page.length === this.limit && compareKeys(key, page[this.limit - 1]!.key) >= 0) {
      this.beyond++;
      return;
    }
    let lo = 0;
    let hi = page.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareKeys(page[mid]!.key, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    page.splice(lo, 0, { key, job });
    if (page.length > this.limit) {
      page.pop();
      this.beyond++;
    }
  }

  get full(): boolean {
    return this.page.length === this.limit;
  }

  /** Drops the entries at or past `bound`; true when one was dropped. */
  cutAt(bound: SortKey): boolean {
    let cut = false;
    while (this.page.length > 0 && compareKeys(this.page[this.page.length - 1]!.key, bound) >= 0) {
      this.page.pop();
      cut = true;
    }
    return cut;
  }
}
