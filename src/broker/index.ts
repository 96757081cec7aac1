/** The `./broker` entry: the broker (one commit loop per topic over one store) and its clock. */
export { Broker, createBroker, randomId, type BrokerOptions } from './broker.js';
export { FakeClock, settle, systemClock, type Clock } from '../clock.js';
export type * from './broker-events.js';
export type { RetryPolicy } from './retry.js';
