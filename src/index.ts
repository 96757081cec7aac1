/**
 * bucketq: a durable job queue whose whole state lives in object storage.
 *
 * The "." entry: the embedded, typed API ({@link createQueue}, {@link createWorker}), errors, the
 * broker for sharing one commit loop between queues, clocks for tests, and the public types.
 */
export { createQueue } from './queue.js';
export type {
  AckItem,
  ClaimedJob,
  ClaimOptions,
  EmbeddedQueue,
  ItemOutcome,
  JobRecord,
  LeaseHandle,
  NackItem,
  NackOptions,
  NackResult,
  PushOptions,
  PushResult,
  Queue,
  QueueOptions,
  RetryDeadResult,
  TopicSettingsUpdate,
} from './api.js';
export { createClient, type ClientOptions } from './client/client.js';
export { createWorker } from './worker/index.js';
export type { CloseOptions, Handler, Worker, WorkerEvents, WorkerJob, WorkerOptions, WorkerState } from './worker/index.js';
export { QueueError, isQueueError, type ErrorCode, type QueueErrorOptions } from './errors.js';
export { openStore, createMemoryStore, type OpenStoreOptions, type StorageDriver } from './storage/index.js';
export { Broker, createBroker, type BrokerOptions } from './broker/broker.js';
export { FakeClock, systemClock, type Clock } from './clock.js';
export type { Backoff, BrokerLease, Counters, JobState, JobStats, TopicSettings } from './core/types.js';
export type { AckRequest, ClaimRequest, HeartbeatRequest, LeaseRequest, Limits, NackRequest, PushJobRequest } from './protocol.js';
export { DEFAULT_LEASE_MS, DEFAULT_LIMITS } from './protocol.js';
