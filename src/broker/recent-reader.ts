/**
 * Reads back the ids of a topic's recent window (core/recent.ts) from the archive objects that
 * queue.json names, before any op is applied to a loaded state this broker may lead: from memory
 * when it saw them land, else from the store, 16 at a time. The topic loop asks only when it may
 * lead (a standby's elect fails first, so it never reads them).
 *
 * A transient failure rejects (the loop fails the batch with UNAVAILABLE and reads again next
 * time): applying pushes without the window could add a job twice. An object that is gone or
 * unreadable for good costs only the dedup of its jobs, reported through `onError`.
 */
import { hydrate, isCurrent, recentPairs, unhydrated } from '../core/recent.js';
import type { QueueState } from '../core/state.js';
import type { JobRecord } from '../core/types.js';
import { QueueError } from '../errors.js';
import type { StorageDriver } from '../storage/types.js';
import type { Clock } from '../clock.js';
import { withRetry, type RetryPolicy } from './retry.js';

export interface RecentReaderOptions {
  store: StorageDriver;
  clock: Clock;
  retry: RetryPolicy;
  random: () => number;
  onError(key: string, error: unknown): void;
}

const PARALLEL_READS = 16;

export class RecentReader {
  /** Pairs by archive key, as this broker saw them land or read them. */
  private cache = new Map<string, string[]>();

  constructor(private readonly o: RecentReaderOptions) {}

  /** Whether `s` has groups inside the window whose ids are not in memory (asked before every batch). */
  needed(s: QueueState, now: number): boolean {
    return s.recent.groups.some((g) => g.jobs === undefined && isCurrent(s.recent, g, now));
  }

  async hydrate(s: QueueState, now: number): Promise<void> {
    const named = new Set(s.recent.groups.map((g) => g.key));
    for (const key of this.cache.keys()) if (!named.has(key)) this.cache.delete(key);
    const toRead: string[] = [];
    for (const key of unhydrated(s.recent, now)) {
      const pairs = this.cache.get(key);
      if (pairs) hydrate(s.recent, key, pairs);
      else toRead.push(key);
    }
    const readOne = async (key: string): Promise<void> => {
      const obj = await withRetry(`read ${key}`, this.o.retry, this.o.clock, this.o.random, () => this.o.store.read(key));
      let pairs: string[] = [];
      try {
        if (!obj) throw new QueueError('NOT_FOUND', `archive object ${key} is missing`);
        pairs = recentPairs((JSON.parse(Buffer.from(obj.body).toString('utf8')) as { jobs: JobRecord[] }).jobs);
      } catch (error) {
        this.o.onError(key, error);
      }
      this.cache.set(key, pairs);
      hydrate(s.recent, key, pairs);
    };
    for (let i = 0; i < toRead.length; i += PARALLEL_READS) await Promise.all(toRead.slice(i, i + PARALLEL_READS).map(readOne));
  }

  /** Remembers a landed state's hydrated groups, so a reload after a conflict reads none again. */
  remember(s: QueueState): void {
    // After every commit. Groups are appended (an archive written) and hydrated ones are cached
    // already: only the newest few can be missing, so look from the end until one is there.
    const groups = s.recent.groups;
    for (let i = groups.length - 1; i >= 0; i--) {
      const g = groups[i]!;
      if (g.jobs === undefined) continue;
      if (this.cache.get(g.key) === g.jobs) break;
      this.cache.set(g.key, g.jobs);
    }
    if (this.cache.size > 2 * s.recent.groups.length + 64) {
      const live = new Set(s.recent.groups.map((g) => g.key));
      for (const key of this.cache.keys()) if (!live.has(key)) this.cache.delete(key);
    }
  }
}
