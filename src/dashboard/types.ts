/**
 * The shapes the dashboard reads from the broker (docs/http-api.md, "Dashboard"). Written out
 * here rather than imported from src/ so the browser bundle never pulls in Node code.
 */
export type JobState = 'pending' | 'delayed' | 'claimed' | 'dead' | 'completed' | 'cancelled';
export type ListState = 'pending' | 'delayed' | 'claimed' | 'dead';
export const LIST_STATES: readonly ListState[] = ['pending', 'delayed', 'claimed', 'dead'];

export interface HistoryEntry {
  at: number;
  event: string;
  worker?: string;
  error?: string;
}

export interface Job {
  id: string;
  state: JobState;
  payload?: unknown;
  priority: number;
  runAt: number;
  attempts: number;
  maxAttempts: number;
  createdAt: number;
  updatedAt: number;
  lastError?: string;
  result?: unknown;
  finishedAt?: number;
  lease?: { worker: string; until: number };
  history?: HistoryEntry[];
  [field: string]: unknown;
}

export interface JobPage {
  jobs: Job[];
  next: string | null;
  total: number;
  /** Of `total`: pending or delayed jobs waiting in segments beyond the head; the pages read on into them (docs/http-api.md). */
  inSegments?: number;
}

export interface LeaderInfo {
  id: string;
  url: string;
  epoch: number;
  leaseUntil: number;
}

export interface BrokerInfo {
  id: string;
  url: string;
  version: string;
  startedAt: number;
  store: string;
  topics: Array<{ topic: string; leading: boolean; leader: LeaderInfo | null; stateLost?: LostInfo; segmentLost?: LostSegmentInfo }>;
}

/** A segment of a topic's backlog that the store lacks or that does not decode (GET /v1/broker): its jobs wait until it is restored. */
export interface LostSegmentInfo {
  key: string;
  code: string;
  message: string;
  since: number;
}

/** A topic whose state this broker found lost (GET /v1/broker): it serves it again only after a reset. */
export interface LostInfo {
  code: string;
  message: string;
  since: number;
  seq: number;
  memorySeq: number | null;
}

// Copy of TopicStats in src/transports/http/dashboard-server/stats-stream.ts (the source of truth): this tree is compiled separately for the browser and must not import Node code.
export interface TopicLive {
  pending: number;
  delayed: number;
  claimed: number;
  dead: number;
  completed: number;
  oldestPendingMs: number;
  pushedPerSec: number;
  ackedPerSec: number;
  /** Failed attempts a second (nacks, expired leases; the last attempts included). */
  failedPerSec: number;
  deadPerSec: number;
  /** Since a claim last took one of its jobs (as far as the broker sampled it). */
  sinceClaimMs: number;
  /** Workers holding a lease; null in samples taken while nobody watched. */
  workers: number | null;
  paused: boolean;
}

export type TotalsLive = Omit<TopicLive, 'paused' | 'sinceClaimMs'>;

export interface CommitLive {
  perSec: number;
  jobsPerCommit: number;
  p50Ms: number;
  p99Ms: number;
  conflictsPerSec: number;
  ambiguousPerSec: number;
}

/** One `stats` event of GET /v1/broker/stats/stream (or a sample of GET /v1/broker/stats/history). */
export interface StatsSample {
  at: number;
  commits: CommitLive;
  totals: TotalsLive;
  topics: Record<string, TopicLive>;
}

export interface StatsHistory {
  intervalMs: number;
  historyMs: number;
  samples: StatsSample[];
}

export type Backoff = { type: 'exponential'; baseMs: number; maxMs?: number; jitter?: number } | { type: 'fixed'; delayMs: number };

export interface TopicSettings {
  maxAttempts: number;
  backoff: Backoff;
  paused: boolean;
}

/** GET /v1/topics/:topic (the fields the topic page uses). */
export interface TopicInfo {
  topic: string;
  pending: number;
  delayed: number;
  claimed: number;
  dead: number;
  paused: boolean;
  settings: TopicSettings;
  [field: string]: unknown;
}

/** One job of GET /v1/topics/:topic/completed. */
export interface Completion {
  id: string;
  at: number;
  worker: string;
  result?: unknown;
  /** Instead of `result` when it was too large to keep: its size in characters of JSON. */
  resultChars?: number;
}

export interface Worker {
  workerId: string;
  jobs: Array<{ id: string; leaseUntil: number; attempts: number }>;
  lastHeartbeatAt: number | null;
  leaseUntil: number;
}

/** One job event of GET /v1/events (the fields the lists use). */
export interface JobEvent {
  kind: string;
  topic?: string;
  job?: string;
  state?: string;
}
