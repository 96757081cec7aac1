/**
 * Every call the dashboard makes. The session cookie (set by the broker's login page) rides
 * along by itself on same-origin requests; changes also send `x-bucketq-csrf: 1`, which the broker
 * demands of cookie-authenticated POST/PATCH/DELETE (a cross-site form cannot set a header).
 */
import type { BrokerInfo, Completion, Job, JobPage, ListState, StatsHistory, TopicInfo, TopicSettings, Worker } from './types.js';

/** A failed call, carrying the broker's JSON error (`{error: {code, message, ...details}}`) when there was one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The error's other fields, e.g. `leader` (a URL) of NOT_LEADER. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-bucketq-csrf'] = '1';
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, 'UNAVAILABLE', `the broker did not answer: ${(err as Error).message}`);
  }
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // A proxy's HTML error page, say: reported below with the status.
  }
  if (!res.ok) {
    const error = (parsed as { error?: { code?: string; message?: string; [k: string]: unknown } } | undefined)?.error;
    // The session ended (broker restarted, logout in another tab): the login page is at /.
    if (res.status === 401) onUnauthenticated();
    throw new ApiError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? `${method} ${path} answered ${res.status}`, error ?? {});
  }
  return parsed as T;
}

let onUnauthenticated = (): void => {};
/** What to do when a call answers 401 (the app reloads onto the login page). */
export function setUnauthenticatedHandler(handler: () => void): void {
  onUnauthenticated = handler;
}

/** What POST dead/retry answers: `skipped` are ids left as they were (not dead, or unreadable). */
export interface RetryDeadResult {
  retried: number;
  skipped?: Array<{ id: string; code: string; message: string }>;
}

/** A job a bulk action left as it was, and why (the code a single call would have answered). */
export interface Skipped {
  id: string;
  code: string;
  message: string;
}

/** What POST cancel answers; `remaining` when a state was cancelled a page at a time. */
export interface CancelResult {
  cancelled: number;
  skipped: Skipped[];
  remaining?: number;
}

/** What POST dead/purge answers. */
export interface PurgeResult {
  purged: number;
  skipped: Skipped[];
}

/** "…; 2 skipped (a: NOT_FOUND, b: FAILED_PRECONDITION)": what a bulk action left and why. */
export function describeSkipped(skipped: readonly Skipped[] | undefined): string {
  if (!skipped || skipped.length === 0) return '';
  const shown = skipped.slice(0, 3).map((s) => `${s.id}: ${s.code}`).join(', ');
  return `; ${skipped.length} skipped (${shown}${skipped.length > 3 ? ', …' : ''})`;
}

/** "3 dead job(s) sent back to pending", plus what was skipped and why. */
export function describeRetried(r: RetryDeadResult, of?: number): string {
  return `${r.retried}${of === undefined ? '' : ` of ${of} selected`} dead job(s) sent back to pending${describeSkipped(r.skipped)}`;
}

const t = (topic: string): string => `/v1/topics/${encodeURIComponent(topic)}`;
const j = (topic: string, id: string): string => `${t(topic)}/jobs/${encodeURIComponent(id)}`;

export interface PageQuery {
  state: ListState;
  limit: number;
  after?: string | null;
  q?: string;
}

export const api = {
  broker: () => call<BrokerInfo>('GET', '/v1/broker'),
  /** Who this session is: `role: 'read'` may look but not change anything. */
  session: () => call<{ auth: boolean; role: 'admin' | 'read' }>('GET', '/dashboard/session'),
  /** 404 NOT_FOUND when the topic does not exist (and asking creates nothing). */
  topic: (topic: string) => call<TopicInfo>('GET', t(topic)),
  configure: (topic: string, settings: Partial<TopicSettings>) => call<TopicSettings>('PATCH', t(topic), settings),
  jobs: (topic: string, query: PageQuery) => {
    const params = new URLSearchParams({ state: query.state, limit: String(query.limit) });
    if (query.after) params.set('after', query.after);
    if (query.q) params.set('q', query.q);
    return call<JobPage>('GET', `${t(topic)}/jobs?${params}`);
  },
  job: (topic: string, id: string) => call<Job>('GET', j(topic, id)),
  workers: (topic: string) => call<{ workers: Worker[] }>('GET', `${t(topic)}/workers`),
  push: (topic: string, job: Record<string, unknown>) => call<{ id: string; created: boolean }>('POST', `${t(topic)}/jobs`, job),
  cancel: (topic: string, id: string) => call<{ id: string; state: string }>('DELETE', j(topic, id)),
  retry: (topic: string, id: string) => call<{ id: string; state: string }>('POST', `${j(topic, id)}/retry`),
  retryDead: (topic: string, ids?: string[]) => call<RetryDeadResult>('POST', `${t(topic)}/dead/retry`, ids ? { ids } : {}),
  setPaused: (topic: string, paused: boolean) => call<{ paused: boolean }>('PATCH', t(topic), { paused }),
  cancelMany: (topic: string, what: { ids: string[] } | { state: 'pending' | 'delayed'; max?: number }) => call<CancelResult>('POST', `${t(topic)}/cancel`, what),
  purgeDead: (topic: string, ids?: string[]) => call<PurgeResult>('POST', `${t(topic)}/dead/purge`, ids ? { ids } : {}),
  completed: (topic: string, limit: number) => call<{ jobs: Completion[] }>('GET', `${t(topic)}/completed?limit=${limit}`),
  statsHistory: (topic?: string) => call<StatsHistory>('GET', `/v1/broker/stats/history${topic === undefined ? '' : `?topic=${encodeURIComponent(topic)}`}`),
  logout: () => call<unknown>('POST', '/dashboard/logout'),
};

/** A readable line for any failure, e.g. "PERMISSION_DENIED: this token may only read". */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
