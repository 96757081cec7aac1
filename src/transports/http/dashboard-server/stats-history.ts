/**
 * The last minutes of the broker's stats samples (`GET /v1/broker/stats/history`), so the
 * dashboard's charts show what happened before the page was opened instead of starting empty.
 *
 * A ring of the samples the stats ticker makes (stats-stream.ts), one a second: ten minutes by
 * default. Memory is bounded by the ring's length times what one sample keeps: the engine's
 * figures, the totals over every topic, and the rows of at most {@link MAX_TOPICS_PER_SAMPLE}
 * topics (a broker leading more keeps the first ones by name; the totals still count all of them).
 * About 1 KB per topic-minute: some 6 MB at the cap.
 */
export const MAX_TOPICS_PER_SAMPLE = 100;

/** What the history needs to know of a sample (stats-stream.ts's StatsEvent). */
export interface Sample<Row> {
  at: number;
  commits: unknown;
  totals: unknown;
  topics: Record<string, Row>;
}

export class StatsHistory<Row, S extends Sample<Row> = Sample<Row>> {
  private readonly ring: Array<S | undefined>;
  private start = 0;
  private size = 0;

  /** `capacity` samples at most (0: keeps nothing). */
  constructor(readonly capacity: number) {
    this.ring = new Array<S | undefined>(Math.max(0, capacity));
  }

  get length(): number {
    return this.size;
  }

  push(sample: S): void {
    if (this.capacity === 0) return;
    const names = Object.keys(sample.topics);
    let kept = sample;
    if (names.length > MAX_TOPICS_PER_SAMPLE) {
      const topics: Record<string, Row> = {};
      for (const name of names.sort().slice(0, MAX_TOPICS_PER_SAMPLE)) topics[name] = sample.topics[name]!;
      kept = { ...sample, topics };
    }
    if (this.size < this.capacity) {
      this.ring[(this.start + this.size) % this.capacity] = kept;
      this.size++;
    } else {
      this.ring[this.start] = kept;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /**
   * The samples, oldest first, each with the engine's figures and the totals, and of the topics
   * only `topic` (none without it): the overview draws totals, a topic's page draws its own row.
   */
  samples(topic?: string): S[] {
    const out: S[] = [];
    for (let i = 0; i < this.size; i++) {
      const s = this.ring[(this.start + i) % this.capacity]!;
      const row = topic === undefined ? undefined : s.topics[topic];
      out.push({ ...s, topics: row ? { [topic!]: row } : {} });
    }
    return out;
  }
}
