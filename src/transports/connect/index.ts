/**
 * The gRPC wire, as the rest of bucketq sees it: bucketq.v1.Queue over gRPC, gRPC-Web and Connect,
 * one request listener for node:http and node:http2 mounted under `/bucketq.v1.` (handler.ts).
 */
export { CONNECT_PATH_PREFIX, createConnectHandler, type ConnectHandler, type ConnectHandlerOptions } from './handler.js';
