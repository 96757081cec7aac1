/**
 * The HTTP wire, as the rest of bucketq sees it: the JSON API of docs/http-api.md, the live event
 * stream (GET /v1/events, Server-Sent Events) and the server side of the dashboard (its page,
 * files, login and routes; the browser app itself is src/dashboard/), all one `(req, res)`
 * listener for node:http and node:http2 (handler.ts).
 */
export { answerClientErrors, createHttpHandler, DEFAULT_MAX_BODY_BYTES, type HttpHandler, type HttpHandlerOptions } from './handler.js';
export { ROUTES } from './routes.js';
export { DEFAULT_DASHBOARD_DIR } from './dashboard-server/static-files.js';
export type { Route } from './route.js';
