/**
 * `bucketq/client`: a topic of a network broker (group) as a {@link Queue}, the interface of the
 * embedded queue, so `createWorker` runs on it unchanged.
 */
export { createClient, type Client, type ClientOptions } from './client.js';
export { watchEvents, type EventsOptions } from './events.js';
export type * from '../event-types.js';
export type { ConnectionOptions, RetryOptions } from './connection.js';
export { listTopics, type TopicSummary } from './topics.js';
export { discoverBroker, readLeader, type Discovered } from './discovery.js';
export type * from '../api.js';
export { QueueError, isQueueError, type ErrorCode } from '../errors.js';
