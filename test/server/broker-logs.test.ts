/**
 * The broker's log lines come from listeners on broker.events, registered before the event feed's:
 * a logger that throws (any object with pino's convention may be passed) must not keep the later
 * listeners from seeing the event, and never fails the request.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { logBrokerEvents } from '../../src/server/broker-logs.js';
import type { Logger } from '../../src/server/logger.js';
import { createMemoryStore } from '../../src/storage/memory.js';

let broker: Broker | undefined;
afterEach(async () => {
  await broker?.stop();
});

describe('logBrokerEvents', () => {
  it('a throwing logger hides no event from later listeners', async () => {
    broker = new Broker({ store: createMemoryStore(), id: 'b1' });
    const lines: string[] = [];
    const fail = (_fields: object, message: string) => {
      lines.push(message);
      throw new Error('logger bug');
    };
    const logger: Logger = { error: fail, warn: fail, info: fail, debug: fail };
    logBrokerEvents(broker, logger, 0); // every commit is "slow": each one logs
    const seen: string[] = [];
    broker.events.on('leader', () => seen.push('leader'));
    broker.events.on('commit', () => seen.push('commit'));
    await broker.push('t', [{ id: 'a', payload: 1 }]);
    expect(lines).toEqual(['leading topic t', 'slow commit on topic t']);
    expect(seen).toEqual(['leader', 'commit']);
  });
});
