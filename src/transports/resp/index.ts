/**
 * The Redis protocol wire, as the rest of bucketq sees it: a node:net (or TLS) server whose keys
 * are topics, lists at most once and streams with consumer groups at least once (server.ts).
 */
export { createRespServer, RESP_DEFAULTS, type RespServer, type RespServerOptions } from './server.js';
