/**
 * The `./server` entry: a network broker inside your own process (what `bucketq broker` runs):
 * the broker, its HTTP/gRPC/Connect listener, the optional Redis listener, readiness and the drain.
 */
export { startBrokerServer, DEFAULT_BROKER_LEASE_MS, DEFAULT_LEADER_PROBE_MS, DEFAULT_MAX_CONNECTIONS, type BrokerServer, type BrokerServerOptions } from './broker-server.js';
