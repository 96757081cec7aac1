/**
 * connect-node's `connectNodeAdapter` (a path lookup in front of the router's handlers), with what
 * bucketq adds at the level of bytes, before and after connect-es has the request:
 *
 * - Body bytes count against the broker's budget (transports/shared/body-budget.ts): a declared length
 *   is asked for before a byte is read and refused with HTTP 503, Retry-After and a Connect error
 *   body (every gRPC client maps 503 to UNAVAILABLE); a stream without one (gRPC on HTTP/2) is
 *   counted as it is read and fails with Unavailable when the budget is full. They are given
 *   back once the answer is out.
 * - A request protobuf cannot decode is the client's mistake: connect-es answers a binary message
 *   it cannot parse (invalid UTF-8 in a string, nesting past the decoder's recursion limit) with
 *   Internal, which is HTTP 500 on Connect; here it becomes InvalidArgument on every protocol
 *   (as connect-go answers), and nesting names bucketq's own limit (MAX_JSON_DEPTH).
 * - `authenticate` runs first on every path, methods or not: a request without a valid token is
 *   answered 401 before its body is read or anything is said about what exists.
 * - Paths that are no method go to `fallback`.
 */
import { Code, ConnectError, createConnectRouter, type ConnectRouter, type ConnectRouterOptions } from '@connectrpc/connect';
import type { UniversalServerResponse } from '@connectrpc/connect/protocol';
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from '@connectrpc/connect-node';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { MAX_JSON_DEPTH } from '../../protocol.js';
import { OVERLOADED_RETRY_AFTER_S, type BodyBudget, type BodyHold } from '../shared/body-budget.js';

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;

export interface NodeAdapterOptions extends Partial<ConnectRouterOptions> {
  routes(router: ConnectRouter): void;
  budget: BodyBudget;
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
  [Code.Unavailable]: ['unavailable', 503],
} as const;

/**
 * Answers an error before connect-es has the request, in its protocol's form: gRPC and gRPC-Web a
 * trailers-only answer (status 200, `grpc-status` and `grpc-message` in the headers), Connect a
 * JSON `{code, message}` with the code's HTTP status. `headers` go along (bucketq-code, Retry-After).
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

const DECODE_FAILURE = /^parse binary: |maximum recursion depth/;

/** The message a request that protobuf could not decode gets instead of connect-es's own. */
function decodeMessage(original: string): string {
  if (/maximum recursion depth/.test(original)) {
    return `the request nests too deep for protobuf to decode (${original.replace(/^parse binary: /, '')}); a payload or result may nest at most ${MAX_JSON_DEPTH} levels of arrays and objects`;
  }
  return `the request is not a valid protobuf message: ${original.replace(/^parse binary: /, '')}`;
}

function percentEncoded(text: string): string {
  return encodeURIComponent(text).replace(/%20/g, ' ');
}

/** The gRPC-Web trailer frame (flag 0x80) with grpc-status 13 from a decode failure, rewritten; null when it is another. */
function grpcWebTrailer(chunk: Uint8Array): Uint8Array | null {
  if (chunk.length < 5 || chunk[0] !== 0x80) return null;
  const text = Buffer.from(chunk.subarray(5)).toString('latin1');
  const status = /^grpc-status: *(\d+)/im.exec(text)?.[1];
  const message = decodeURIComponent(/^grpc-message: *(.*?)\r?$/im.exec(text)?.[1] ?? '');
  if (status !== '13' || !DECODE_FAILURE.test(message)) return null;
  const lines = text
    .split('\r\n')
    .filter((l) => l !== '' && !/^grpc-(status|message):/i.test(l))
    .concat([`grpc-status: ${Code.InvalidArgument}`, `grpc-message: ${percentEncoded(decodeMessage(message))}`, 'bucketq-code: INVALID_ARGUMENT']);
  const body = Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1');
  const frame = Buffer.alloc(5 + body.length);
  frame[0] = 0x80;
  frame.writeUInt32BE(body.length, 1);
  body.copy(frame, 5);
  return frame;
}

async function* concat(chunks: Uint8Array[]): AsyncIterable<Uint8Array> {
  yield* chunks;
}

/** The answer with a decode failure of connect-es turned into InvalidArgument (see the module comment). */
async function decodeFailuresAsInvalid(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  const body = res.body;
  if (body === undefined || !(Symbol.asyncIterator in Object(body))) return res;
  const type = res.header?.get('content-type') ?? '';
  if (res.status !== 200) {
    // Connect: the error is the (small) JSON body of a non-200 answer.
    if (!type.startsWith('application/json')) return res;
    const chunks: Uint8Array[] = [];
    for await (const c of body as AsyncIterable<Uint8Array>) chunks.push(c);
    let error: { code?: unknown; message?: unknown } = {};
    try {
      error = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof error;
    } catch {
      // not ours to fix
    }
    if ((error.code !== 'internal' && error.code !== 'invalid_argument') || typeof error.message !== 'string' || !DECODE_FAILURE.test(error.message)) {
      return { ...res, body: concat(chunks) };
    }
    const json = Buffer.from(JSON.stringify({ code: 'invalid_argument', message: decodeMessage(error.message) }));
    const header = new Headers(res.header);
    header.set('content-length', String(json.length));
    header.set('bucketq-code', 'INVALID_ARGUMENT');
    return { ...res, status: 400, header, body: concat([json]) };
  }
  if (res.trailer) {
    // gRPC: the status is in the trailers, complete once the body has been read.
    const trailer = res.trailer;
    return {
      ...res,
      body: (async function* () {
        yield* body as AsyncIterable<Uint8Array>;
        const message = decodeURIComponent(trailer.get('grpc-message') ?? '');
        if (trailer.get('grpc-status') === '13' && DECODE_FAILURE.test(message)) {
          trailer.set('grpc-status', String(Code.InvalidArgument));
          trailer.set('grpc-message', percentEncoded(decodeMessage(message)));
          trailer.set('bucketq-code', 'INVALID_ARGUMENT');
        }
      })(),
    };
  }
  if (!type.startsWith('application/grpc-web')) return res;
  // gRPC-Web: the status is the last frame of the body.
  return {
    ...res,
    body: (async function* () {
      for await (const c of body as AsyncIterable<Uint8Array>) yield grpcWebTrailer(c) ?? c;
    })(),
  };
}

/** The request's body iterable, counted against the budget chunk by chunk. */
function counted(body: AsyncIterable<Uint8Array>, hold: BodyHold, budget: BodyBudget): AsyncIterable<Uint8Array> {
  return (async function* () {
    for await (const chunk of body) {
      if (!hold.take(chunk.byteLength)) throw new ConnectError(budget.overloaded().message, Code.Unavailable, { 'bucketq-code': 'UNAVAILABLE' });
      yield chunk;
    }
  })();
}

export function createNodeAdapter(options: NodeAdapterOptions): (req: NodeRequest, res: NodeResponse) => void {
  const { routes, budget, authenticate, fallback, onError, ...routerOptions } = options;
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...routerOptions });
  routes(router);
  const paths = new Map(router.handlers.map((h) => [h.requestPath, h]));

  return (req, res) => {
    if (!authenticate(req, res)) return;
    const handler = paths.get((req.url ?? '').split('?', 1)[0]!);
    if (!handler) return fallback(req, res);
    const hold = budget.hold();
    const length = req.headers['content-length'];
    const declared = length === undefined ? undefined : Number(length);
    if (declared !== undefined && Number.isFinite(declared) && !hold.take(declared)) {
      answerConnectError(req, res, Code.Unavailable, budget.overloaded().message, { 'retry-after': String(OVERLOADED_RETRY_AFTER_S), 'bucketq-code': 'UNAVAILABLE' });
      return;
    }
    let ureq;
    try {
      ureq = universalRequestFromNodeRequest(req as IncomingMessage, res as ServerResponse, undefined, undefined);
    } catch (err) {
      hold.release();
      answerConnectError(req, res, Code.InvalidArgument, (err as Error).message);
      return;
    }
    if (declared === undefined) ureq = { ...ureq, body: counted(ureq.body as AsyncIterable<Uint8Array>, hold, budget) };
    handler(ureq)
      .then(decodeFailuresAsInvalid)
      .then((ures) => universalResponseToNodeResponse(ures, res as ServerResponse))
      .catch((err: unknown) => {
        // A write that failed because the client left is nobody's bug (connect-node ignores it too).
        if (!res.destroyed && ConnectError.from(err).code !== Code.Aborted) onError(err, handler.method.name);
      })
      .finally(() => hold.release());
  };
}
