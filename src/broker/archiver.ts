/**
 * Archiving and retention for one broker.
 *
 * Finished jobs (completed, dead, cancelled) join the topic's open archive window (`archiveOpen`
 * in queue.json; each names its archive key when it finishes). `archiveWindowMs` after the window
 * opened, or once its records reach ARCHIVE_SEAL_BYTES, the archiver seals it with a `sealArchive`
 * op (which joins whatever batch comes next, or is a commit of its own on an idle topic). Once a
 * commit shows the window sealed, no job can join it any more, and the archiver writes its jobs
 * to the archive object (written once, never read-modify-write), with large payloads inlined,
 * deletes those payload objects, and submits an `archived` op so they leave queue.json in a later
 * batch. A crash in between only means the same object is written again by the next leader. One
 * object per window instead of one per commit: a busy topic commits a hundred times a second, and
 * each object costs a write (a PUT on S3).
 * Meanwhile the jobs wait in `done`, where get, retry and replayed acks find them.
 *
 * Retention: archive objects live in hour buckets; once an hour (and when leadership starts) the
 * janitor deletes buckets older than the retention period and drops dead-letter index entries
 * whose archive is gone (counted in `deadExpired`).
 */
import { archiveBucketTime, archivePrefix } from '../core/keys.js';
import { jobBytes } from '../core/job-json.js';
import type { RecentBounds } from '../core/recent.js';
import { openWindowFull, openWindowKey, type QueueState } from '../core/state.js';
import type { JobRecord } from '../core/types.js';
import type { StorageDriver } from '../storage/types.js';
import type { Clock } from '../clock.js';
import { deletePayload, inlinePayloads } from './payloads.js';
import { withRetry, type RetryPolicy } from './retry.js';
import type { TopicLoop } from './topic-loop.js';

const HOUR = 3_600_000;
const COMMA_NL = Buffer.from(',\n');
const DAY = 24 * HOUR;

/**
 * An open window whose records reach this many bytes is sealed at once rather than after
 * archiveWindowMs. Until their archive object is written, finished jobs are rewritten by every
 * commit (they wait in queue.json's `done`): with 10 KiB payloads, 200 ms of them made a 1.2 MiB
 * head, where 256 small jobs (the job bound of a window) make about 85 KiB.
 */
export const ARCHIVE_SEAL_BYTES = 128 * 1024;

export interface ArchiverOptions {
  store: StorageDriver;
  clock: Clock;
  retry: RetryPolicy;
  random: () => number;
  retentionMs: number;
  /** How long an archive window stays open (0: sealed at the first commit after it opened). */
  archiveWindowMs: number;
  /** Bounds of the recent-id window, passed to every `archived` op. */
  recent: RecentBounds;
  onError(topic: string, what: string, err: unknown): void;
}

export class Archiver {
  private inflight = new Set<string>();
  private running = new Set<Promise<void>>();
  /** Per topic: the first day the next janitor run lists. */
  private janitorFrom = new Map<string, number>();
  /** Per topic: the planned or submitted seal of its open window (`immediate`: due now, or submitted). */
  private seals = new Map<string, { key: string; immediate: boolean; cancel(): void }>();

  constructor(private readonly o: ArchiverOptions) {}

  /** Called after each landed commit: archive whatever finished jobs are not being archived yet. */
  schedule(topic: string, state: QueueState, loop: TopicLoop): void {
    // A full window takes no more jobs (core: openArchiveKey) and is written now; others are sealed
    // by time, or at once when their records reach ARCHIVE_SEAL_BYTES.
    const open = openWindowFull(state) ? null : openWindowKey(state);
    const groups = new Map<string, Array<{ bytes: Buffer; hasRef: boolean }>>();
    let openBytes = 0;
    for (const job of state.done) {
      const key = job.archive!;
      if (key === open) openBytes += jobBytes(job).length;
      if (key === open || this.inflight.has(key)) continue;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      // The cached bytes are exactly the committed record, and are never mutated (only replaced).
      g.push({ bytes: jobBytes(job), hasRef: job.payloadRef !== undefined });
    }
    this.scheduleSeal(topic, open, openBytes >= ARCHIVE_SEAL_BYTES ? -Infinity : (state.archiveOpen?.start ?? 0), loop);
    for (const [key, records] of groups) {
      this.inflight.add(key);
      this.track(this.archiveOne(topic, key, records, loop).finally(() => this.inflight.delete(key)));
    }
  }

  private async archiveOne(topic: string, key: string, records: Array<{ bytes: Buffer; hasRef: boolean }>, loop: TopicLoop): Promise<void> {
    // Only records with an external payload are parsed, to inline it; the rest are copied as bytes.
    const refs = new Map<string, string>(); // payload ref → the id of the job it belonged to
    try {
      await withRetry(`archive ${key}`, this.o.retry, this.o.clock, this.o.random, async () => {
        const parts = await Promise.all(
          records.map(async ({ bytes, hasRef }) => {
            if (!hasRef) return bytes;
            const rec = JSON.parse(bytes.toString('utf8')) as JobRecord;
            refs.set(rec.payloadRef!, rec.id);
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
    // Deferrable: on a busy topic it rides along with the next batch instead of costing a commit.
    await loop.submitInternal('archived', { keys: [key], recent: this.o.recent }, true);
    for (const [ref, id] of refs) {
      // A retried dead job may point at the payload object again (in the head, or in a segment).
      if (loop.referencesPayload(ref, id)) continue;
      await deletePayload(this.o.store, topic, ref).catch((err: unknown) => this.o.onError(topic, `delete payload ${ref}`, err));
    }
  }

  /** Seals the open window `key` once it is archiveWindowMs old (at once if it is already). */
  private scheduleSeal(topic: string, key: string | null, start: number, loop: TopicLoop): void {
    const pending = this.seals.get(topic);
    const wait = start + this.o.archiveWindowMs - this.o.clock.now();
    // The same window's seal is already planned, and no sooner is asked (a window that grew past
    // ARCHIVE_SEAL_BYTES while its timer ran is sealed now).
    if (pending?.key === key && (pending.immediate || wait > 0)) return;
    pending?.cancel();
    this.seals.delete(topic);
    if (key === null) return;
    let cancelled = false;
    const entry = { key, immediate: wait <= 0, cancel: () => void (cancelled = true) };
    const seal = () => {
      if (cancelled) return;
      // Submitted: the commits that land before it do not submit it again. The entry goes when
      // the open window changes, or here if the op failed, so that a later commit plans it anew.
      entry.immediate = true;
      void loop.submitInternal('sealArchive', { key }).then((out) => {
        if (out === undefined && this.seals.get(topic) === entry) this.seals.delete(topic);
      });
    };
    this.seals.set(topic, entry);
    if (wait <= 0) return queueMicrotask(seal);
    const cancelTimer = this.o.clock.setTimer(wait, seal);
    entry.cancel = () => {
      cancelled = true;
      cancelTimer();
    };
  }

  /** Seals every open window now (flush, drain): its jobs are archived after the next commit. */
  sealNow(topic: string, state: QueueState | null, loop: TopicLoop): Promise<unknown> {
    if (!state?.archiveOpen) return Promise.resolve();
    this.seals.get(topic)?.cancel();
    this.seals.delete(topic);
    return loop.submitInternal('sealArchive', { key: openWindowKey(state)! });
  }

  /** Cancels the pending seals (the broker stops; the next leader seals what is open). */
  stop(): void {
    for (const s of this.seals.values()) s.cancel();
    this.seals.clear();
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
