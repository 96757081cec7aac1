/**
 * The two live streams: the broker's `stats` samples (GET /v1/broker/stats/stream, one a second)
 * kept for the last ten minutes so the charts can draw history, and the job events of
 * GET /v1/events that keep the lists current. One EventSource each, shared by every view.
 *
 * The charts start full: the broker keeps the last ten minutes of samples
 * (GET /v1/broker/stats/history), read when a view first needs them (the overview: the totals;
 * a topic's page: that topic's rows too) and again after the stream was down.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.js';
import type { JobEvent, StatsSample } from './types.js';

/** Ten minutes of one-second samples, as the broker keeps them. */
export const HISTORY_MS = 10 * 60_000;

type Listener<T> = (value: T) => void;

const REOPEN_FIRST_MS = 1000;
const REOPEN_MAX_MS = 5000;

/**
 * An EventSource that comes back. The browser retries a dropped stream by itself, but gives up
 * for good on any non-200 answer (a draining broker's 503, a restarted broker that forgot the
 * session: 401). Then we wait (1 s, doubling to 5 s), ask `beforeReopen` (the app checks the
 * session there, so a lost login lands on the login page), and open a new one. `onReopen` runs
 * when a stream that was down is open again, so the owner can say events may have been missed.
 */
function keepOpen(url: string, attach: (source: EventSource) => void, hooks: { onDown(): void; onReopen(): void; onOpen?(): void }): () => void {
  let source: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let delay = REOPEN_FIRST_MS;
  let closed = false;
  // Whichever way the stream comes back (the browser's own retry after a network error, or our
  // reopen after it gave up), what happened meanwhile was not seen: say so on the first open.
  let down = false;
  const open = (): void => {
    source = new EventSource(url);
    source.addEventListener('open', () => {
      delay = REOPEN_FIRST_MS;
      if (down) hooks.onReopen();
      down = false;
      hooks.onOpen?.();
    });
    source.addEventListener('error', () => {
      down = true;
      hooks.onDown();
      if (source?.readyState !== EventSource.CLOSED || closed) return;
      timer = setTimeout(() => {
        timer = null;
        void beforeReopen().finally(() => {
          if (!closed) open();
        });
      }, delay);
      delay = Math.min(delay * 2, REOPEN_MAX_MS);
    });
    attach(source);
  };
  open();
  return () => {
    closed = true;
    if (timer) clearTimeout(timer);
    source?.close();
  };
}

let beforeReopen: () => Promise<unknown> = () => Promise.resolve();
/** Called before a stream the browser gave up on is opened again. */
export function setBeforeReopen(check: () => Promise<unknown>): void {
  beforeReopen = check;
}

class StatsFeed {
  samples: StatsSample[] = [];
  connected = false;
  private close: (() => void) | null = null;
  private readonly listeners = new Set<Listener<StatsFeed>>();
  /** The histories read so far ('' for the overview's, else a topic's), to read again after an outage. */
  private readonly histories = new Set<string>();

  /** Reads the broker's kept samples (with `topic`'s rows) into the history, once per stream. */
  loadHistory(topic?: string): void {
    const key = topic ?? '';
    if (this.histories.has(key)) return;
    this.histories.add(key);
    api.statsHistory(topic).then(
      (h) => this.merge(h.samples),
      () => this.histories.delete(key), // an older broker, or a blip: the live samples still come
    );
  }

  /** Kept samples join the live ones by time; a sample both have gains the rows only the kept one has. */
  private merge(kept: readonly StatsSample[]): void {
    const byAt = new Map(this.samples.map((s) => [s.at, s]));
    for (const k of kept) {
      const mine = byAt.get(k.at);
      if (!mine) {
        this.samples.push(k);
        byAt.set(k.at, k);
        continue;
      }
      for (const [name, row] of Object.entries(k.topics)) if (!(name in mine.topics)) mine.topics[name] = row;
    }
    this.samples.sort((a, b) => a.at - b.at);
    this.trim();
    this.emit();
  }

  private trim(): void {
    const newest = this.samples[this.samples.length - 1];
    if (!newest) return;
    const cutoff = newest.at - HISTORY_MS;
    const first = this.samples.findIndex((s) => s.at >= cutoff);
    if (first > 0) this.samples = this.samples.slice(first);
  }

  subscribe(listener: Listener<StatsFeed>): () => void {
    this.listeners.add(listener);
    this.open();
    return () => this.listeners.delete(listener);
  }

  get latest(): StatsSample | undefined {
    return this.samples[this.samples.length - 1];
  }

  private open(): void {
    if (this.close) return;
    const onSample = (e: Event): void => {
      const sample = JSON.parse((e as MessageEvent<string>).data) as StatsSample;
      this.samples.push(sample);
      this.trim();
      this.connected = true;
      this.emit();
    };
    // The history survives a reconnect; what the broker kept meanwhile fills the gap (a restarted
    // broker kept nothing of it: the charts show the gap).
    this.close = keepOpen('/v1/broker/stats/stream', (source) => source.addEventListener('stats', onSample), {
      onDown: () => {
        this.connected = false;
        this.emit();
      },
      onReopen: () => {
        const again = [...this.histories];
        this.histories.clear();
        for (const key of again) this.loadHistory(key === '' ? undefined : key);
      },
    });
  }

  private emit(): void {
    for (const l of this.listeners) l(this);
  }
}

export const statsFeed = new StatsFeed();

/**
 * Re-renders on every stats sample; returns the feed (samples, latest, connected). `history`:
 * the charts of this view want the kept samples too (`topic`: with that topic's rows).
 */
export function useStats(history?: { topic?: string }): StatsFeed {
  const [, setTick] = useState(0);
  useEffect(() => statsFeed.subscribe(() => setTick((n) => n + 1)), []);
  const topic = history?.topic;
  const wanted = history !== undefined;
  useEffect(() => {
    if (wanted) statsFeed.loadHistory(topic);
  }, [wanted, topic]);
  return statsFeed;
}

/**
 * One EventSource on GET /v1/events for the whole page, shared by every view that listens:
 * a browser allows only six connections per host over HTTP/1.1, and each open stream holds one,
 * so a stream per panel would starve the page's own fetches. Opened with the first listener,
 * closed with the last.
 */
class JobEventHub {
  /** Whether the stream is open now (the broker records what happens for this page from then on). */
  open = false;
  private close: (() => void) | null = null;
  private readonly listeners = new Set<Listener<JobEvent>>();
  readonly statusListeners = new Set<() => void>();

  subscribe(listener: Listener<JobEvent>): () => void {
    this.listeners.add(listener);
    this.start();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        this.close?.();
        this.close = null;
        this.setOpen(false);
      }
    };
  }

  private setOpen(open: boolean): void {
    if (this.open === open) return;
    this.open = open;
    this.statusListeners.forEach((l) => l());
  }

  private start(): void {
    if (this.close) return;
    const handler = (e: Event): void => this.emit(JSON.parse((e as MessageEvent<string>).data) as JobEvent);
    this.close = keepOpen('/v1/events', (source) => EVENT_KINDS.forEach((kind) => source.addEventListener(kind, handler)), {
      onOpen: () => this.setOpen(true),
      onDown: () => this.setOpen(false),
      // A new stream starts live, without the events missed meanwhile: everyone re-reads.
      onReopen: () => this.emit({ kind: 'reset' }),
    });
  }

  private emit(event: JobEvent): void {
    for (const l of this.listeners) l(event);
  }
}

const EVENT_KINDS = ['pushed', 'claimed', 'acked', 'nacked', 'dead', 'cancelled', 'retried', 'released', 'leader', 'reset'];
const hub = new JobEventHub();

/** Whether the page's event stream is open (`data-events` on the header's live status, for tests). */
export function useEventsOpen(): boolean {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = (): void => setTick((n) => n + 1);
    hub.statusListeners.add(l);
    return () => void hub.statusListeners.delete(l);
  }, []);
  return hub.open;
}

/**
 * Calls `onEvent` for each event of `topic` (or of every topic, null) until unmounted. A `reset`
 * (events were missed; it names no topic) reaches everyone: the caller re-reads what it shows.
 * The latest `onEvent` is used, so callers may pass a fresh closure on every render.
 */
export function useJobEvents(topic: string | null, onEvent: (event: JobEvent) => void): void {
  const latest = useRef(onEvent);
  latest.current = onEvent;
  useEffect(
    () =>
      hub.subscribe((event) => {
        if (topic === null || event.kind === 'reset' || event.topic === topic) latest.current(event);
      }),
    [topic],
  );
}
