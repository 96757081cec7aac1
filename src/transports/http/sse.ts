/**
 * What the broker's two Server-Sent Events streams (/v1/events and the dashboard's
 * /v1/broker/stats/stream) do alike: the response headers, and ending a stream on drain.
 */
import type { ServerResponse } from 'node:http';

/** The socket side of a stream: a ServerResponse, or a fake one in tests. */
export interface StreamSink {
  write(chunk: string): boolean;
  end(): void;
  destroy(): void;
  once(event: 'drain' | 'close', fn: () => void): unknown;
  readonly writableFinished?: boolean;
}

/** Sends the 200 and headers of a live event stream (call it only once the request is accepted). */
export function writeSseHead(res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    // nginx and friends buffer responses unless told not to; a buffered event stream is not live.
    'x-accel-buffering': 'no',
  });
}

/** Ends a stream on drain; one whose client does not read its end within a second is destroyed. */
export function endStream(sink: StreamSink): void {
  sink.end();
  const kill = setTimeout(() => {
    if (!sink.writableFinished) sink.destroy();
  }, 1000);
  kill.unref();
}
