/**
 * A test's view of GET /v1/events through the `eventsource` package (a plain SSE reader bucketq
 * did not write): every event received, in order, and promises that resolve when one arrives.
 */
import { EventSource } from 'eventsource';
import { EVENT_KINDS } from '../../src/event-types.js';
import { Seen } from '../seen.js';

export interface Received {
  kind: string;
  /** The SSE id (lastEventId of the MessageEvent). */
  sseId: string;
  data: any;
  /** When this process received it. */
  at: number;
}

export interface Watcher {
  source: EventSource;
  events: Received[];
  /** Resolves once the stream is open (the server has subscribed this reader). */
  opened: Promise<void>;
  /** Resolves with the first event (seen or to come) that `match` accepts. */
  next(match: (e: Received) => boolean): Promise<Received>;
  /** Job events (pushed ... retried) as `kind:job` strings, in order. */
  jobLine(): string[];
  close(): void;
}

export function watch(url: string, opts: { token?: string; query?: string; lastEventId?: string } = {}): Watcher {
  const seen = new Seen<Received>();
  const events = seen.items;
  const href = `${url}/v1/events${opts.query ? `?${opts.query}` : ''}`;
  const source = new EventSource(href, {
    fetch: (input, init) => {
      const headers: Record<string, string> = { ...(init?.headers as Record<string, string>) };
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      // First connection only: later reconnects send the reader's own Last-Event-ID.
      if (opts.lastEventId && !headers['Last-Event-ID'] && !headers['last-event-id']) headers['last-event-id'] = opts.lastEventId;
      return fetch(input, { ...init, headers });
    },
  });
  let opened!: () => void;
  const openedP = new Promise<void>((resolve) => (opened = resolve));
  source.addEventListener('open', () => opened());
  for (const kind of EVENT_KINDS) {
    source.addEventListener(kind, (ev) => {
      seen.add({ kind, sseId: ev.lastEventId, data: JSON.parse(ev.data), at: Date.now() });
    });
  }
  return {
    source,
    events,
    opened: openedP,
    next: (match) => seen.next(match),
    jobLine: () => events.filter((e) => !['commit', 'leader', 'reset'].includes(e.kind)).map((e) => `${e.kind}:${e.data.job}`),
    close: () => source.close(),
  };
}
