/**
 * The event feed of one broker: turns the broker's post-commit notifications (`commit`, `batch`,
 * `leader`, `fenced`) into {@link QueueEvent}s, numbers them, keeps the last `window` of them in a
 * ring for Last-Event-ID resumes, and lets readers walk it.
 *
 * Nothing is done while nobody watches: the feed listens to the broker only from the first
 * subscriber on, and for `lingerMs` after the last one left (so a reader that reconnects resumes
 * without a gap). Every (re)start of listening skips one id, so an id handed out before the gap can
 * never look like a seamless resume point: the reader gets a `reset` instead of silently missing
 * what happened while the feed was not recording.
 *
 * Readers do not get their own queue: each keeps a cursor into the shared ring and is pumped while
 * its socket accepts writes. A reader that falls a whole window behind has its cursor overrun and
 * is told so ({@link Reader.overrun}); memory stays the ring plus one socket buffer per reader.
 */
import { randomBytes } from 'node:crypto';
import type { Broker } from '../../../broker/broker.js';
import type { BrokerEventMap, CommitStats, LandedBatch } from '../../../broker/broker-events.js';
import type { OpInput, OpOutput } from '../../../core/apply.js';
import type { CommitEvent, JobEvent, LeaderEvent, PushedEvent } from '../../../event-types.js';

export const DEFAULT_EVENT_WINDOW = 10_000;
export const DEFAULT_LINGER_MS = 60_000;

export interface EventFeedOptions {
  /** Events kept for resumes (default 10 000). */
  window?: number;
  /** How long to keep recording after the last reader left (default 60 s). */
  lingerMs?: number;
  /** Clock for event times of leader changes (default Date.now). */
  now?: () => number;
  /**
   * Sees every event as it is recorded (the dashboard's job history and recent completions,
   * dashboard-server/); an `acked` event comes with the ack's `result`, which the event itself does not carry.
   */
  onEvent?: (event: { kind: string; topic: string; time: number }, detail?: { result?: unknown }) => void;
}

interface Entry {
  n: number;
  topic: string;
  /** The whole SSE frame, serialised once for every reader. */
  frame: string;
}

/** One connected reader, as the feed sees it. */
export interface Reader {
  /** null: every topic. */
  readonly topics: ReadonlySet<string> | null;
  /** The last event number handed to this reader (or skipped as another topic's). */
  cursor: number;
  /** True while the socket wants a pause: pump() then writes nothing (it is pumped again on 'drain'). */
  readonly paused: boolean;
  /** Writes one frame; false when the socket wants a pause. */
  write(frame: string): boolean;
  /** The window moved past this reader's cursor: it missed events and must be disconnected. */
  overrun(): void;
}

/** Where a resume starts: after `cursor`, or a reset (events were missed) from now on. */
export type ResumePoint = { ok: true; cursor: number } | { ok: false; cursor: number; reason: string };

/** Omit distributed over a union (plain Omit keeps only the members' common fields). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Emitted = WithoutId<JobEvent | LeaderEvent | CommitEvent>;

export class EventFeed {
  /** Names this feed's process life; ids of another boot cannot be resumed here. */
  readonly boot = randomBytes(4).toString('hex');
  private readonly window: number;
  private readonly lingerMs: number;
  private readonly now: () => number;
  private readonly onEvent: EventFeedOptions['onEvent'];
  private readonly ring: Array<Entry | undefined>;
  /** Ring index of the oldest entry, and how many entries it holds. */
  private start = 0;
  private size = 0;
  /** Number of the next event. */
  private next = 1;
  private readonly readers = new Set<Reader>();
  private listening = false;
  private lingerTimer: NodeJS.Timeout | null = null;
  /** What the feed listens to while someone watches, in the order the broker's listeners are added. */
  private readonly listeners: { [K in keyof BrokerEventMap]?: (...args: BrokerEventMap[K]) => void };

  constructor(
    private readonly broker: Broker,
    o: EventFeedOptions = {},
  ) {
    this.window = Math.max(1, o.window ?? DEFAULT_EVENT_WINDOW);
    this.lingerMs = o.lingerMs ?? DEFAULT_LINGER_MS;
    this.now = o.now ?? Date.now;
    this.onEvent = o.onEvent;
    this.ring = new Array<Entry | undefined>(this.window);
    this.listeners = {
      commit: (e) => this.onCommit(e),
      batch: (b) => this.onBatch(b),
      leader: (e) => this.append({ kind: 'leader', topic: e.topic, time: this.now(), leading: true, broker: e.broker, epoch: e.epoch }),
      fenced: (e) => this.append({ kind: 'leader', topic: e.topic, time: this.now(), leading: false, leaderId: e.leader?.id ?? null, leader: e.leader?.url || null }),
    };
  }

  /** The id of event number `n` on the wire. */
  idOf(n: number): string {
    return `${this.boot}-${n}`;
  }

  /** Number of the newest event (0 before any). */
  get last(): number {
    return this.next - 1;
  }

  get readerCount(): number {
    return this.readers.size;
  }

  /** Where to resume after the event id `lastEventId` (from a Last-Event-ID); call after subscribe(). */
  resumeAfter(lastEventId: string): ResumePoint {
    const m = /^([0-9a-f]+)-(\d+)$/.exec(lastEventId);
    if (!m) return { ok: false, cursor: this.last, reason: 'not an event id of this broker' };
    if (m[1] !== this.boot) return { ok: false, cursor: this.last, reason: 'the id is from another broker process (restarted, or another broker)' };
    const n = Number(m[2]);
    const oldest = this.next - this.size;
    if (n > this.last) return { ok: false, cursor: this.last, reason: 'the id is newer than any event of this broker' };
    if (n < oldest - 1) return { ok: false, cursor: this.last, reason: `the id is older than the last ${this.window} events kept, or from before a gap in recording` };
    return { ok: true, cursor: n };
  }

  subscribe(reader: Reader): () => void {
    this.readers.add(reader);
    if (this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = null;
    }
    if (!this.listening) {
      this.listening = true;
      // A gap: whatever happened before now was not recorded. Skip an id so no resume spans it.
      this.clear();
      this.next++;
      for (const name of listened(this.listeners)) this.broker.events.on(name, this.listeners[name]!);
    }
    return () => {
      if (!this.readers.delete(reader) || this.readers.size > 0 || !this.listening) return;
      this.lingerTimer = setTimeout(() => this.stopListening(), this.lingerMs);
      this.lingerTimer.unref();
    };
  }

  /** Writes to `reader` what it has not seen, until caught up or its socket wants a pause. */
  pump(reader: Reader): void {
    const oldest = this.next - this.size;
    // Checked while paused too: a reader whose socket never drains must still be let go.
    if (reader.cursor + 1 < oldest) return reader.overrun();
    while (reader.cursor < this.last && !reader.paused) {
      const n = reader.cursor + 1;
      if (n < oldest) return reader.overrun();
      const e = this.ring[(this.start + (n - oldest)) % this.window]!;
      reader.cursor = n;
      if (reader.topics && !reader.topics.has(e.topic)) continue;
      if (!reader.write(e.frame)) return;
    }
  }

  /** Stops listening at once (tests; a closing server). */
  close(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    this.stopListening();
  }

  // ---------------------------------------------------------------------------------------------

  private stopListening(): void {
    this.lingerTimer = null;
    if (!this.listening || this.readers.size > 0) return;
    this.listening = false;
    for (const name of listened(this.listeners)) this.broker.events.off(name, this.listeners[name]!);
    this.clear();
  }

  private clear(): void {
    this.ring.fill(undefined);
    this.start = 0;
    this.size = 0;
  }

  private append(event: Emitted, detail?: { result?: unknown }): void {
    const n = this.next++;
    const id = this.idOf(n);
    // `id` spliced in as text: spreading it into the event would cost ~5 µs per event (a
    // dictionary-mode object for JSON.stringify), the whole feed's budget several times over.
    const frame = `id: ${id}\nevent: ${event.kind}\ndata: {"id":"${id}",${JSON.stringify(event).slice(1)}\n\n`;
    const entry: Entry = { n, topic: event.topic, frame };
    if (this.onEvent) {
      try {
        this.onEvent(event, detail);
      } catch {
        // an observer's bug must not break the feed
      }
    }
    if (this.size < this.window) {
      this.ring[(this.start + this.size) % this.window] = entry;
      this.size++;
    } else {
      this.ring[this.start] = entry;
      this.start = (this.start + 1) % this.window;
    }
    for (const r of this.readers) {
      try {
        this.pump(r);
      } catch {
        // a reader's failure is its own (its socket is gone); the others go on
      }
    }
  }

  private onCommit(e: CommitStats): void {
    this.append({ kind: 'commit', topic: e.topic, time: this.now(), seq: e.seq, requests: e.requests, bytes: e.bytes, ms: e.ms, conflicts: e.conflicts });
  }

  /**
   * The job events of a landed batch, in request order; ops that changed nothing (replays) say
   * nothing. Events are object literals of one shape per kind (no spreads): this runs per job.
   */
  private onBatch(b: LandedBatch): void {
    const { topic, time, seq } = b;
    // Leases that ran out are swept before the batch's requests are applied.
    for (const x of b.expired) {
      if (x.dead) this.append({ kind: 'dead', topic, time, seq, job: x.id, worker: x.worker, error: 'lease expired' });
      else this.append({ kind: 'nacked', topic, time, seq, job: x.id, worker: x.worker, error: 'lease expired', runAt: time });
    }
    for (let i = 0; i < b.requests.length; i++) {
      const req = b.requests[i]!;
      const r = b.results[i];
      if (!r?.ok || !r.changed) continue;
      switch (req.op) {
        case 'push': {
          const input = req.input as OpInput<'push'>;
          const outs = (r.value as OpOutput<'push'>).jobs;
          for (let j = 0; j < outs.length; j++) {
            const out = outs[j]!;
            if (!out.created) continue;
            const job = input.jobs[j];
            const e: Omit<PushedEvent, 'id'> = { kind: 'pushed', topic, time, seq, job: out.id, state: out.state };
            if (job?.priority !== undefined && job.priority !== 0) e.priority = job.priority;
            if (job?.runAt !== undefined) e.runAt = job.runAt;
            else if (job?.delayMs !== undefined && job.delayMs > 0) e.runAt = time + job.delayMs;
            this.append(e);
          }
          break;
        }
        case 'claim': {
          const worker = (req.input as OpInput<'claim'>).worker;
          for (const j of (r.value as OpOutput<'claim'>).jobs) {
            this.append({ kind: 'claimed', topic, time, seq, job: j.id, worker, attempt: j.attempt, maxAttempts: j.maxAttempts, leaseUntil: j.leaseUntil });
          }
          break;
        }
        case 'ack': {
          const input = req.input as OpInput<'ack'>;
          this.append({ kind: 'acked', topic, time, seq, job: input.id, worker: input.worker }, this.onEvent ? { result: input.result } : undefined);
          break;
        }
        case 'nack': {
          const input = req.input as OpInput<'nack'>;
          const out = r.value as OpOutput<'nack'>;
          // As the core stores it, shortened: an event is a line, not a stack trace archive.
          const error = (input.error ?? 'failed').slice(0, 1024);
          if (out.state === 'dead') this.append({ kind: 'dead', topic, time, seq, job: out.id, worker: input.worker, error });
          else if (out.runAt !== undefined) this.append({ kind: 'nacked', topic, time, seq, job: out.id, worker: input.worker, error, runAt: out.runAt });
          else this.append({ kind: 'nacked', topic, time, seq, job: out.id, worker: input.worker, error });
          break;
        }
        case 'cancel':
          this.append({ kind: 'cancelled', topic, time, seq, job: (r.value as OpOutput<'cancel'>).id });
          break;
        case 'retry':
          this.append({ kind: 'retried', topic, time, seq, job: (r.value as OpOutput<'retry'>).id });
          break;
        case 'unclaim': {
          // Handed back untouched: a worker's prefetched jobs at close, or a claim whose caller left.
          const input = req.input as OpInput<'unclaim'>;
          const released = new Set((r.value as OpOutput<'unclaim'>).ids);
          for (const j of input.jobs) if (released.delete(j.id)) this.append({ kind: 'released', topic, time, seq, job: j.id, worker: j.worker });
          break;
        }
        case 'retryDead':
          // One op for many dead jobs (retry all): one event per job, as if each were retried alone.
          for (const job of (r.value as OpOutput<'retryDead'>).ids) this.append({ kind: 'retried', topic, time, seq, job });
          break;
        default:
          // heartbeats, settings and housekeeping are not job state changes worth a line
          break;
      }
    }
  }
}

/** The events a listener table names. */
function listened(table: { [K in keyof BrokerEventMap]?: unknown }): Array<keyof BrokerEventMap> {
  return Object.keys(table) as Array<keyof BrokerEventMap>;
}
