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
import { jobJson } from '../core/job-json.js';
import type { QueueState } from '../core/state.js';
import type { JobRecord } from '../core/types.js';
import type { StorageDriver } from '../storage/types.js';
import type { Clock } from './clock.js';
import { deletePayload, inlinePayloads } from './payloads.js';
import { withRetry, type RetryPolicy } from './retry.js';
import type { TopicLoop } from './topic-loop.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface ArchiverOptions {
  store: StorageDriver;
  clock: Clock;
  retry: RetryPolicy;
  random: () => number;
  retentionMs: number;
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
    const groups = new Map<string, string[]>();
    for (const job of state.done) {
      const key = job.archive!;
      if (this.inflight.has(key)) continue;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      // Copy now: the cached JSON text is exactly the committed record.
      g.push(jobJson(job));
    }
    for (const [key, jsons] of groups) {
      this.inflight.add(key);
      const liveRefs = (ref: string) => [...state.jobs.values()].some((j) => j.payloadRef === ref);
      this.track(this.archiveOne(topic, key, jsons, loop, liveRefs).finally(() => this.inflight.delete(key)));
    }
  }

  private async archiveOne(topic: string, key: string, jsons: string[], loop: TopicLoop, referencedByLiveJob: (ref: string) => boolean): Promise<void> {
    // Records are the committed JSON texts; only those with an external payload are parsed, to inline it.
    const refs: string[] = [];
    try {
      await withRetry(`archive ${key}`, this.o.retry, this.o.clock, this.o.random, async () => {
        const texts = await Promise.all(
          jsons.map(async (text) => {
            if (!text.includes('"payloadRef":')) return text;
            const rec = JSON.parse(text) as JobRecord;
            if (rec.payloadRef === undefined) return text;
            refs.push(rec.payloadRef);
            return JSON.stringify((await inlinePayloads(this.o.store, topic, [rec]))[0]);
          }),
        );
        await this.o.store.write(key, `{"topic":${JSON.stringify(topic)},"jobs":[\n${texts.join(',\n')}\n]}`);
      });
    } catch (err) {
      // The jobs stay in queue.json's done list; the next commit schedules them again.
      this.o.onError(topic, `archive ${key}`, err);
      return;
    }
    await loop.submitInternal('archived', { keys: [key] });
    for (const ref of refs) {
      // A retried dead job may still point at the payload object.
      if (referencedByLiveJob(ref)) continue;
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
