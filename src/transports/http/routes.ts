/**
 * The routes of the HTTP API v1 (docs/http-api.md): each one turns a request into one Broker call
 * and the result into a JSON answer. Validation of fields is the protocol's (src/protocol.ts),
 * shared with every surface; this file only rejects fields the protocol would silently ignore.
 */
import type { JobStats, TopicSettings } from '../../core/types.js';
import { QueueError } from '../../errors.js';
import { ackRequestOf, checkReleaseSize, checkSettings, checkSettleSize, claimRequestOf, heartbeatRequestOf, leaseRequestOf, nackRequestOf, wholeSettleError } from '../../protocol.js';
import { asQueueError, wireError, type WireError } from '../shared/error-codes.js';
import { CONSOLE_ROUTES } from './dashboard-server/console-routes.js';
import { DASHBOARD_ROUTES } from './dashboard-server/routes.js';
import { claimAnswerBytes } from './claimed-job.js';
import { publicJob } from './public-job.js';
import type { Route } from './route.js';

function bad(message: string): QueueError {
  return new QueueError('INVALID_ARGUMENT', message);
}

/** The body as an object holding only `allowed` fields. */
function fields(body: unknown, allowed: readonly string[], where = 'the request body'): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad(`${where} must be a JSON object`);
  const o = body as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw bad(`${where} has an unknown field ${JSON.stringify(k)} (allowed: ${allowed.join(', ')})`);
  }
  return o;
}

/** The settings a PATCH answers with: exactly these three fields. */
function settingsBody(s: TopicSettings): TopicSettings {
  return { maxAttempts: s.maxAttempts, backoff: s.backoff, paused: s.paused };
}

function statsBody(stats: JobStats): Record<string, unknown> {
  const { broker, ...rest } = stats;
  return { ...rest, leader: broker };
}

/** Runs `fn` for every item, at most `limit` at a time, keeping order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

type Outcome = ({ ok: true } & Record<string, unknown>) | { ok: false; error: WireError };

/** One item of a settle: validation errors (thrown synchronously by the broker) stay the item's own. */
async function outcome(call: () => Promise<object>): Promise<Outcome & { raw?: QueueError }> {
  try {
    return { ok: true, ...(await call()) };
  } catch (err) {
    const q = asQueueError(err);
    return { ok: false, error: wireError(q), raw: q };
  }
}

const LEASE_FIELDS = ['workerId', 'lease'] as const;

export const ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: ['healthz'],
    body: false,
    public: true,
    run: async ({ broker }) => ({ status: 200, body: { ok: true, broker: broker.id } }),
  },
  { method: 'GET', path: ['v1', 'events'], body: false, stream: 'events' },
  {
    method: 'GET',
    path: ['v1', 'topics'],
    body: false,
    run: async ({ broker, topics }) => {
      const names = await broker.topics();
      for (const t of names) topics.add(t);
      const list = await mapLimit(names, 8, async (topic) => {
        try {
          return { topic, ...statsBody(await broker.stats(topic)) };
        } catch (err) {
          // Led by another broker (or unreadable): say so for this topic, answer for the others.
          const q = asQueueError(err);
          const d = q.details ?? {};
          const leader = q.code === 'NOT_LEADER' ? { id: d.leaderId, url: d.leader, epoch: d.epoch, leaseUntil: d.leaseUntil } : undefined;
          return leader ? { topic, leader, error: wireError(q) } : { topic, error: wireError(q) };
        }
      });
      return { status: 200, body: { topics: list } };
    },
  },
  {
    method: 'GET',
    path: ['v1', 'topics', ':topic'],
    body: false,
    run: async ({ broker, topics, params }) => {
      await topics.require(params.topic);
      return { status: 200, body: { topic: params.topic, ...statsBody(await broker.stats(params.topic)) } };
    },
  },
  {
    method: 'PATCH',
    path: ['v1', 'topics', ':topic'],
    body: true,
    run: async ({ broker, topics, params, body }) => {
      const settings = checkSettings(fields(body, ['maxAttempts', 'backoff', 'paused']));
      // Like push and claim, this creates the topic: a topic may be set up (or paused) before its first push.
      const configured = await broker.configure(params.topic, settings);
      topics.add(params.topic);
      return { status: 200, body: settingsBody(configured as TopicSettings) };
    },
  },
  {
    // An operator's action: serve a topic whose state was lost again (docs/operations.md).
    method: 'POST',
    path: ['v1', 'topics', ':topic', 'reset'],
    body: true,
    run: async ({ broker, topics, params, body }) => {
      const o = fields(body ?? {}, ['restoreFromMemory']);
      if (o.restoreFromMemory !== undefined && typeof o.restoreFromMemory !== 'boolean') throw bad(`restoreFromMemory must be true or false, got ${JSON.stringify(o.restoreFromMemory)}`);
      const out = await broker.resetTopic(params.topic, { restoreFromMemory: o.restoreFromMemory === true });
      topics.add(params.topic);
      return { status: 200, body: out };
    },
  },
  {
    method: 'POST',
    path: ['v1', 'topics', ':topic', 'jobs'],
    body: true,
    run: async ({ broker, topics, params, body }) => {
      if (typeof body === 'object' && body !== null && !Array.isArray(body) && 'jobs' in body) {
        const o = fields(body, ['jobs', 'atomic']);
        if (!Array.isArray(o.jobs)) throw bad('jobs must be a non-empty array');
        if (o.atomic !== undefined && typeof o.atomic !== 'boolean') throw bad(`atomic must be true or false, got ${JSON.stringify(o.atomic)}`);
        if (o.atomic === false) {
          // Each job answered on its own: a refused one fails alone (the client's coalesced pushes).
          const each = await broker.pushEach(params.topic, o.jobs);
          if (each.some((r) => r.ok)) topics.add(params.topic);
          const created = each.some((r) => r.ok && r.value.created);
          const jobs = each.map((r) => (r.ok ? { ok: true, id: r.value.id, created: r.value.created } : { ok: false, error: wireError(r.error) }));
          return { status: created ? 201 : 200, body: { jobs } };
        }
        const out = await broker.push(params.topic, o.jobs);
        topics.add(params.topic);
        return { status: out.some((j) => j.created) ? 201 : 200, body: { jobs: out.map((j) => ({ id: j.id, created: j.created })) } };
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('the request body must be a job {payload, ...} or {"jobs": [...]}');
      const [out] = await broker.push(params.topic, [body as { payload: unknown }]);
      topics.add(params.topic);
      if (out!.created) return { status: 201, body: { id: out!.id, created: true } };
      return { status: 200, body: { id: out!.id, created: false, job: out!.existing ? publicJob(out!.existing) : { id: out!.id, state: out!.state } } };
    },
  },
  {
    method: 'POST',
    path: ['v1', 'topics', ':topic', 'claim'],
    body: true,
    run: async ({ broker, topics, params, body, signal }) => {
      const o = fields(body, ['workerId', 'max', 'waitMs', 'leaseMs']);
      // A client that leaves before its answer gets nothing: the broker hands its jobs back.
      const jobs = await broker.claim(params.topic, claimRequestOf(o, broker.limits), signal);
      topics.add(params.topic);
      return { status: 200, body: undefined, json: claimAnswerBytes(jobs) };
    },
  },
  {
    method: 'POST',
    path: ['v1', 'topics', ':topic', 'release'],
    body: true,
    run: async ({ broker, topics, params, body }) => {
      const o = fields(body, ['jobs']);
      if (!Array.isArray(o.jobs)) throw bad('jobs must be a non-empty array of {id, workerId, lease}');
      await topics.require(params.topic);
      checkReleaseSize(o.jobs, broker.limits);
      const jobs = o.jobs.map((j: unknown, i: number) => leaseRequestOf(fields(j, ['id', ...LEASE_FIELDS], `jobs[${i}]`)));
      return { status: 200, body: await broker.release(params.topic, jobs) };
    },
  },
  {
    method: 'POST',
    path: ['v1', 'topics', ':topic', 'settle'],
    body: true,
    run: async ({ broker, topics, params, body }) => {
      const o = fields(body, ['acks', 'nacks']);
      for (const k of ['acks', 'nacks'] as const) {
        if (o[k] !== undefined && !Array.isArray(o[k])) throw bad(`${k} must be an array`);
      }
      const acks = (o.acks ?? []) as unknown[];
      const nacks = (o.nacks ?? []) as unknown[];
      checkSettleSize(acks.length + nacks.length, broker.limits);
      await topics.require(params.topic);
      // Every call is submitted in this one synchronous pass, so they share one commit.
      const ackOut = acks.map((a, i) =>
        outcome(() => broker.ack(params.topic, ackRequestOf(fields(a, ['id', ...LEASE_FIELDS, 'result'], `acks[${i}]`)))),
      );
      const nackOut = nacks.map((n, i) =>
        outcome(() => broker.nack(params.topic, nackRequestOf(fields(n, ['id', ...LEASE_FIELDS, 'error', 'delayMs'], `nacks[${i}]`)))),
      );
      const [a, n] = await Promise.all([Promise.all(ackOut), Promise.all(nackOut)]);
      const whole = wholeSettleError([...a, ...n].map((r) => r.raw));
      if (whole) throw whole;
      const strip = ({ raw: _raw, ...r }: Outcome & { raw?: QueueError }) => r;
      return { status: 200, body: { acks: a.map(strip), nacks: n.map(strip) } };
    },
  },
  {
    method: 'GET',
    path: ['v1', 'topics', ':topic', 'jobs', ':id'],
    body: false,
    run: async ({ broker, topics, params, history }) => {
      await topics.require(params.topic);
      const job = publicJob(await broker.get(params.topic, params.id));
      const seen = history.of(params.topic, params.id);
      return { status: 200, body: seen ? { ...job, history: seen } : job };
    },
  },
  {
    method: 'DELETE',
    path: ['v1', 'topics', ':topic', 'jobs', ':id'],
    body: false,
    run: async ({ broker, topics, params }) => {
      await topics.require(params.topic);
      return { status: 200, body: await broker.cancel(params.topic, params.id) };
    },
  },
  {
    method: 'POST',
    path: ['v1', 'topics', ':topic', 'jobs', ':id', 'heartbeat'],
    body: true,
    run: async ({ broker, topics, params, body }) => {
      const o = fields(body, [...LEASE_FIELDS, 'leaseMs']);
      await topics.require(params.topic);
      return { status: 200, body: await broker.heartbeat(params.topic, heartbeatRequestOf({ ...o, id: params.id }, broker.limits)) };
    },
  },
  {
    method: 'POST',
    path: ['v1', 'topics', ':topic', 'jobs', ':id', 'ack'],
    body: true,
    run: async ({ broker, topics, params, body }) => {
      const o = fields(body, [...LEASE_FIELDS, 'result']);
      await topics.require(params.topic);
      return { status: 200, body: await broker.ack(params.topic, ackRequestOf({ ...o, id: params.id })) };
    },
  },
  {
    method: 'POST',
    path: ['v1', 'topics', ':topic', 'jobs', ':id', 'nack'],
    body: true,
    run: async ({ broker, topics, params, body }) => {
      const o = fields(body, [...LEASE_FIELDS, 'error', 'delayMs']);
      await topics.require(params.topic);
      return { status: 200, body: await broker.nack(params.topic, nackRequestOf({ ...o, id: params.id })) };
    },
  },
  {
    method: 'POST',
    path: ['v1', 'topics', ':topic', 'jobs', ':id', 'retry'],
    body: false,
    run: async ({ broker, topics, params }) => {
      await topics.require(params.topic);
      return { status: 200, body: await broker.retry(params.topic, params.id) };
    },
  },
  // The dashboard's routes (jobs by state, retry all dead, workers, this broker, live stats) and
  // the console's (recent completions, bulk cancel, purge dead, stats history).
  ...DASHBOARD_ROUTES,
  ...CONSOLE_ROUTES,
];
