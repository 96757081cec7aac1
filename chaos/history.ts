/**
 * The chaos history: what every client process saw, one JSON object per line, one file per
 * process (`<name>.jsonl` in the history directory). Each line is written with a synchronous
 * write the moment the client saw the outcome, so a SIGKILL loses at most the line being made,
 * never one already observed (the page cache survives the process).
 *
 * Every event carries two clocks: `t`, wall time (Date.now(), the clock brokers write lease
 * expiries in) and `m`, CLOCK_MONOTONIC in ms (process.hrtime), which on Linux is one clock for
 * every process of the machine, so events of different processes are ordered by it.
 */
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

interface Stamp {
  /** Wall clock, epoch ms. */
  t: number;
  /** Monotonic clock (shared by the machine's processes), ms. */
  m: number;
  /** The process that saw it: producer `p0`, worker `w1.2`, broker `b0.1`, `nemesis`. */
  p: string;
}

/** A push's outcome; `st`/`sm` are when it was sent. `created` is the broker's answer. */
export interface PushEvent extends Stamp { op: 'push'; id: string; st: number; sm: number; ok: boolean; created?: boolean; code?: string }
/** A job handed to a worker by a claim (the worker saw it at t/m). */
export interface DeliverEvent extends Stamp { op: 'deliver'; id: string; attempt: number; maxAttempts: number; lease: string; until: number; worker: string }
/** A heartbeat's outcome; on success `until` is the lease's new expiry. */
export interface HeartbeatEvent extends Stamp { op: 'hb'; id: string; lease: string; ok: boolean; until?: number; code?: string }
/** An ack's or nack's outcome; `st`/`sm` are when it was sent; a nack's `state` is where the job went. */
export interface SettleEvent extends Stamp { op: 'ack' | 'nack'; id: string; lease: string; st: number; sm: number; ok: boolean; state?: string; code?: string; retried?: boolean }
/** A worker handed a claimed job back untouched (Queue.release: its prefetched jobs at close). `sm`: when it was sent. */
export interface ReleaseEvent extends Stamp { op: 'release'; id: string; lease: string; sm: number; ok: boolean; code?: string }
/** A broker's own account: it started leading the topic at `epoch`, or was fenced. */
export interface LeaderEvent extends Stamp { op: 'leader' | 'fenced'; broker: string; epoch?: number }
/** What the nemesis did to a process. */
export interface NemesisEvent extends Stamp { op: 'nemesis'; action: 'kill' | 'term' | 'stop' | 'cont' | 'start'; target: string; role: 'broker' | 'worker' }

export type HistoryEvent = PushEvent | DeliverEvent | HeartbeatEvent | SettleEvent | ReleaseEvent | LeaderEvent | NemesisEvent;

/** Distributes Omit over the union, so each event kind keeps its own fields. */
type Unstamped<E> = E extends HistoryEvent ? Omit<E, keyof Stamp> : never;
export type EventBody = Unstamped<HistoryEvent>;

export function monoNow(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}

/** Appends events of one process to `<dir>/<name>.jsonl`. */
export class HistoryWriter {
  private readonly fd: number;

  constructor(dir: string, readonly name: string) {
    this.fd = openSync(join(dir, `${name}.jsonl`), 'a');
  }

  /** Stamps and writes one event now; `at` overrides the stamp (a broker line read a moment ago). */
  record(body: EventBody, at?: { t: number; m: number }): void {
    const event = { t: at?.t ?? Date.now(), m: at?.m ?? monoNow(), p: this.name, ...body };
    writeSync(this.fd, `${JSON.stringify(event)}\n`);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/**
 * Every event of every file in `dir`, ordered by the monotonic clock. A last line cut short by a
 * SIGKILL is skipped (and counted); any other unreadable line is an error.
 */
export function readHistory(dir: string): { events: HistoryEvent[]; truncatedLines: number } {
  const events: HistoryEvent[] = [];
  let truncatedLines = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort()) {
    const lines = readFileSync(join(dir, file), 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (line === '') return;
      try {
        events.push(JSON.parse(line) as HistoryEvent);
      } catch (err) {
        if (i >= lines.length - 2) truncatedLines++;
        else throw new Error(`${file}:${i + 1}: not a history event (${(err as Error).message})`);
      }
    });
  }
  events.sort((a, b) => a.m - b.m);
  return { events, truncatedLines };
}
