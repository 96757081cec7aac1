/**
 * The jobs a topic completed lately, with their results (`GET /v1/topics/:topic/completed`), for
 * the dashboard's "recently completed" list.
 *
 * Kept in this broker's memory only, from the event feed's acks (http/events/event-feed.ts hands
 * over each ack's result beside its `acked` event), like the job history (job-history.ts): so it
 * holds what this broker committed while the feed was recording, i.e. while someone watched
 * /v1/events (the dashboard does) and a minute after. Bounded: the last {@link PER_TOPIC} of
 * each of the {@link MAX_TOPICS} topics that completed a job last, and a result is kept only up
 * to {@link MAX_RESULT_CHARS} characters of JSON (a larger one is marked with its size; the job's
 * own record, GET .../jobs/:id, has all of it while the broker can still find the job).
 */
import type { JobEvent } from '../../../event-types.js';

export const PER_TOPIC = 50;
export const MAX_TOPICS = 1000;
export const MAX_RESULT_CHARS = 2048;

export interface Completion {
  id: string;
  /** When the ack's commit landed (broker clock, epoch ms). */
  at: number;
  worker: string;
  /** The ack's result (absent when it gave none, or when it was too large to keep). */
  result?: unknown;
  /** Set instead of `result` for a result larger than {@link MAX_RESULT_CHARS} characters of JSON. */
  resultChars?: number;
}

export class RecentCompletions {
  /** topic → its completions, oldest first; Map order is least recently completed topic first. */
  private readonly byTopic = new Map<string, Completion[]>();

  /** Takes any feed event; only `acked` ones are kept, with the ack's result when there is one. */
  record(e: { kind: string; topic: string; time: number }, detail?: { result?: unknown }): void {
    if (e.kind !== 'acked') return;
    const ev = e as Extract<JobEvent, { kind: 'acked' }>;
    const entry: Completion = { id: ev.job, at: ev.time, worker: ev.worker };
    if (detail?.result !== undefined) {
      const json = JSON.stringify(detail.result);
      if (json.length <= MAX_RESULT_CHARS) entry.result = JSON.parse(json) as unknown;
      else entry.resultChars = json.length;
    }
    const list = this.byTopic.get(ev.topic) ?? [];
    this.byTopic.delete(ev.topic); // re-inserted last: the topic that completed a job most recently
    list.push(entry);
    if (list.length > PER_TOPIC) list.splice(0, list.length - PER_TOPIC);
    this.byTopic.set(ev.topic, list);
    if (this.byTopic.size > MAX_TOPICS) this.byTopic.delete(this.byTopic.keys().next().value!);
  }

  /** The last `limit` completions of `topic`, newest first. */
  of(topic: string, limit = PER_TOPIC): Completion[] {
    const list = this.byTopic.get(topic) ?? [];
    return list.slice(-limit).reverse();
  }
}
