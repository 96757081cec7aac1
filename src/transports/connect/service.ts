/**
 * The unary methods of bucketq.v1.Queue: each is one Broker call (Settle: one commit of many),
 * exactly as the HTTP routes (transports/http/routes.ts) make them, so validation, defaults and
 * errors are the same on every wire. Push, Claim and ClaimStream create a topic; the others
 * answer NOT_FOUND for one that does not exist (and create nothing).
 */
import { create } from '@bufbuild/protobuf';
import type { Broker } from '../../broker/broker.js';
import type { QueueError } from '../../errors.js';
import {
  AckResponseSchema,
  ClaimResponseSchema,
  HeartbeatResponseSchema,
  ListTopicsResponseSchema,
  NackResponseSchema,
  ReleaseResponseSchema,
  PushResponseSchema,
  SettleOutcomeSchema,
  SettleResponseSchema,
  StateResponseSchema,
  TopicEntrySchema,
  type SettleOutcome,
  type SettleRequest,
} from '../../gen/bucketq/v1/queue_pb.js';
import type { Queue } from '../../gen/bucketq/v1/queue_pb.js';
import { checkSettleSize, checkTopic, wholeSettleError } from '../../protocol.js';
import { asQueueError } from '../shared/error-codes.js';
import { big, claimedJob, fromValue, job, num, pushJob, topicStats } from './convert.js';
import { itemError } from './errors.js';
import type { TopicDirectory } from '../shared/topic-directory.js';
import type { ServiceImpl } from '@connectrpc/connect';

export type UnaryMethods = Omit<ServiceImpl<typeof Queue>, 'claimStream'>;

/** Drops undefined members, so the broker sees a field as absent, never as `undefined`. */
function plain<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

async function outcome(call: () => Promise<{ id: string; state?: string; runAt?: number }>): Promise<{ out: SettleOutcome; err?: QueueError }> {
  try {
    const r = await call();
    return { out: create(SettleOutcomeSchema, plain({ ok: true, id: r.id, state: r.state, runAt: r.runAt === undefined ? undefined : big(r.runAt) })) };
  } catch (e) {
    const err = asQueueError(e);
    return { out: create(SettleOutcomeSchema, { ok: false, error: itemError(err) }), err };
  }
}

async function settle(broker: Broker, topics: TopicDirectory, req: SettleRequest) {
  checkSettleSize(req.acks.length + req.nacks.length, broker.limits);
  const topic = await topics.require(req.topic);
  // Every call is submitted in this one synchronous pass, so they share one commit.
  const acks = req.acks.map((a) =>
    outcome(() => broker.ack(topic, plain({ id: a.id, workerId: a.workerId, lease: a.lease, result: a.result ? fromValue(a.result) : undefined }))),
  );
  const nacks = req.nacks.map((x) => outcome(() => broker.nack(topic, plain({ id: x.id, workerId: x.workerId, lease: x.lease, error: x.error, delayMs: num(x.delayMs) }))));
  const [a, b] = await Promise.all([Promise.all(acks), Promise.all(nacks)]);
  const whole = wholeSettleError([...a, ...b].map((r) => r.err));
  if (whole) throw whole;
  return create(SettleResponseSchema, { acks: a.map((r) => r.out), nacks: b.map((r) => r.out) });
}

export function unaryMethods(broker: Broker, topics: TopicDirectory): UnaryMethods {
  return {
    async push(req) {
      const out = await broker.push(checkTopic(req.topic), req.jobs.map(pushJob));
      topics.add(req.topic);
      return create(PushResponseSchema, { jobs: out.map((j) => ({ id: j.id, created: j.created, state: j.existing?.state ?? j.state })) });
    },
    async claim(req, ctx) {
      const topic = checkTopic(req.topic);
      // A cancelled call gets nothing: the broker hands its jobs back.
      const jobs = await broker.claim(topic, plain({ workerId: req.workerId, max: req.max, waitMs: req.waitMs, leaseMs: req.leaseMs }), ctx.signal);
      topics.add(topic);
      return create(ClaimResponseSchema, { jobs: jobs.map(claimedJob) });
    },
    async heartbeat(req) {
      const topic = await topics.require(req.topic);
      const out = await broker.heartbeat(topic, plain({ id: req.id, workerId: req.workerId, lease: req.lease, leaseMs: req.leaseMs }));
      return create(HeartbeatResponseSchema, { leaseUntil: big(out.leaseUntil) });
    },
    async ack(req) {
      const topic = await topics.require(req.topic);
      const out = await broker.ack(topic, plain({ id: req.id, workerId: req.workerId, lease: req.lease, result: req.result ? fromValue(req.result) : undefined }));
      return create(AckResponseSchema, { id: out.id });
    },
    async nack(req) {
      const topic = await topics.require(req.topic);
      const out = await broker.nack(topic, plain({ id: req.id, workerId: req.workerId, lease: req.lease, error: req.error, delayMs: num(req.delayMs) }));
      return create(NackResponseSchema, plain({ id: out.id, state: out.state, runAt: out.runAt === undefined ? undefined : big(out.runAt) }));
    },
    settle: (req) => settle(broker, topics, req),
    async release(req) {
      const topic = await topics.require(req.topic);
      const out = await broker.release(topic, req.jobs.map((j) => ({ id: j.id, workerId: j.workerId, lease: j.lease })));
      return create(ReleaseResponseSchema, { released: out.released });
    },
    async get(req) {
      const topic = await topics.require(req.topic);
      return job(await broker.get(topic, req.id));
    },
    async cancel(req) {
      const topic = await topics.require(req.topic);
      const out = await broker.cancel(topic, req.id);
      return create(StateResponseSchema, { id: out.id, state: out.state });
    },
    async retry(req) {
      const topic = await topics.require(req.topic);
      const out = await broker.retry(topic, req.id);
      return create(StateResponseSchema, { id: out.id, state: out.state });
    },
    async stats(req) {
      const topic = await topics.require(req.topic);
      return topicStats(topic, await broker.stats(topic));
    },
    async listTopics() {
      const names = await broker.topics();
      for (const t of names) topics.add(t);
      const entries = [];
      // One at a time keeps a store with many topics from being hit all at once; stats are cached reads.
      for (const topic of names) {
        try {
          entries.push(create(TopicEntrySchema, { topic, stats: topicStats(topic, await broker.stats(topic)) }));
        } catch (err) {
          entries.push(create(TopicEntrySchema, { topic, error: itemError(asQueueError(err)) }));
        }
      }
      return create(ListTopicsResponseSchema, { topics: entries });
    },
  };
}
