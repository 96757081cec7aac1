/**
 * Archiving and retention for one broker.
 *
 * Finished jobs (completed, dead, cancelled) stay in queue.json's `done` list for one commit. After
 * that commit lands, the archiver writes them to the archive object named by their `archive` key
 * (one object per commit, written once, never read-modify-write), with large payloads inlined,
 * deletes those payload objects, and then submits an `archived` op so they leave queue.json in a
 * later batch. A crash in between only means the same object is written again on restart.
 *
 * Retention: archive objects live in hour buckets; once an hour (and when leadership starts) the
 * janitor deletes buckets older than the retention period and drops dead-letter index entries
 * whose archive is gone (counted in `deadExpired`).
 */
import { archiveBucketTime, archivePrefix } from '../core/keys.js';
import { jobBytes } from '../core/job-json.js';
import type { RecentBounds } from '../core/recent.js';
import type { QueueState } from '../core/state.js';
import type { JobRecord } from '../core/types.js';
import type { StorageDriver } from '../storage/types.js';
import type { Clock } from './clock.js';
import { deletePayload, inlinePayloads } from './payloads.js';
import { withRetry, type RetryPolicy } from './retry.js';
import type { TopicLoop } from './topic-loop.js';

const HOUR = 3_600_000;
const COMMA_NL = Buffer.from(',\n');
const DAY = 24 * HOUR;

export interface ArchiverOptions {
  store: StorageDriver;
  clock: Clock;
  retry: RetryPolicy;
  random: () => number;
  retentionMs: number;
  /** Bounds of the recent-id window, passed to every `archived` op. */
  recent: RecentBounds;
  onError(topic: string, what: string, err: unknown): void;
}

export class Archiver {
  private inflight = new Set<string>();
  private running = new Set<Promise<void>>();
  /** Per topic: the first day the next janitor run lists. */
  private janitorFrom = new Map<string, number>();

  constructor(private readonly o: ArchiverOptions) {}

  /** Called after each landed commit: archive whatever finished jobs are not being archived yet. */
  schedule(topic: string, state: QueueState, loop: TopicLoop): void {
    if (state.done.length === 0) return;
    const groups = new Map<string, Array<{ bytes: Buffer; hasRef: boolean }>>();
    for (const job of state.done) {
      const key = job.archive!;
      if (this.inflight.has(key)) continue;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      // The cached bytes are exactly the committed record, and are never mutated (only replaced).
      g.push({ bytes: jobBytes(job), hasRef: job.payloadRef !== undefined });
    }
    for (const [key, records] of groups) {
      this.inflight.add(key);
      this.track(this.archiveOne(topic, key, records, loop).finally(() => this.inflight.delete(key)));
    }
  }

  private async archiveOne(topic: string, key: string, records: Array<{ bytes: Buffer; hasRef: boolean }>, loop: TopicLoop): Promise<void> {
    // Only records with an external payload are parsed, to inline it; the rest are copied as bytes.
    const refs = new Set<string>();
    try {
      await withRetry(`archive ${key}`, this.o.retry, this.o.clock, this.o.random, async () => {
        const parts = await Promise.all(
          records.map(async ({ bytes, hasRef }) => {
            if (!hasRef) return bytes;
            const rec = JSON.parse(bytes.toString('utf8')) as JobRecord;
            refs.add(rec.payloadRef!);
            return Buffer.from(JSON.stringify((await inlinePayloads(this.o.store, topic, [rec]))[0]));
          }),
        );
        const body: Buffer[] = [Buffer.from(`{"topic":${JSON.stringify(topic)},"jobs":[\n`)];
        parts.forEach((p, i) => body.push(...(i > 0 ? [COMMA_NL, p] : [p])));
        body.push(Buffer.from('\n]}'));
        await this.o.store.write(key, Buffer.concat(body));
      });
    } catch (err) {
      // The jobs stay in queue.json's done list; the next commit schedules them again.
      this.o.onError(topic, `archive ${key}`, err);
      return;
    }
    await loop.submitInternal('archived', { keys: [key], recent: this.o.recent });
    for (const ref of refs) {
      // A retried dead job may point at the payload object again.
      if (loop.referencesPayload(ref)) continue;
      await deletePayload(this.o.store, topic, ref).catch((err: unknown) => this.o.onError(topic, `delete payload ${ref}`, err));
    }
  }

  /** Deletes archive hour buckets older than retention and expires matching dead-letter entries. */
  async janitor(topic: string, loop: TopicLoop): Promise<{ deleted: number }> {
    const now = this.o.clock.now();
    const cutoff = now - this.o.retentionMs;
    // Listed a day at a time (archive keys start with the ISO hour, so a day is a prefix). The
    // first run looks back 30 days past the cutoff; later runs resume at the cutoff's day.
    let day = this.janitorFrom.get(topic) ?? Math.floor(cutoff / DAY) * DAY - 30 * DAY;
    let deleted = 0;
    for (; day <= cutoff; day += DAY) {
      for (const key of await this.o.store.list(archiveDayPrefix(topic, day))) {
        const t = archiveBucketTime(key);
        if (t !== undefined && t + HOUR <= cutoff) {
          await this.o.store.delete(key);
          deleted++;
        }
      }
    }
    this.janitorFrom.set(topic, Math.floor(cutoff / DAY) * DAY);
    await loop.submitInternal('expireDead', { before: cutoff });
    return { deleted };
  }

  track(p: Promise<void>): void {
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  /** Waits for every archive write started so far. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}

function archiveDayPrefix(topic: string, day: number): string {
  return `${archivePrefix(topic)}${new Date(day).toISOString().slice(0, 10)}`;
}
