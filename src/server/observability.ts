/**
 * What a BrokerServer shows its operators, in one place, so the server's assembly stays a few
 * lines (named "observability" so it is not read as the queue operations of core/ops/): the
 * instrumented store (metrics, logs, readiness all see every storage call), the per-server
 * Prometheus registry, the logs of broker events, /metrics and /readyz.
 *
 * Lifecycle: createObservability() before the Broker (the broker must get the instrumented store),
 * attach(broker) right after it, draining() when close() begins, stopped() once the broker stopped.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Broker } from '../broker/broker.js';
import { instrumentStore, type InstrumentedStore } from '../storage/instrumented.js';
import type { StorageDriver } from '../storage/types.js';
import { bearerRole, roleChecker, type BearerCheck, type ConnectionRejectReason } from '../transports/shared/index.js';
import { logBrokerEvents, logStorageCall } from './broker-logs.js';
import { connectionRejectionLog, type ConnectionListener } from './connection-reports.js';
import { LeadershipTracker } from './leadership.js';
import { errorFields, silentLogger, type Logger } from './logger.js';
import { BrokerMetrics } from './metrics.js';
import type { ListenAddress } from './address.js';
import { listenMetricsPort, type MetricsPort } from './metrics-port.js';
import { createOpsHandler, opsRoute, type OpsHandler, type OpsHttpOptions } from './ops-http.js';
import { createReadiness } from './readiness.js';

export interface ObservabilityOptions {
  store: StorageDriver;
  logger?: Logger | undefined;
  token?: string | undefined;
  /** The read-only token may scrape /metrics too (it changes nothing). */
  readToken?: string | undefined;
  slowCommitMs?: number | undefined;
  /** /readyz: how recent the store's last answer must be to skip a probe (default 5 s). */
  readyFreshMs?: number | undefined;
}

export interface Observability {
  /** The store to hand to the Broker. */
  store: InstrumentedStore;
  logger: Logger;
  /** Set once attach() ran. */
  readonly registry: Registry;
  attach(broker: Broker): void;
  /** Whether `url` is /metrics or /readyz (cheap: every request asks). */
  serves(url: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** For the HTTP handler: one answered request. */
  httpAnswered(method: string, route: string, status: number): void;
  /** A connection refused or cut by a connection limit: counted, and logged at warn (rate-limited). */
  connectionRejected(listener: ConnectionListener, reason: ConnectionRejectReason, address: string | undefined): void;
  /** Failures worth an operator's attention (also passed to the server's onError). */
  logError(err: unknown, context: string): void;
  /** Opens the unauthenticated metrics-only port (metrics-port.ts); closed by close(). */
  listenMetrics(address: ListenAddress): Promise<string>;
  draining(): void;
  stopped(): void;
  /** Closes the metrics-only port, if any. */
  close(): Promise<void>;
}

export function createObservability(o: ObservabilityOptions): Observability {
  const logger = o.logger ?? silentLogger;
  let metrics: BrokerMetrics | null = null;
  let leadership: LeadershipTracker | null = null;
  let handler: OpsHandler | null = null;
  let handlerOptions: OpsHttpOptions | null = null;
  let metricsPort: MetricsPort | null = null;
  let phase: 'serving' | 'draining' = 'serving';
  const logRejection = connectionRejectionLog(logger);
  const store = instrumentStore(o.store, (call) => {
    metrics?.storageCall(call);
    logStorageCall(logger, call);
  });

  const ops: Observability = {
    store,
    logger,
    get registry(): Registry {
      if (!metrics) throw new Error('operations: attach(broker) first');
      return metrics.registry;
    },
    attach(broker) {
      leadership = new LeadershipTracker(broker);
      metrics = new BrokerMetrics(broker, leadership);
      logBrokerEvents(broker, logger, o.slowCommitMs);
      const roleOf = roleChecker({ token: o.token, readToken: o.readToken });
      // Either role may read the metrics.
      const checkBearer = roleOf
        ? (header: string | undefined): BearerCheck => {
            const role = bearerRole(roleOf, header);
            return role === 'missing' || role === 'invalid' ? role : 'ok';
          }
        : null;
      handlerOptions = {
        metrics,
        readiness: createReadiness({ brokerId: broker.id, store, leadership, phase: () => phase, troubles: () => broker.topicTroubles(), freshMs: o.readyFreshMs }),
        checkBearer,
        draining: () => phase === 'draining',
        onError: (err, req) => ops.logError(err, `${req.method} ${req.url}`),
      };
      handler = createOpsHandler(handlerOptions);
    },
    serves: (url) => handler !== null && opsRoute(url) !== null,
    handle: (req, res) => handler!(req, res),
    httpAnswered: (method, route, status) => metrics?.httpAnswered(method, route, status),
    connectionRejected(listener, reason, address) {
      metrics?.connectionRejected(listener, reason); // before attach() (the port opens first): logged only
      logRejection(listener, reason, address);
    },
    logError: (err, context) => logger.error({ event: 'error', context, error: errorFields(err) }, `error: ${context}`),
    async listenMetrics(address) {
      if (!handlerOptions) throw new Error('operations: attach(broker) first');
      // The same endpoints without a token check; never closing connections early (it outlives the drain).
      metricsPort = await listenMetricsPort(address, createOpsHandler({ ...handlerOptions, checkBearer: null, draining: () => false }));
      return metricsPort.url;
    },
    draining: () => {
      phase = 'draining';
    },
    stopped: () => leadership?.releasedAll(),
    close: async () => {
      await metricsPort?.close();
    },
  };
  return ops;
}
