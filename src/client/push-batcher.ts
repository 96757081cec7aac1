/**
 * Coalesced pushes: the `push()` calls of one client made in the same turn of the event loop, or
 * while the client's push requests are in flight, leave as one HTTP request. Sixteen producers
 * sharing a client then cost the broker one request (and one body to read and parse) per round
 * instead of sixteen; a lone push goes out as it always did.
 *
 *   when      No timer. A push queues its job and, unless a flush is already due, asks for one at
 *             the end of the current turn (setImmediate: the handlers of a response resolve over
 *             several microtask rounds, and their next pushes should share the request). At most
 *             {@link MAX_IN_FLIGHT} requests are out at once; pushes made meanwhile wait and go
 *             together the moment one returns. A sparse push waits for nothing.
 *   what      One job alone: the classic request `{"jobs":[job]}`, whose error is the call's. Two or
 *             more: `{"jobs":[...],"atomic":false}`, answered job by job, so a job the broker
 *             refuses (a payload over its limit) fails only its own call. The client has already
 *             refused what it can check itself (client.ts), so a bad job never joins a batch.
 *   how big   At most {@link MAX_JOBS} jobs and {@link MAX_BYTES} of JSON per request, well under
 *             the broker's defaults (10,000 jobs, 16 MiB). A broker configured lower answers 413
 *             PAYLOAD_TOO_LARGE for the request: it is halved until it fits, or until the one job
 *             left is refused on its own.
 *   retries   Each request is retried by the connection like any push (every job carries an id,
 *             so a replay finds the jobs that landed). A broker too old for `atomic` answers 400:
 *             its jobs are then sent one request each.
 */
import { QueueError, toQueueError, type ErrorCode } from '../errors.js';
import type { PushResult } from '../api.js';

/** Jobs in one coalesced request. */
export const MAX_JOBS = 1000;
/** Characters of job JSON in one coalesced request (a job larger than this goes alone); at most 3 MiB of UTF-8. */
export const MAX_BYTES = 1024 * 1024;
/**
 * Push requests of one client out at once. The broker commits one batch per topic at a time: a
 * second request lets the next jobs travel and be parsed while the first ones are committed;
 * more would only split the same jobs into more requests, each with its own cost.
 */
export const MAX_IN_FLIGHT = 2;

export interface QueuedPush {
  /** The job as JSON text (an object with its id and payload). */
  json: string;
  /** Its id was made by the client: `created: false` can then only mean an earlier try of this very push landed. */
  made: boolean;
  resolve(result: PushResult): void;
  reject(error: QueueError): void;
}

/** One job's answer in a per-item push. */
type WireItem = { ok: true; id: string; created: boolean } | { ok: false; error?: { code: string; message: string; [detail: string]: unknown } };

export interface PushBatcherOptions {
  /** POSTs this request body (JSON text) to the topic's jobs route; resolves with the parsed answer. */
  post(body: string): Promise<unknown>;
  maxJobs?: number;
  maxBytes?: number;
  maxInFlight?: number;
}

export class PushBatcher {
  private queued: QueuedPush[] = [];
  private queuedBytes = 0;
  private scheduled = false;
  private inFlight = 0;
  private readonly delivering = new Set<Promise<void>>();
  private readonly maxJobs: number;
  private readonly maxBytes: number;
  private readonly maxInFlight: number;

  constructor(private readonly o: PushBatcherOptions) {
    this.maxJobs = o.maxJobs ?? MAX_JOBS;
    this.maxBytes = o.maxBytes ?? MAX_BYTES;
    this.maxInFlight = o.maxInFlight ?? MAX_IN_FLIGHT;
  }

  push(job: Omit<QueuedPush, 'resolve' | 'reject'>): Promise<PushResult> {
    return new Promise((resolve, reject) => {
      this.queued.push({ json: job.json, made: job.made, resolve, reject });
      this.queuedBytes += job.json.length;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.queued.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.send(false);
    });
  }

  private send(all: boolean): void {
    while (this.queued.length > 0 && (all || this.inFlight < this.maxInFlight)) {
      const batch = this.take();
      this.inFlight++;
      const done = this.deliver(batch).finally(() => {
        this.inFlight--;
        this.delivering.delete(done);
        this.schedule();
      });
      this.delivering.add(done);
    }
  }

  /** Sends everything queued now and resolves once every push has its answer (close). */
  async drain(): Promise<void> {
    this.send(true);
    while (this.delivering.size > 0) await Promise.all(this.delivering);
  }

  /** The oldest queued jobs that fit one request (at least one). */
  private take(): QueuedPush[] {
    if (this.queued.length <= this.maxJobs && this.queuedBytes <= this.maxBytes) {
      const all = this.queued;
      this.queued = [];
      this.queuedBytes = 0;
      return all;
    }
    let n = 0;
    let bytes = 0;
    while (n < this.queued.length && n < this.maxJobs && (n === 0 || bytes + this.queued[n]!.json.length <= this.maxBytes)) bytes += this.queued[n++]!.json.length;
    this.queuedBytes -= bytes;
    return this.queued.splice(0, n);
  }

  /** Sends one batch and settles each of its calls; never rejects. */
  private async deliver(batch: QueuedPush[]): Promise<void> {
    if (batch.length === 1) {
      const p = batch[0]!;
      try {
        const answer = (await this.o.post(`{"jobs":[${p.json}]}`)) as { jobs: Array<{ id: string; created: boolean }> };
        settle(p, { ok: true, ...answer.jobs[0]! });
      } catch (err) {
        p.reject(toQueueError(err));
      }
      return;
    }
    let items: WireItem[];
    try {
      items = ((await this.o.post(`{"jobs":[${batch.map((p) => p.json).join(',')}],"atomic":false}`)) as { jobs: WireItem[] }).jobs;
    } catch (err) {
      const error = toQueueError(err);
      if (error.code === 'PAYLOAD_TOO_LARGE') {
        // Over a limit of this broker (its batch size or body size): halves, until the refusal is one job's own.
        const mid = batch.length >> 1;
        await Promise.all([this.deliver(batch.slice(0, mid)), this.deliver(batch.slice(mid))]);
      } else if (error.code === 'INVALID_ARGUMENT') {
        // Jobs refused one by one come back as items: a whole-request 400 is a broker that predates "atomic".
        await Promise.all(batch.map((p) => this.deliver([p])));
      } else for (const p of batch) p.reject(error);
      return;
    }
    batch.forEach((p, i) => settle(p, items[i]));
  }
}

function settle(p: QueuedPush, item: WireItem | undefined): void {
  if (item?.ok) return p.resolve({ id: item.id, created: item.created || p.made });
  const { code, message, ...details } = item?.error ?? { code: 'INTERNAL', message: "the broker's answer has no outcome for this job" };
  p.reject(new QueueError(code as ErrorCode, message, Object.keys(details).length > 0 ? { details } : {}));
}
