/**
 * bucketq.v1.Queue over Connect, gRPC-Web and gRPC: `createConnectHandler(broker, options)` is a
 * request listener for node:http and node:http2 alike (connectNodeAdapter), mounted by the broker
 * server for paths under `/bucketq.v1.` (server/broker-server.ts).
 *
 * Around every call, one interceptor: refuse while draining (UNAVAILABLE), check the bearer token
 * (`authorization` metadata, constant-time, transports/shared/tokens.ts) and turn every QueueError into
 * the ConnectError of the one table in transports/shared/error-codes.ts, for unary answers and for errors in
 * the middle of a stream alike. A path that is no method is answered 401 without a valid token,
 * else 404, both with a Connect error body. Around the bytes (node-adapter.ts): the budget of body
 * bytes in flight, and undecodable requests answered InvalidArgument.
 */
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Broker } from '../../broker/broker.js';
import { Queue } from '../../gen/bucketq/v1/queue_pb.js';
import { bearerRole, roleChecker } from '../shared/tokens.js';
import { BodyBudget, DEFAULT_MAX_BODY_BYTES_IN_FLIGHT } from '../shared/body-budget.js';
import { claimStream } from './claim-stream.js';
import { toConnectError } from './errors.js';
import { answerConnectError, createNodeAdapter, type NodeAdapterOptions } from './node-adapter.js';
import { unaryMethods } from './service.js';
import { TopicDirectory } from '../shared/topic-directory.js';

/** The path prefix of every method: `/bucketq.v1.Queue/Push`, ... */
export const CONNECT_PATH_PREFIX = '/bucketq.v1.';

/** The methods that change nothing: all the read-only token may call. */
const READ_METHODS = new Set(['Get', 'Stats', 'ListTopics']);

export interface ConnectHandlerOptions {
  /** When set, every call needs `authorization: Bearer <token>`. */
  token?: string | undefined;
  /** A second token (with `token`) that may call only the read methods (Get, Stats, ListTopics); others are PERMISSION_DENIED. */
  readToken?: string | undefined;
  /** Largest request message in bytes (default 16 MiB, as the HTTP API's body limit). */
  maxBodyBytes?: number | undefined;
  /** Request-body bytes held at once, shared with the broker's other wires (default: 64 MiB of its own). */
  bodyBudget?: BodyBudget | undefined;
  /** Unexpected failures (bugs), answered as INTERNAL without their details. */
  onError?: ((err: unknown, procedure: string) => void) | undefined;
}

export interface ConnectHandler {
  (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void;
  /** Calls being answered right now (streams included). */
  readonly inFlight: number;
  /** From now on new calls get UNAVAILABLE; open ClaimStreams end cleanly. */
  drain(): void;
  /** Resolves when no call is being answered. */
  idle(): Promise<void>;
}

async function* convertErrors<T>(messages: AsyncIterable<T>, onBug: (err: unknown) => void): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (err) {
    throw toConnectError(err, onBug);
  }
}

const UNAUTHENTICATED = { missing: 'this broker needs authorization: Bearer <token>', invalid: 'the bearer token is not valid' };

const fatalDecoder = new TextDecoder('utf-8', { fatal: true });
const strictUtf8 = {
  decode(bytes?: Uint8Array): string {
    try {
      return fatalDecoder.decode(bytes);
    } catch {
      throw new Error('the request is not valid UTF-8');
    }
  },
};

export function createConnectHandler(broker: Broker, options: ConnectHandlerOptions = {}): ConnectHandler {
  const roleOf = roleChecker({ token: options.token, readToken: options.readToken });
  const drainer = new AbortController();
  const topics = new TopicDirectory(broker);
  let inFlight = 0;
  const idleWaiters: Array<() => void> = [];

  const guard: Interceptor = (next) => async (req) => {
    if (drainer.signal.aborted) throw new ConnectError('this broker is shutting down; retry on another broker', Code.Unavailable, { 'bucketq-code': 'UNAVAILABLE' });
    // A missing or wrong token never gets here (see authenticate below): what is left is the role.
    if (roleOf && bearerRole(roleOf, req.header.get('authorization')) === 'read' && !READ_METHODS.has(req.method.name)) {
      throw new ConnectError(`the read-only token may call ${[...READ_METHODS].join(', ')} only, not ${req.method.name}`, Code.PermissionDenied, { 'bucketq-code': 'PERMISSION_DENIED' });
    }
    const onBug = (err: unknown) => options.onError?.(err, req.method.name);
    try {
      const res = await next(req);
      return res.stream ? { ...res, message: convertErrors(res.message, onBug) } : res;
    } catch (err) {
      throw toConnectError(err, onBug);
    }
  };

  const adapter = createNodeAdapter({
    interceptors: [guard],
    readMaxBytes: options.maxBodyBytes ?? 16 * 1024 * 1024,
    // Connect's JSON codec would decode invalid UTF-8 to U+FFFD, ids included: refused instead.
    // (connect-es passes jsonOptions on to its JSON serialization, which takes a textDecoder.)
    jsonOptions: { textDecoder: strictUtf8 } as NodeAdapterOptions['jsonOptions'],
    budget: options.bodyBudget ?? new BodyBudget(DEFAULT_MAX_BODY_BYTES_IN_FLIGHT),
    routes: (router) => {
      router.service(Queue, {
        ...unaryMethods(broker, topics),
        claimStream: (req, ctx) => claimStream(broker, topics, drainer.signal, req, ctx),
      });
    },
    // Every path, before its body is read: a stranger learns nothing of what exists, and holds no bytes.
    authenticate: (req, res) => {
      const role = roleOf ? bearerRole(roleOf, req.headers.authorization) : 'admin';
      if (role !== 'missing' && role !== 'invalid') return true;
      answerConnectError(req, res, Code.Unauthenticated, UNAUTHENTICATED[role], { 'bucketq-code': 'UNAUTHENTICATED' });
      return false;
    },
    fallback: (req, res) =>
      answerConnectError(req, res, Code.Unimplemented, `no method ${(req.url ?? '').split('?', 1)[0]} (bucketq.v1.Queue has ${Queue.methods.map((m) => m.name).join(', ')})`, {
        'bucketq-code': 'NOT_FOUND',
      }),
    onError: (err, procedure) => options.onError?.(err, procedure),
  });

  const handler = ((req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
    inFlight++;
    // In flight until the answer is handed to the OS (or the client left), as on the HTTP routes.
    res.once('close', () => {
      inFlight--;
      if (inFlight === 0) for (const wake of idleWaiters.splice(0)) wake();
    });
    adapter(req, res);
  }) as ConnectHandler;
  Object.defineProperty(handler, 'inFlight', { get: () => inFlight });
  handler.drain = () => drainer.abort();
  handler.idle = () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve)));
  return handler;
}
