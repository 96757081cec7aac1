/**
 * Fast failover: a network standby probes the URL each leader advertises, and takes that leader's
 * topics over as soon as the URL refuses connections, instead of waiting out its lease (10 s by
 * default). docs/operations.md, "Failover", is the user's view.
 *
 * A probe is a TCP connect to the URL's host and port, closed at once (no request, no TLS
 * handshake). A leader is found gone when its URL, which this process has seen accept a
 * connection, then refuses two probes in a row at least `confirmMs` apart. A refused connection
 * is the kernel's answer that nothing listens on that port any more: the process died (SIGKILL, a
 * crash, an OOM kill) and its lease can only run out. Anything else keeps the lease rules as they
 * are:
 *
 * - a timeout or an unreachable network: a frozen (SIGSTOP) or partitioned leader, whose kernel
 *   may still accept; it may come back, so its lease is waited out;
 * - a name that no longer resolves: not evidence enough;
 * - a URL never seen open from here: an advertised address this standby cannot reach (a
 *   misconfiguration) must not make brokers take topics from each other in turn.
 *
 * Taking over early is safe for the same reason a takeover after a stale lease is: every write is
 * a compare-and-swap, the takeover bumps the epoch, and a leader that was not dead after all
 * fails its next commit and reads that it was fenced. What it costs, if the evidence was wrong, is
 * that leader's in-flight requests, which clients retry at the new one, and for a third of its
 * lease, reads it still answers from memory (docs/operations.md, "Failover"). A broker that drains
 * keeps listening until it has released its leases (server/broker-server.ts), so it is not taken
 * for a dead one.
 */
import { connect } from 'node:net';

export type ProbeResult = 'open' | 'refused' | 'unknown';

/** One URL to watch, and the id of the leader that advertised it (for the logs). */
export interface ProbeTarget {
  url: string;
  id: string;
}

export interface LeaderProbeOptions {
  /** How often each leader's URL is probed. */
  intervalMs: number;
  /** A refusal is confirmed by a second one at least this much later (default intervalMs / 2, at most 250 ms). */
  confirmMs?: number;
  /** This broker's own advertised URL: never probed. */
  ownUrl: string;
  /** The leaders to watch now (called before every round). */
  targets(): Iterable<ProbeTarget>;
  /** A leader was found gone: its topics may be taken over. */
  onGone(target: ProbeTarget): void;
  now?: () => number;
  /** How a URL is probed (tests); default a TCP connect with a timeout of intervalMs, at most 2 s. */
  connectTo?: (url: string, timeoutMs: number) => Promise<ProbeResult>;
  /** A round or onGone threw: reported, and probing goes on. */
  onError?: (err: unknown) => void;
  /** false: no timer, only check() probes (tests). */
  timers?: boolean;
}

interface UrlState {
  /** The URL accepted a connection from this process (since the last verdict). */
  seenOpen: boolean;
  /** When the current run of refusals began, or null. */
  refusedSince: number | null;
  refusals: number;
}

export interface LeaderProbe {
  /** Probes every target once now and acts on the verdicts (tests; also what the timer does). */
  check(): Promise<void>;
  stop(): Promise<void>;
}

export function startLeaderProbe(o: LeaderProbeOptions): LeaderProbe {
  const now = o.now ?? Date.now;
  const probe = o.connectTo ?? tcpProbe;
  const confirmMs = o.confirmMs ?? Math.min(250, Math.max(1, Math.round(o.intervalMs / 2)));
  const timeoutMs = Math.min(2000, o.intervalMs);
  const states = new Map<string, UrlState>();
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let round: Promise<void> | null = null;

  async function runRound(): Promise<void> {
    const byUrl = new Map<string, ProbeTarget>();
    for (const t of o.targets()) if (t.url && t.url !== o.ownUrl) byUrl.set(t.url, t);
    for (const url of states.keys()) if (!byUrl.has(url)) states.delete(url);
    let confirmSoon = false;
    await Promise.all(
      [...byUrl.values()].map(async (target) => {
        const result = await probe(target.url, timeoutMs);
        if (stopped) return;
        let st = states.get(target.url);
        if (!st) states.set(target.url, (st = { seenOpen: false, refusedSince: null, refusals: 0 }));
        if (result !== 'refused') {
          st.refusedSince = null;
          st.refusals = 0;
          if (result === 'open') st.seenOpen = true;
          return;
        }
        if (!st.seenOpen) return;
        const t = now();
        st.refusedSince ??= t;
        st.refusals++;
        if (st.refusals >= 2 && t - st.refusedSince >= confirmMs) {
          states.delete(target.url); // seen open again before any later verdict
          try {
            o.onGone(target);
          } catch (err) {
            o.onError?.(err);
          }
        } else confirmSoon = true;
      }),
    );
    if (confirmSoon && !stopped) schedule(confirmMs);
  }

  function check(): Promise<void> {
    round ??= runRound().finally(() => {
      round = null;
    });
    return round;
  }

  function schedule(ms: number): void {
    if (o.timers === false) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(tick, ms).unref();
  }

  function tick(): void {
    timer = null;
    if (stopped) return;
    void check()
      .catch((err: unknown) => o.onError?.(err)) // a round that threw (targets()); the next one tries again
      .finally(() => {
        if (!stopped && !timer) schedule(o.intervalMs);
      });
  }

  schedule(o.intervalMs);
  return {
    check,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await round;
    },
  };
}

/** A TCP connect to the URL's host and port, closed as soon as it is made. */
export function tcpProbe(url: string, timeoutMs: number): Promise<ProbeResult> {
  let host: string;
  let port: number;
  try {
    const u = new URL(url);
    host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  } catch {
    return Promise.resolve('unknown');
  }
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: ProbeResult) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done('unknown'));
    socket.once('connect', () => done('open'));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'refused' : 'unknown'));
  });
}
