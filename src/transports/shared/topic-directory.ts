/**
 * Topics known to exist (they have a queue.json, or their state was found lost), for the wires
 * that must not create a topic as a side effect: over HTTP and Connect, push, claim (and
 * ClaimStream), configure and reset create a topic; every other call answers NOT_FOUND for one
 * that does not exist. The Redis port has no such rule: a key exists once used, as in Redis.
 *
 * A topic once seen stays known (a topic is never deleted); an unknown one is looked up in the
 * store's listing, once per miss.
 */
import type { Broker } from '../../broker/broker.js';
import { QueueError } from '../../errors.js';
import { checkTopic } from '../../protocol.js';

export class TopicDirectory {
  private readonly known = new Set<string>();

  constructor(private readonly broker: Broker) {}

  add(topic: string): void {
    this.known.add(topic);
  }

  /** The topic, when it is a valid name that exists; else INVALID_ARGUMENT or NOT_FOUND. */
  async require(topic: string): Promise<string> {
    checkTopic(topic);
    if (this.known.has(topic)) return topic;
    for (const t of await this.broker.topics()) this.known.add(t);
    if (!this.known.has(topic)) throw new QueueError('NOT_FOUND', `no topic ${topic}`, { details: { topic } });
    return topic;
  }
}
