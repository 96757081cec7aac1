/**
 * A job's recent history for the dashboard's job view: `history: [{at, event, worker?, error?}]`
 * on GET /v1/topics/:topic/jobs/:id, newest last.
 *
 * Kept in this broker's memory only, from the event feed (http/events/event-feed.ts), never in queue.json
 * (queue.json stays small, counters replace history: docs/architecture.md, "How it works"). So it holds
 * what this broker saw while the feed was recording, which is whenever someone watches (the
 * dashboard keeps /v1/events open) and a minute after: the dashboard's operator sees the story
 * of the jobs that moved while they looked. It costs nothing while nobody watches, and is bounded: the last
 * {@link MAX_ENTRIES} entries of each of the {@link MAX_JOBS} jobs that moved last. Heartbeats
 * are not events, so they are not in it (a worker's last heartbeat is on GET .../workers).
 */
import type { JobEvent } from '../../../event-types.js';

export type HistoryEvent = 'pushed' | 'claimed' | 'acked' | 'nacked' | 'expired' | 'dead' | 'retried' | 'cancelled' | 'released';

export interface HistoryEntry {
  at: number;
  event: HistoryEvent;
  worker?: string;
  error?: string;
}

export const MAX_JOBS = 10_000;
export const MAX_ENTRIES = 20;

/** The error text the feed gives an expired lease (http/events/event-feed.ts). */
const LEASE_EXPIRED = 'lease expired';

export class JobHistory {
  /** `topic \0 id` → entries; Map order is least recently moved first. */
  private readonly byJob = new Map<string, HistoryEntry[]>();

  get size(): number {
    return this.byJob.size;
  }

  /** Takes any feed event; only job events are kept. */
  record(e: { kind: string; topic: string; time: number }): void {
    if (!('job' in e)) return;
    const ev = e as JobEvent;
    const entry: HistoryEntry = { at: ev.time, event: ev.kind };
    if ('worker' in ev) entry.worker = ev.worker;
    if ((ev.kind === 'nacked' || ev.kind === 'dead') && ev.error !== undefined) {
      entry.error = ev.error;
      if (ev.kind === 'nacked' && ev.error === LEASE_EXPIRED) entry.event = 'expired';
    }
    const key = `${ev.topic}\0${ev.job}`;
    const list = this.byJob.get(key) ?? [];
    this.byJob.delete(key); // re-inserted last: the most recently moved job
    list.push(entry);
    if (list.length > MAX_ENTRIES) list.splice(0, list.length - MAX_ENTRIES);
    this.byJob.set(key, list);
    if (this.byJob.size > MAX_JOBS) this.byJob.delete(this.byJob.keys().next().value!);
  }

  /** A copy of a job's entries, oldest first; undefined when this broker saw none. */
  of(topic: string, id: string): HistoryEntry[] | undefined {
    const list = this.byJob.get(`${topic}\0${id}`);
    return list ? list.map((e) => ({ ...e })) : undefined;
  }
}
