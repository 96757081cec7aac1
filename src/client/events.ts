/**
 * `client.events()` and `watchEvents()`: a broker's live events (GET /v1/events, Server-Sent
 * Events) as an async iterator of typed {@link QueueEvent}s.
 *
 * Which broker: events come from the broker that commits them, so a stream shows the topics that
 * broker leads. With exactly one topic (the default of `client.events()`) the stream follows that
 * topic's leader: before every (re)connection it asks for the topic through the connection, which
 * finds the leader as every call does (NOT_LEADER hops, the store's queue.json), and when the
 * broker reports that it lost the topic, the stream reconnects to the new one. With several topics
 * or all of them, the stream reads the one broker the connection reaches (its URL, or the store's
 * freshest leader): topics led elsewhere are not seen — open one stream per leader for those.
 *
 * Reconnection: a dropped or ended stream is reopened with the last event id seen, so nothing is
 * missed while the broker still keeps it; a `reset` event says when it does not (the window was
 * passed, or the new connection reached another broker process, which numbers its own events).
 * Each reconnection retries for as long as the connection's retry deadline allows, then the
 * iterator throws. Authentication and bad arguments fail at once. `signal`, or leaving the loop,
 * ends the iterator cleanly.
 */
import http from 'node:http';
import https from 'node:https';
import { isQueueError, QueueError, type ErrorCode } from '../errors.js';
import type { QueueEvent } from '../event-types.js';
import { checkTopic } from '../protocol.js';
import { Connection, type ConnectionOptions } from './connection.js';

export type { QueueEvent, QueueEventKind } from '../event-types.js';

export interface EventsOptions {
  /** Only these topics (default: `client.events()` its own topic; `watchEvents()` every topic of the broker). */
  topics?: readonly string[] | undefined;
  /** Resume after this event id (from an earlier stream). */
  lastEventId?: string | undefined;
  /** Ends the iterator. */
  signal?: AbortSignal | undefined;
  /** Called each time a stream is open (first connection and reconnections), with the broker's URL: events from then on will come. */
  onOpen?: ((info: { url: string; lastEventId: string | undefined }) => void) | undefined;
}

/** Backoff between reconnections, when a stream ended without any event since the last one. */
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2000;

/** Every event of a broker (or of `topics`), for as long as you iterate. */
export function watchEvents(options: ConnectionOptions & EventsOptions): AsyncGenerator<QueueEvent, void, undefined> {
  const topics = options.topics?.map((t) => checkTopic(t)) ?? [];
  const conn = new Connection(options, topics.length === 1 ? topics[0] : undefined);
  return streamEvents(conn, options.token, { ...options, topics }, true);
}

/** The generator behind watchEvents and client.events: `conn` finds the broker; closed at the end when `ownsConnection`. */
export async function* streamEvents(conn: Connection, token: string | undefined, o: EventsOptions, ownsConnection: boolean): AsyncGenerator<QueueEvent, void, undefined> {
  const topics = o.topics ?? [];
  const follow = topics.length === 1 ? topics[0] : undefined;
  const signal = o.signal;
  let last = o.lastEventId;
  let quiet = 0;
  try {
    while (!signal?.aborted) {
      let base: string;
      try {
        base = await locate(conn, follow, signal);
      } catch (err) {
        if (signal?.aborted) return;
        throw err;
      }
      const query = topics.length > 0 ? `?topics=${topics.map(encodeURIComponent).join(',')}` : '';
      let got = false;
      try {
        const opened = () => o.onOpen?.({ url: base, lastEventId: last });
        for await (const ev of readStream(`${base}/v1/events${query}`, token, conn.ca, last, signal, opened)) {
          got = true;
          last = ev.id;
          yield ev;
          // The topic has a new leader: its events come from there now.
          if (follow !== undefined && ev.kind === 'leader' && !ev.leading && ev.topic === follow) break;
        }
      } catch (err) {
        if (signal?.aborted) return;
        if (isQueueError(err) && (err.code === 'UNAUTHENTICATED' || err.code === 'INVALID_ARGUMENT')) throw err;
        // Anything else (reset, refused, 503 while draining) is worth another connection.
      }
      quiet = got ? 0 : quiet + 1;
      if (quiet > 0) await pause(Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (quiet - 1)), signal);
    }
  } finally {
    if (ownsConnection) await conn.close();
  }
}

/** The broker to read: the leader of `follow`, else whichever broker the connection reaches. */
async function locate(conn: Connection, follow: string | undefined, signal: AbortSignal | undefined): Promise<string> {
  const path = follow !== undefined ? `/v1/topics/${encodeURIComponent(follow)}` : '/healthz';
  try {
    await conn.call({ method: 'GET', path, retry: 'always', signal });
  } catch (err) {
    // A topic not created yet: whoever answered will lead it on its first push.
    if (!(isQueueError(err, 'NOT_FOUND') && conn.url)) throw err;
  }
  return conn.url!;
}

/** One connection's events; returns when the broker ends the stream, throws when it fails. */
async function* readStream(
  url: string,
  token: string | undefined,
  ca: string | undefined,
  lastEventId: string | undefined,
  signal: AbortSignal | undefined,
  opened: () => void,
): AsyncGenerator<QueueEvent> {
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  const lib = url.startsWith('https:') ? https : http;
  const req = lib.request(url, { method: 'GET', headers, agent: false, ...(ca !== undefined ? { ca } : {}) });
  const onAbort = () => req.destroy(new QueueError('CLOSED', 'the event stream was closed by the caller'));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      req.once('response', resolve).once('error', (err) => reject(new QueueError('UNAVAILABLE', `GET ${url}: ${err.message}`, { cause: err })));
      req.end();
    });
    if (res.statusCode !== 200) throw await answerError(url, res);
    // The broker subscribed this stream before answering: every event from now on will come.
    opened();
    res.setEncoding('utf8');
    let buf = '';
    let data: string[] = [];
    for await (const chunk of res as AsyncIterable<string>) {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        if (line === '') {
          // The end of an event: its data is one JSON object that carries its own id and kind.
          if (data.length > 0) yield JSON.parse(data.join('\n')) as QueueEvent;
          data = [];
        } else if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5));
        // id:, event:, retry: and `: ping` comments: the JSON says it all, the rest is for EventSource.
      }
      if (buf.length > 1024 * 1024) throw new QueueError('INTERNAL', `GET ${url}: an event line longer than 1 MiB`);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    req.destroy();
  }
}

async function answerError(url: string, res: http.IncomingMessage): Promise<QueueError> {
  let text = '';
  res.setEncoding('utf8');
  for await (const c of res as AsyncIterable<string>) if (text.length < 64 * 1024) text += c;
  let wire: { code?: unknown; message?: unknown } | undefined;
  try {
    wire = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
  } catch {
    wire = undefined;
  }
  const code = typeof wire?.code === 'string' ? (wire.code as ErrorCode) : res.statusCode === 401 ? 'UNAUTHENTICATED' : 'UNAVAILABLE';
  const message = typeof wire?.message === 'string' ? wire.message : `GET ${url} answered ${res.statusCode}`;
  return new QueueError(code, message, { details: { status: res.statusCode } });
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
