/**
 * The standby watcher of a network broker. A topic loop only looks at its topic when a request
 * comes in, so a standby that no client talks to would never notice that the leader died. Every
 * `intervalMs` this lists the store's topics and, for each one this broker does not lead, asks the
 * loop for its stats: a standby whose view of the leader is recent and whose lease still runs
 * answers NOT_LEADER without I/O (the normal case); otherwise the loop re-reads queue.json and, if
 * the lease was released or went stale, takes the topic over through `elect`. A topic that nobody
 * leads yet (new in the store) is taken over the same way.
 *
 * The cost on a standby: one list of `topics/` per tick and one read of each topic it does not
 * lead at most once a second (STANDBY_RECHECK_MS, broker/leadership.ts) or when the leader's lease ran out.
 */
import type { Broker } from '../broker/broker.js';
import { isQueueError } from '../errors.js';
import { startLeaderProbe, type LeaderProbe, type ProbeResult, type ProbeTarget } from './leader-probe.js';

export interface StandbyWatcherOptions {
  intervalMs: number;
  /** Topics checked at once (default 8). */
  concurrency?: number;
  /** Failures other than the expected NOT_LEADER / CLOSED (storage trouble, a corrupt object). */
  onError?: (err: unknown, topic: string | null) => void;
  /**
   * Probe the leaders' URLs every `intervalMs` and take over a dead leader's topics at once
   * (server/leader-probe.ts); absent: wait for leases to run out. `ownUrl`: this broker's.
   */
  probe?: { intervalMs: number; ownUrl: string; connectTo?: (url: string, timeoutMs: number) => Promise<ProbeResult> };
  /** A leader was found gone and these topics of its are being taken over. */
  onLeaderGone?: (leader: ProbeTarget, topics: string[]) => void;
}

export interface StandbyWatcher {
  /** Runs one round now (tests; also what every tick does). */
  check(): Promise<void>;
  /** Probes the leaders' URLs once now (tests); null without `probe`. */
  readonly probe: LeaderProbe | null;
  /** Stops ticking and waits for a round in progress. */
  stop(): Promise<void>;
}

export function startStandbyWatcher(broker: Broker, options: StandbyWatcherOptions): StandbyWatcher {
  const concurrency = options.concurrency ?? 8;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let round: Promise<void> | null = null;
  /** The last error code reported per topic, so a lasting failure is logged once, not every tick. */
  const reported = new Map<string | null, string>();
  /** The store's topics as the last round listed them. */
  let known: string[] = [];

  const report = (err: unknown, topic: string | null) => {
    const code = isQueueError(err) ? err.code : 'ERROR';
    if (reported.get(topic) === code) return;
    reported.set(topic, code);
    options.onError?.(err, topic);
  };

  async function checkTopic(topic: string): Promise<void> {
    try {
      if (broker.loop(topic).isLeading) return; // the loop renews its own lease
      await broker.stats(topic);
      reported.delete(topic);
    } catch (err) {
      // A lost topic was reported by its loop (the 'state-lost' event), once.
      if (isQueueError(err, 'NOT_LEADER') || isQueueError(err, 'CLOSED') || isQueueError(err, 'STATE_LOST')) reported.delete(topic);
      else if (!stopped) report(err, topic);
    }
  }

  async function runRound(): Promise<void> {
    let topics: string[];
    try {
      topics = await broker.topics();
      known = topics;
      reported.delete(null);
    } catch (err) {
      if (!stopped) report(err, null);
      return;
    }
    let next = 0;
    await inLanes(topics.length, () => topics[next++]);
  }

  /** Checks the topics `take` hands out, `concurrency` at a time (at most `count` lanes), until it has none or the watcher stops. */
  async function inLanes(count: number, take: () => string | undefined): Promise<void> {
    const lane = async () => {
      for (;;) {
        const topic = stopped ? undefined : take();
        if (topic === undefined) return;
        await checkTopic(topic);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  }

  function check(): Promise<void> {
    round ??= runRound().finally(() => {
      round = null;
    });
    return round;
  }

  function tick(): void {
    timer = null;
    if (stopped) return;
    void check().then(() => {
      if (!stopped) timer = setTimeout(tick, options.intervalMs).unref();
    });
  }

  /** The leaders of the topics this broker does not lead, as last read. */
  function* leaders(): Iterable<ProbeTarget> {
    for (const topic of known) {
      const loop = broker.loopIfOpen(topic);
      const lease = loop && !loop.isLeading ? loop.leaderLease : null;
      if (lease?.url) yield { url: lease.url, id: lease.id };
    }
  }

  /** Every topic whose leader, as last read, advertised `target.url` is taken over now. */
  function takeOver(target: ProbeTarget): void {
    const topics: string[] = [];
    for (const topic of known) {
      const loop = broker.loopIfOpen(topic);
      const lease = loop?.leaderLease;
      if (loop && lease?.url === target.url && loop.holderGone(lease)) topics.push(topic);
    }
    if (topics.length === 0 || stopped) return;
    options.onLeaderGone?.(target, topics);
    takeovers.push(...topics);
    workOffTakeovers();
  }

  /** Topics of dead leaders to take over now: `concurrency` at a time, like a round; stop() waits for them. */
  const takeovers: string[] = [];
  let takingOver: Promise<void> | null = null;
  function workOffTakeovers(): void {
    if (takingOver || stopped) return;
    takingOver = inLanes(takeovers.length, () => takeovers.shift()).then(() => {
      takingOver = null;
      if (takeovers.length > 0) workOffTakeovers();
    });
  }

  const probe = options.probe ? startLeaderProbe({ ...options.probe, targets: leaders, onGone: takeOver, onError: (err) => report(err, null) }) : null;

  tick();
  return {
    check,
    probe,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await probe?.stop();
      await takingOver;
      await round;
    },
  };
}
