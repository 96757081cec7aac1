/**
 * `GET /v1/events`: the broker's live events as Server-Sent Events (docs/http-api.md, "Events").
 * The HTTP handler authenticates and routes here; this file writes the stream.
 *
 *   ?topics=a,b          only these topics' events (default: every topic of this broker)
 *   Last-Event-ID        resume after this event (header, or ?lastEventId= for EventSource
 *                        polyfills that cannot set headers): the events kept since are sent
 *                        first; if they are not all kept any more, a `reset` event says so
 *
 * Each event is `id: <boot>-<n>`, `event: <kind>`, `data: <one JSON line>` (src/event-types.ts).
 * A comment line (`: ping`) goes out every `heartbeatMs` so proxies do not time the stream out.
 *
 * Slow readers: a stream never gets a queue of its own. It writes from the feed's shared ring
 * while its socket takes writes and pauses until 'drain' when it does not, so a stream holds at
 * most one socket buffer. A reader that stays paused until the ring has moved a whole window past
 * it is disconnected; it may reconnect with its Last-Event-ID and is then told it missed events.
 *
 * Drain (SIGTERM): close() ends every stream cleanly; sockets that do not take the end within
 * a second are destroyed, so a vanished reader cannot hold up the shutdown.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Broker } from '../../../broker/broker.js';
import { systemClock, type Clock } from '../../../clock.js';
import type { ResetEvent } from '../../../event-types.js';
import { QueueError } from '../../../errors.js';
import { checkTopic } from '../../../protocol.js';
import { EventFeed, type EventFeedOptions, type Reader } from './event-feed.js';
import { endStream, writeSseHead, type StreamSink } from '../sse.js';

export const DEFAULT_HEARTBEAT_MS = 15_000;
const MAX_TOPICS = 100;
/** What EventSource clients wait before reconnecting after the stream ends. */
const RETRY_MS = 1000;

export interface EventStreamOptions extends EventFeedOptions {
  /** Interval of `: ping` comments (default 15 s). */
  heartbeatMs?: number;
  /** Times the pings (tests pass a FakeClock). */
  clock?: Clock;
}

export type { StreamSink } from '../sse.js';

/** The query of an events request, checked. */
export function parseEventsQuery(url: string, header: string | string[] | undefined): { topics: Set<string> | null; lastEventId: string | undefined } {
  const q = url.indexOf('?');
  const params = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
  for (const k of params.keys()) {
    if (k !== 'topics' && k !== 'lastEventId') throw new QueueError('INVALID_ARGUMENT', `unknown query parameter ${JSON.stringify(k)} (allowed: topics, lastEventId)`);
  }
  let topics: Set<string> | null = null;
  const list = params.getAll('topics').flatMap((t) => t.split(',')).map((t) => t.trim()).filter((t) => t !== '');
  if (list.length > 0) {
    if (list.length > MAX_TOPICS) throw new QueueError('INVALID_ARGUMENT', `at most ${MAX_TOPICS} topics per stream, got ${list.length}`);
    topics = new Set(list.map((t) => checkTopic(t)));
  }
  const fromHeader = Array.isArray(header) ? header[0] : header;
  const lastEventId = (fromHeader ?? params.get('lastEventId') ?? '').trim();
  return { topics, lastEventId: lastEventId === '' ? undefined : lastEventId };
}

export class EventStreams {
  readonly feed: EventFeed;
  private readonly heartbeatMs: number;
  private readonly clock: Clock;
  private readonly open = new Map<StreamSink, { gone: boolean }>();
  private closed = false;

  constructor(broker: Broker, o: EventStreamOptions = {}) {
    this.feed = new EventFeed(broker, o);
    this.heartbeatMs = o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.clock = o.clock ?? systemClock;
  }

  /** Streams open right now. */
  get count(): number {
    return this.open.size;
  }

  /** Serves one authenticated request; resolves when the stream has closed. Query errors are thrown before anything is written. */
  serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const query = parseEventsQuery(req.url ?? '/', req.headers['last-event-id']);
    if (this.closed) throw new QueueError('UNAVAILABLE', 'this broker is shutting down; retry on another broker');
    writeSseHead(res);
    return this.stream(res, query);
  }

  /** The stream itself, on any sink whose headers are sent (tests drive it with a fake socket). */
  stream(sink: StreamSink, query: { topics: Set<string> | null; lastEventId: string | undefined }): Promise<void> {
    const feed = this.feed;
    let stopHeartbeat = () => {};
    let unsubscribe = () => {};
    const reader: Reader & { paused: boolean; gone: boolean } = {
      topics: query.topics,
      cursor: 0,
      paused: false,
      gone: false,
      write: (frame) => send(frame),
      overrun: () => {
        // Fallen a whole window behind: its cursor points at events no longer kept. Out of the
        // feed at once, not when the socket reports its close (a later turn of the event loop).
        reader.gone = true;
        unsubscribe();
        sink.destroy();
      },
    };
    const send = (chunk: string): boolean => {
      if (reader.gone) return false;
      if (sink.write(chunk)) return true;
      reader.paused = true;
      sink.once('drain', () => {
        reader.paused = false;
        if (!reader.gone) feed.pump(reader);
      });
      return false;
    };
    unsubscribe = feed.subscribe(reader);
    this.open.set(sink, reader);
    const done = new Promise<void>((resolve) =>
      sink.once('close', () => {
        reader.gone = true;
        stopHeartbeat();
        unsubscribe();
        this.open.delete(sink);
        resolve();
      }),
    );
    const start = query.lastEventId === undefined ? { ok: true as const, cursor: feed.last } : feed.resumeAfter(query.lastEventId);
    reader.cursor = start.cursor;
    send(`retry: ${RETRY_MS}\n: connected\n\n`);
    if (!start.ok) {
      const reset: ResetEvent = { id: feed.idOf(start.cursor), kind: 'reset', time: Date.now(), lastEventId: query.lastEventId!, reason: start.reason };
      send(`id: ${reset.id}\nevent: reset\ndata: ${JSON.stringify(reset)}\n\n`);
    }
    feed.pump(reader);
    const ping = (): void => {
      if (reader.gone) return;
      // A paused socket is not taking writes anyway; a ping there would only grow its buffer.
      if (!reader.paused) send(': ping\n\n');
      stopHeartbeat = this.clock.setTimer(this.heartbeatMs, ping);
    };
    stopHeartbeat = this.clock.setTimer(this.heartbeatMs, ping);
    return done;
  }

  /** Drain: ends every stream and refuses new ones. */
  close(): void {
    this.closed = true;
    for (const [sink, reader] of this.open) {
      reader.gone = true; // nothing more after the end
      endStream(sink);
    }
    this.feed.close();
  }
}
