/**
 * The operator console's routes (docs/http-api.md, "Dashboard API"), beside the browsing ones of
 * routes.ts: the jobs a topic completed lately with their results, cancelling many jobs at once,
 * purging dead jobs, and the stats history the charts start from. Changes are POSTs, so the
 * read-only token gets 403 (http/auth.ts); each change is one commit.
 */
import { MAX_PAGE } from '../../../core/ops/browse-ops.js';
import { checkTopic, wholeSettleError } from '../../../protocol.js';
import { asQueueError } from '../../shared/error-codes.js';
import type { Route } from '../route.js';
import { PER_TOPIC } from './recent-completions.js';
import { bad, idList, query } from './routes.js';

const CANCELLABLE = ['pending', 'delayed'] as const;
type Cancellable = (typeof CANCELLABLE)[number];

/** A request body that is an object holding only `allowed` fields. */
function object(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  const o = body === undefined ? {} : body;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad(`the request body must be a JSON object with ${allowed.join(' or ')}`);
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw bad(`the request body has an unknown field ${JSON.stringify(k)} (allowed: ${allowed.join(', ')})`);
  return o as Record<string, unknown>;
}

function limitOf(text: string | undefined, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  const n = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= max)) throw bad(`limit must be an integer from 1 to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

export const CONSOLE_ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: ['v1', 'topics', ':topic', 'completed'],
    body: false,
    run: async ({ topics, params, query: search, completions }) => {
      const q = query(search, ['limit']);
      const limit = limitOf(q.get('limit'), PER_TOPIC, 20);
      await topics.require(params.topic);
      return { status: 200, body: { jobs: completions.of(params.topic, limit) } };
    },
  },
  {
    // Many pending or delayed jobs cancelled in one commit: the listed ones, or the first `max` (a page at most) of a state.
    method: 'POST',
    path: ['v1', 'topics', ':topic', 'cancel'],
    body: true,
    run: async ({ broker, topics, params, body }) => {
      const o = object(body, ['ids', 'state', 'max']);
      if ((o.ids === undefined) === (o.state === undefined)) throw bad('give either {"ids": [...]} or {"state": "pending"|"delayed", "max"?: n}');
      const state = o.state as Cancellable | undefined;
      if (state !== undefined && !(CANCELLABLE as readonly unknown[]).includes(state)) throw bad(`state must be pending or delayed, got ${JSON.stringify(o.state)}`);
      if (o.max !== undefined && (state === undefined || !Number.isInteger(o.max) || (o.max as number) < 1 || (o.max as number) > MAX_PAGE)) {
        throw bad(`max goes with state and is an integer from 1 to ${MAX_PAGE}, got ${JSON.stringify(o.max)}`);
      }
      const listed = o.ids === undefined ? undefined : idList(o.ids, broker.limits.maxBatch);
      await topics.require(params.topic);
      // The raw op, not Broker#listJobs: ids are all this needs, so no payload object is read.
      const ids = listed ?? (await broker.call(params.topic, 'listJobs', { state: state!, limit: (o.max as number | undefined) ?? MAX_PAGE })).jobs.map((j) => j.id);
      // Submitted in one synchronous pass: one batch, so one commit.
      const outcomes = await Promise.all(ids.map((id) => broker.cancel(params.topic, id).then(() => null, (err: unknown) => asQueueError(err))));
      const whole = wholeSettleError(outcomes.map((e) => e ?? undefined));
      if (whole) throw whole;
      const skipped = outcomes.flatMap((e, i) => (e ? [{ id: ids[i]!, code: e.code, message: e.message }] : []));
      const out: Record<string, unknown> = { cancelled: ids.length - skipped.length, skipped };
      if (state !== undefined) out.remaining = (await broker.stats(params.topic))[state];
      return { status: 200, body: out };
    },
  },
  {
    method: 'POST',
    path: ['v1', 'topics', ':topic', 'dead', 'purge'],
    body: true,
    run: async ({ broker, topics, params, body }) => {
      const o = object(body, ['ids']);
      const ids = o.ids === undefined ? undefined : idList(o.ids, broker.limits.maxBatch);
      await topics.require(params.topic);
      return { status: 200, body: await broker.purgeDead(params.topic, ids) };
    },
  },
  {
    method: 'GET',
    path: ['v1', 'broker', 'stats', 'history'],
    body: false,
    run: async ({ query: search, stats }) => {
      const topic = query(search, ['topic']).get('topic');
      if (topic !== undefined) checkTopic(topic);
      return { status: 200, body: stats.historyOf(topic) };
    },
  },
];
