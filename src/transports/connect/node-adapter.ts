/**
 * connect-node's `connectNodeAdapter` (a path lookup in front of the router's handlers), with what
 * bucketq adds at the level of bytes, before connect-es has the request:
 *
 * - `authenticate` runs first on every path, methods or not: a request without a valid token is
 *   answered 401 before its body is read or anything is said about what exists.
 * - Paths that are no method go to `fallback`.
 */
import { Code, ConnectError, createConnectRouter, type ConnectRouter, type ConnectRouterOptions } from '@connectrpc/connect';
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from '@connectrpc/connect-node';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;

export interface NodeAdapterOptions extends Partial<ConnectRouterOptions> {
  routes(router: ConnectRouter): void;
  /** False after it has answered the request itself (401). */
  authenticate(req: NodeRequest, res: NodeResponse): boolean;
  fallback(req: NodeRequest, res: NodeResponse): void;
  /** An error of the adapter itself (a failed write is not one: the client left). */
  onError(err: unknown, procedure: string): void;
}

/** The errors this file answers itself: Connect's name and HTTP status of each code. */
const ANSWERED = {
  [Code.InvalidArgument]: ['invalid_argument', 400],
  [Code.Unauthenticated]: ['unauthenticated', 401],
  [Code.Unimplemented]: ['unimplemented', 404],
} as const;

/**
 * Answers an error before connect-es has the request, in its protocol's form: gRPC-Web a
 * trailers-only answer (status 200, `grpc-status` and `grpc-message` in the headers), gRPC an empty
 * body with them in the trailers, Connect a JSON `{code, message}` with the code's HTTP status. `headers` go along (bucketq-code).
 */
export function answerConnectError(req: NodeRequest, res: NodeResponse, code: keyof typeof ANSWERED, message: string, headers: Record<string, string> = {}): void {
  const [name, httpStatus] = ANSWERED[code];
  // An HTTP/1.1 body left unread would be taken for the next request: close that connection.
  const unread = req.httpVersionMajor < 2 && !req.complete;
  const close: Record<string, string> = unread ? { connection: 'close' } : {};
  const type = req.headers['content-type'] ?? '';
  const status = { 'grpc-status': String(code), 'grpc-message': percentEncoded(message) };
  if (type.startsWith('application/grpc-web')) {
    res.writeHead(200, { 'content-type': type, ...status, ...close, ...headers });
    res.end();
  } else if (type.startsWith('application/grpc')) {
    // HTTP/2: an empty body and the status in real trailers, which every gRPC client reads.
    res.writeHead(200, { 'content-type': type, ...close });
    res.addTrailers({ ...status, ...headers });
    res.end();
  } else {
    const json = JSON.stringify({ code: name, message });
    res.writeHead(httpStatus, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(json)), ...close, ...headers });
    res.end(json);
  }
  if (unread) req.resume();
}

function percentEncoded(text: string): string {
  return encodeURIComponent(text).replace(/%20/g, ' ');
}

export function createNodeAdapter(options: NodeAdapterOptions): (req: NodeRequest, res: NodeResponse) => void {
  const { routes, authenticate, fallback, onError, ...routerOptions } = options;
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...routerOptions });
  routes(router);
  const paths = new Map(router.handlers.map((h) => [h.requestPath, h]));

  return (req, res) => {
    if (!authenticate(req, res)) return;
    const handler = paths.get((req.url ?? '').split('?', 1)[0]!);
    if (!handler) return fallback(req, res);
    let ureq;
    try {
      ureq = universalRequestFromNodeRequest(req as IncomingMessage, res as ServerResponse, undefined, undefined);
    } catch (err) {
      answerConnectError(req, res, Code.InvalidArgument, (err as Error).message);
      return;
    }
    handler(ureq)
      .then((ures) => universalResponseToNodeResponse(ures, res as ServerResponse))
      .catch((err: unknown) => {
        // A write that failed because the client left is nobody's bug (connect-node ignores it too).
        if (!res.destroyed && ConnectError.from(err).code !== Code.Aborted) onError(err, handler.method.name);
      });
  };
}
