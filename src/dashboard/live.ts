/**
 * The two live streams: the broker's `stats` samples (GET /v1/broker/stats/stream, one a second)
 * kept for the last five minutes so the charts can draw history, and the job events of
 * GET /v1/events that keep the lists current. One EventSource each, shared by every view.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { JobEvent, StatsSample } from './types.js';

/** Five minutes of one-second samples. */
export const HISTORY_MS = 5 * 60_000;

type Listener<T> = (value: T) => void;

class StatsFeed {
  readonly samples: StatsSample[] = [];
  connected = false;
  private source: EventSource | null = null;
  private readonly listeners = new Set<Listener<StatsFeed>>();

  subscribe(listener: Listener<StatsFeed>): () => void {
    this.listeners.add(listener);
    this.open();
    return () => this.listeners.delete(listener);
  }

  get latest(): StatsSample | undefined {
    return this.samples[this.samples.length - 1];
  }

  private open(): void {
    if (this.source) return;
    const source = new EventSource('/v1/broker/stats/stream');
    this.source = source;
    source.addEventListener('stats', (e) => {
      const sample = JSON.parse((e as MessageEvent<string>).data) as StatsSample;
      this.samples.push(sample);
      const cutoff = sample.at - HISTORY_MS;
      while (this.samples.length > 0 && this.samples[0]!.at < cutoff) this.samples.shift();
      this.connected = true;
      this.emit();
    });
    // EventSource reconnects by itself after a drop; the header shows the gap meanwhile.
    source.onerror = () => {
      this.connected = false;
      this.emit();
    };
  }

  private emit(): void {
    for (const l of this.listeners) l(this);
  }
}

export const statsFeed = new StatsFeed();

/** Re-renders on every stats sample; returns the feed (samples, latest, connected). */
export function useStats(): StatsFeed {
  const [, setTick] = useState(0);
  useEffect(() => statsFeed.subscribe(() => setTick((n) => n + 1)), []);
  return statsFeed;
}

/**
 * One EventSource on GET /v1/events for the whole page, shared by every view that listens:
 * a browser allows only six connections per host over HTTP/1.1, and each open stream holds one,
 * so a stream per panel would starve the page's own fetches. Opened with the first listener,
 * closed with the last.
 */
class JobEventHub {
  private source: EventSource | null = null;
  private readonly listeners = new Set<Listener<JobEvent>>();

  subscribe(listener: Listener<JobEvent>): () => void {
    this.listeners.add(listener);
    this.open();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        this.source?.close();
        this.source = null;
      }
    };
  }

  private open(): void {
    if (this.source) return;
    const source = new EventSource('/v1/events');
    this.source = source;
    const handler = (e: Event): void => {
      const event = JSON.parse((e as MessageEvent<string>).data) as JobEvent;
      for (const l of this.listeners) l(event);
    };
    for (const kind of EVENT_KINDS) source.addEventListener(kind, handler);
  }
}

const EVENT_KINDS = ['pushed', 'claimed', 'acked', 'nacked', 'dead', 'cancelled', 'retried', 'leader', 'reset'];
const hub = new JobEventHub();

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
