/**
 * GET /readyz: whether a load balancer should send this broker traffic. Ready means: serving (not
 * starting, not draining), and the store answered recently. A leader renews its leases every third
 * of a lease and a standby lists topics as often, so the store usually answered a moment ago and a
 * check costs nothing; when it has not (an idle broker with a long lease), one cheap read of a key
 * that does not exist probes it, with a short timeout. Concurrent checks share one probe.
 *
 * Leading or standing by are both ready: a standby answers NOT_LEADER with the leader's URL, which
 * every client follows, and takes topics over when their leader dies.
 */
import { QueueError } from '../errors.js';
import type { InstrumentedStore } from '../storage/instrumented.js';
import type { LeadershipTracker } from './leadership.js';

/** A key no topic or archive uses (topics live under `topics/`): reading it returns null. */
export const PROBE_KEY = 'bucketq-readyz-probe';

export interface ReadinessOptions {
  brokerId: string;
  store: InstrumentedStore;
  leadership: LeadershipTracker;
  /** 'serving' once started; 'draining' from close() on. */
  phase(): 'serving' | 'draining';
  /** How recent the store's last answer must be to skip the probe (default 5 s). */
  freshMs?: number;
  /** How long the probe may take (default 2 s). */
  probeTimeoutMs?: number;
}

export interface ReadyAnswer {
  status: 200 | 503;
  body: Record<string, unknown>;
}

export function createReadiness(o: ReadinessOptions): () => Promise<ReadyAnswer> {
  const freshMs = o.freshMs ?? 5000;
  const probeTimeoutMs = o.probeTimeoutMs ?? 2000;
  let probing: Promise<string | null> | null = null;

  /** null when the store answered; otherwise why not. */
  function probe(): Promise<string | null> {
    probing ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new QueueError('STORE_UNAVAILABLE', `no answer within ${probeTimeoutMs} ms`)), probeTimeoutMs);
      });
      try {
        await Promise.race([o.store.read(PROBE_KEY), timeout]);
        return null;
      } catch (err) {
        return err instanceof Error ? err.message : String(err);
      } finally {
        clearTimeout(timer);
        probing = null;
      }
    })();
    return probing;
  }

  function notReady(reason: string, message: string): ReadyAnswer {
    return { status: 503, body: { ready: false, broker: o.brokerId, reason, error: { code: 'UNAVAILABLE', message } } };
  }

  return async () => {
    if (o.phase() === 'draining') return notReady('draining', 'this broker is shutting down');
    const s = o.store;
    const fresh = s.lastAnsweredAt > s.lastFailedAt && performance.now() - s.lastAnsweredAt < freshMs;
    if (!fresh) {
      const failure = await probe();
      if (failure !== null) return notReady('store-unreachable', `the store did not answer: ${failure}`);
    }
    if (o.phase() === 'draining') return notReady('draining', 'this broker is shutting down');
    const topics = o.leadership.leading();
    // Public (no token): how many topics it leads, not their names (GET /v1/broker, behind the token, has those).
    return { status: 200, body: { ready: true, broker: o.brokerId, role: topics.length > 0 ? 'leading' : 'standby', leading: topics.length } };
  };
}
