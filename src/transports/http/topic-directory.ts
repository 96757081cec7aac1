/**
 * Topics known to exist (they have a queue.json). Push and claim create a topic; every other
 * route answers NOT_FOUND for one that does not exist rather than creating it as a side effect.
 */
import type { Broker } from '../../broker/broker.js';
import { QueueError } from '../../errors.js';

export class TopicDirectory {
  private readonly known = new Set<string>();

  constructor(private readonly broker: Broker) {}

  add(topic: string): void {
    this.known.add(topic);
  }

  async require(topic: string): Promise<void> {
    if (this.known.has(topic)) return;
    for (const t of await this.broker.topics()) this.known.add(t);
    if (!this.known.has(topic)) throw new QueueError('NOT_FOUND', `no topic ${topic}`, { details: { topic } });
  }
}
