/**
 * Which topics this broker leads, followed from the broker's 'leader' and 'fenced' events. The
 * metrics (leader gauges, job counts) and /readyz read it; it never touches the topic loops, so
 * asking it cannot create a loop or start an election.
 */
import type { Broker } from '../broker/broker.js';

export interface TopicLeadership {
  leading: boolean;
  /** Epoch of the lease this broker took last. */
  epoch: number;
}

export class LeadershipTracker {
  private readonly byTopic = new Map<string, TopicLeadership>();

  constructor(broker: Broker) {
    broker.events.on('leader', (e) => this.byTopic.set(e.topic, { leading: true, epoch: e.epoch }));
    // Fenced by another broker, or its state lost: either way this broker leads it no more.
    for (const event of ['fenced', 'state-lost'] as const) {
      broker.events.on(event, (e: { topic: string }) => {
        const t = this.byTopic.get(e.topic);
        if (t) t.leading = false;
      });
    }
  }

  /** Topics this broker leads now, sorted. */
  leading(): string[] {
    return [...this.byTopic].filter(([, t]) => t.leading).map(([topic]) => topic).sort();
  }

  /** Every topic this broker has led, with whether it still does. */
  topics(): ReadonlyMap<string, TopicLeadership> {
    return this.byTopic;
  }

  /** The broker stopped and released its leases. */
  releasedAll(): void {
    for (const t of this.byTopic.values()) t.leading = false;
  }
}
