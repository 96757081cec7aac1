/**
 * What a BrokerServer logs about its broker, from the broker's events and the instrumented store:
 * leadership gained (info), lost to another broker (warn), a topic's state lost (error, once per
 * loss) and reset (warn), internal errors (error), failed storage calls (warn; a lost
 * compare-and-swap is routine and only debug) and slow commits (debug).
 */
import type { Broker } from '../broker/broker.js';
import { isQueueError } from '../errors.js';
import type { StorageCall } from '../storage/instrumented.js';
import { errorFields, type Logger } from './logger.js';

/** Commits slower than this are logged at debug level (default 1 s). */
export const DEFAULT_SLOW_COMMIT_MS = 1000;

export function logBrokerEvents(broker: Broker, logger: Logger, slowCommitMs = DEFAULT_SLOW_COMMIT_MS): void {
  // A listener that throws stops the emit: the listeners after it (the event feed, metrics) would
  // miss the event. The logger may be any object, so its failures stay here.
  const quiet =
    <A extends unknown[]>(listener: (...args: A) => void) =>
    (...args: A): void => {
      try {
        listener(...args);
      } catch {
        // a log line lost, nothing else
      }
    };
  const events = broker.events;
  events.on('leader', quiet((e) => logger.info({ event: 'leader', topic: e.topic, epoch: e.epoch }, `leading topic ${e.topic}`)));
  events.on(
    'fenced',
    quiet((e) => logger.warn({ event: 'fenced', topic: e.topic, leader: e.leader ? { id: e.leader.id, url: e.leader.url } : null }, `lost topic ${e.topic} to another broker`)),
  );
  events.on(
    'state-lost',
    quiet((e) =>
      logger.error({ event: 'state-lost', topic: e.topic, seq: e.seq, memorySeq: e.memorySeq, error: errorFields(e.error) }, `state of topic ${e.topic} lost; not serving it until reset`),
    ),
  );
  events.on(
    'segment-lost',
    quiet((e) => logger.error({ event: 'segment-lost', topic: e.topic, key: e.key, error: errorFields(e.error) }, `segment ${e.key} of topic ${e.topic} lost; its jobs wait until it is restored`)),
  );
  events.on(
    'state-reset',
    quiet((e) => logger.warn({ event: 'state-reset', topic: e.topic, action: e.action, seq: e.seq }, `topic ${e.topic} serving again (${e.action}, commit ${e.seq})`)),
  );
  events.on(
    'internal-error',
    quiet((e) => {
      if (isQueueError(e.error, 'CLOSED')) return;
      logger.error({ event: 'internal-error', topic: e.topic, op: e.op, error: errorFields(e.error) }, `internal error on topic ${e.topic}: ${e.op}`);
    }),
  );
  events.on(
    'commit',
    quiet((e) => {
      if (e.ms >= slowCommitMs) {
        logger.debug({ event: 'slow-commit', topic: e.topic, seq: e.seq, ms: e.ms, requests: e.requests, bytes: e.bytes, conflicts: e.conflicts }, `slow commit on topic ${e.topic}`);
      }
    }),
  );
}

/** The log line of a failed storage call (successful ones are not logged: see the metrics). */
export function logStorageCall(logger: Logger, call: StorageCall): void {
  if (call.errorCode === null) return;
  const fields = { event: 'storage-error', op: call.op, key: call.key, ms: Math.round(call.seconds * 1000), error: errorFields(call.error) };
  if (call.errorCode === 'STORE_CONFLICT') logger.debug(fields, `storage ${call.op} lost a conditional write`);
  else logger.warn(fields, `storage ${call.op} failed`);
}
