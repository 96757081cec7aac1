/**
 * What a route of the HTTP API is, for the API's own routes (routes.ts) and the dashboard's
 * (dashboard-server/routes.ts) alike: a method and a path pattern, and a handler that turns one
 * request into one answer. The handler (handler.ts) matches, authenticates and runs them.
 */
import type { Broker } from '../../broker/broker.js';
import type { JobHistory } from './dashboard-server/job-history.js';
import type { RecentCompletions } from './dashboard-server/recent-completions.js';
import type { StatsStreams } from './dashboard-server/stats-stream.js';
import type { TopicDirectory } from '../shared/topic-directory.js';

/** What GET /v1/broker says about this process besides what the broker knows. */
export interface BrokerInfo {
  version: string;
  /** Epoch ms at which the server started. */
  startedAt: number;
  /** The store URL with credentials removed (storage/redact-url.ts). */
  store: string;
}

export interface RouteContext {
  broker: Broker;
  topics: TopicDirectory;
  /** Decoded path parameters. */
  params: { topic: string; id: string };
  /** The parsed JSON body (undefined when there was none). */
  body: unknown;
  /** Fires when the client goes away before its answer was sent. */
  signal: AbortSignal;
  /** The query string's parameters. */
  query: URLSearchParams;
  /** Version, start time and store of this server (GET /v1/broker). */
  info: BrokerInfo;
  /** What this broker saw jobs go through lately (GET job's `history`). */
  history: JobHistory;
  /** The jobs this broker saw complete lately, with their results (GET .../completed). */
  completions: RecentCompletions;
  /** The stats ticker and its history (GET /v1/broker/stats/history). */
  stats: StatsStreams;
}

export interface Reply {
  status: number;
  body: unknown;
  /** The body already as JSON, text or UTF-8 bytes (sent as it is instead of `JSON.stringify(body)`). */
  json?: string | Buffer;
}

interface RouteBase {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Path segments; `:topic` and `:id` capture one segment each. */
  path: readonly string[];
  /** Whether the handler reads a JSON body. */
  body: boolean;
  /** Served without a token (health checks). */
  public?: boolean;
}

/** A route answered with one JSON reply. */
export interface CallRoute extends RouteBase {
  stream?: undefined;
  run(ctx: RouteContext): Promise<Reply>;
}

/**
 * A route the handler answers as a stream of Server-Sent Events: GET /v1/events
 * (events/event-streams.ts), the dashboard's stats (dashboard-server/stats-stream.ts). It is in
 * the table to be matched and authenticated like every other.
 */
export interface StreamRoute extends RouteBase {
  stream: 'events' | 'stats';
}

export type Route = CallRoute | StreamRoute;
