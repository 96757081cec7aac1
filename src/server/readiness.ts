/**
 * GET /readyz: whether a load balancer should send this broker traffic. Ready means: serving (not
 * starting, not draining), the store answered recently, and no topic's last commit failed in the
 * store. Topics whose state was found lost are listed (`stateLost`) but leave it ready (lostTopics). A leader renews its leases every third of a lease and a
 * standby lists topics as often, so the store usually answered a moment ago and a check costs
 * nothing; when it has not (an idle broker with a long lease), one cheap read of a key that does
 * not exist probes it, with a short timeout. Concurrent checks share one probe.
 *
 * A store that answers reads but refuses writes (read-only filesystem, full disk, a bucket policy)
 * passes that probe: the commits tell. A leader's lease renewals are writes too, so even an idle
 * leader finds out within a third of a lease, and is ready again after its next landed commit or
 * renewal (Broker#topicTroubles, from the topic loops, no I/O).
 *
 * Leading or standing by are both ready: a standby answers NOT_LEADER with the leader's URL, which
 * every client follows, and takes topics over when their leader dies.
 */
import type { TopicTrouble } from '../broker/broker.js';
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
  /** Topics lost or failing to commit (Broker#topicTroubles). */
  troubles(): TopicTrouble[];
  /** How recent the store's last answer must be to skip the probe (default 5 s). */
  freshMs?: number;
  /** How long the probe may take (default 2 s). */
  probeTimeoutMs?: number;
}

export interface ReadyAnswer {
  status: 200 | 503;
  body: Record<string, unknown>;
}

/**
 * `detail`: name the topics and quote their errors. Topic names are behind the token (like
 * GET /v1/broker), so an anonymous probe gets the reason, the code and how many topics.
 */
export type Readiness = (detail: boolean) => Promise<ReadyAnswer>;

export function createReadiness(o: ReadinessOptions): Readiness {
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

  function notReady(reason: string, message: string, code = 'UNAVAILABLE', extra: Record<string, unknown> = {}): ReadyAnswer {
    return { status: 503, body: { ready: false, broker: o.brokerId, reason, error: { code, message }, ...extra } };
  }

  /**
   * Topics whose state was lost (`stateLost`), or one of whose segments is (`segmentLost`: the
   * store lacks it or it does not decode), as the answer shows them: names and errors with
   * `detail`, a count without. They do not make the broker unready: the loss is in the store, not in this broker,
   * and every broker that saw the topic finds it lost, so a readiness gate would take the whole
   * fleet (and every healthy topic) out of rotation for one topic. The gauge alerts instead.
   */
  function lostTopics(detail: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [trouble, field] of [['state-lost', 'stateLost'], ['segment-lost', 'segmentLost']] as const) {
      const lost = o.troubles().filter((t) => t.trouble === trouble);
      if (lost.length > 0) out[field] = detail ? lost.map((t) => ({ topic: t.topic, code: t.error.code, message: t.error.message, since: t.since })) : lost.length;
    }
    return out;
  }

  /** Topics whose last commit failed in the store and none landed since: this broker cannot commit. */
  function failing(detail: boolean): ReadyAnswer | null {
    const all = o.troubles().filter((t) => t.trouble === 'commit-failing');
    if (all.length === 0) return null;
    const first = all[0]!;
    const n = `${all.length} topic${all.length === 1 ? '' : 's'}`;
    if (!detail) {
      return notReady('commit-failing', `the last commit of ${n} failed in the store (${first.error.code}) and none has landed since; the topics and errors are shown with the token`, first.error.code, { topics: all.length, ...lostTopics(false) });
    }
    const topics = all.map((t) => ({ topic: t.topic, reason: t.trouble, code: t.error.code, message: t.error.message, since: t.since }));
    return notReady('commit-failing', `topic ${first.topic}: the last commit failed and none has landed since: ${first.error.message}`, first.error.code, { topics, ...lostTopics(true) });
  }

  return async (detail) => {
    if (o.phase() === 'draining') return notReady('draining', 'this broker is shutting down');
    const s = o.store;
    const fresh = s.lastAnsweredAt > s.lastFailedAt && performance.now() - s.lastAnsweredAt < freshMs;
    if (!fresh) {
      const failure = await probe();
      if (failure !== null) return notReady('store-unreachable', `the store did not answer: ${failure}`);
    }
    if (o.phase() === 'draining') return notReady('draining', 'this broker is shutting down');
    const trouble = failing(detail);
    if (trouble) return trouble;
    const topics = o.leadership.leading();
    // Public (no token): how many topics it leads, not their names (GET /v1/broker, behind the token, has those).
    return { status: 200, body: { ready: true, broker: o.brokerId, role: topics.length > 0 ? 'leading' : 'standby', leading: topics.length, ...lostTopics(detail) } };
  };
}
