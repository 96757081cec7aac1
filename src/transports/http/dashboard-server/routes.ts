/**
 * The routes behind the dashboard (docs/http-api.md, "Dashboard API"): pages of jobs by state,
 * retry every dead job, the workers holding leases, and what this broker is and leads. Reads are
 * answered from the committed state and write nothing. The handler (http/handler.ts) matches them after the API's routes.
 */
import { LISTABLE_STATES, MAX_PAGE, type ListableState } from '../../../core/ops/browse-ops.js';
import { QueueError } from '../../../errors.js';
import { checkId } from '../../../protocol.js';
import { publicJob } from '../public-job.js';
import type { Route } from '../route.js';

export function bad(message: string): QueueError {
  return new QueueError('INVALID_ARGUMENT', message);
}

/** Only these query parameters, each at most once. */
export function query(params: URLSearchParams, allowed: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of params) {
    if (!allowed.includes(k)) throw bad(`unknown query parameter ${JSON.stringify(k)} (allowed: ${allowed.join(', ')})`);
    if (out.has(k)) throw bad(`query parameter ${k} is given twice`);
    out.set(k, v);
  }
  return out;
}

function pageLimit(text: string | undefined): number {
  if (text === undefined) return 50;
  const n = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_PAGE)) throw bad(`limit must be an integer from 1 to ${MAX_PAGE}, got ${JSON.stringify(text)}`);
  return n;
}

/** `ids` of a request body: a non-empty array of at most `max` job ids. */
export function idList(ids: unknown, max: number): string[] {
  if (!Array.isArray(ids) || ids.length === 0) throw bad('ids must be a non-empty array of job ids');
  if (ids.length > max) throw new QueueError('PAYLOAD_TOO_LARGE', `at most ${max} ids at once, got ${ids.length}`);
  return ids.map((id, i) => checkId(id, `ids[${i}]`));
}

export const DASHBOARD_ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: ['v1', 'topics', ':topic', 'jobs'],
    body: false,
    run: async ({ broker, topics, params, query: search }) => {
      const q = query(search, ['state', 'limit', 'after', 'q']);
      const state = (q.get('state') ?? 'pending') as ListableState;
      if (!LISTABLE_STATES.includes(state)) throw bad(`state must be one of ${LISTABLE_STATES.join(', ')}, got ${JSON.stringify(q.get('state'))}`);
      const limit = pageLimit(q.get('limit'));
      const after = q.get('after');
      const prefix = q.get('q');
      if (prefix !== undefined && prefix.length > 256) throw bad('q (an id prefix) is at most 256 characters');
      await topics.require(params.topic);
      const page = await broker.listJobs(params.topic, {
        state,
        limit,
        ...(after !== undefined && after !== '' ? { after } : {}),
        ...(prefix !== undefined && prefix !== '' ? { q: prefix } : {}),
      });
      return { status: 200, body: { jobs: page.jobs.map(publicJob), next: page.next, total: page.total, ...(page.inSegments ? { inSegments: page.inSegments } : {}) } };
    },
  },
  {
    method: 'POST',
    path: ['v1', 'topics', ':topic', 'dead', 'retry'],
    body: true,
    run: async ({ broker, topics, params, body }) => {
      const o = body === undefined ? {} : body;
      if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad('the request body must be {} or {"ids": [...]}');
      const rec = o as Record<string, unknown>;
      for (const k of Object.keys(rec)) if (k !== 'ids') throw bad(`the request body has an unknown field ${JSON.stringify(k)} (allowed: ids)`);
      const ids = rec.ids === undefined ? undefined : idList(rec.ids, broker.limits.maxBatch);
      await topics.require(params.topic);
      const out = await broker.retryDead(params.topic, ids);
      return { status: 200, body: out };
    },
  },
  {
    method: 'GET',
    path: ['v1', 'topics', ':topic', 'workers'],
    body: false,
    run: async ({ broker, topics, params }) => {
      await topics.require(params.topic);
      return { status: 200, body: await broker.workers(params.topic) };
    },
  },
  {
    method: 'GET',
    path: ['v1', 'broker'],
    body: false,
    run: async ({ broker, info }) => {
      // Topics in the store this broker has not looked at yet are listed with an unknown leader.
      const known = new Map(broker.topicLeases().map((t) => [t.topic, t]));
      const names = new Set([...(await broker.topics()), ...known.keys()]);
      const topics = [...names].sort().map((topic) => known.get(topic) ?? { topic, leading: false, leader: null });
      return {
        status: 200,
        body: { id: broker.id, url: broker.url, version: info.version, startedAt: info.startedAt, store: info.store, topics },
      };
    },
  },
  { method: 'GET', path: ['v1', 'broker', 'stats', 'stream'], body: false, stream: 'stats' },
];
