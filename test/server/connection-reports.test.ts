/**
 * The warn lines of refused and cut connections are rate-limited per port and reason: a flood of
 * thousands gives one line at once and one line per interval after it, counting what it stood for,
 * so nothing goes unreported and the log is not the next thing the attack fills.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { connectionRejectionLog } from '../../src/server/connection-reports.js';
import type { Logger } from '../../src/server/logger.js';

let lines: Array<{ fields: any; message: string }>;
let logger: Logger;

beforeEach(() => {
  vi.useFakeTimers();
  lines = [];
  const none = () => {};
  logger = { error: none, info: none, debug: none, warn: (fields, message) => lines.push({ fields, message }) };
});

afterEach(() => {
  vi.useRealTimers();
});

describe('connectionRejectionLog', () => {
  it('logs the first at once, then what came in the interval as one line when it is over', () => {
    const log = connectionRejectionLog(logger, 10_000);
    log('http', 'address-limit', '10.0.0.9');
    expect(lines).toEqual([{ fields: { event: 'connection-rejected', listener: 'http', reason: 'address-limit', address: '10.0.0.9', count: 1 }, message: 'HTTP port refused a connection: its address holds its share of connections (last from 10.0.0.9)' }]);
    for (let i = 0; i < 999; i++) log('http', 'address-limit', `10.0.0.${i % 7}`);
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(2);
    expect(lines[1]!.fields).toMatchObject({ reason: 'address-limit', count: 999, address: '10.0.0.4' });
    expect(lines[1]!.message).toBe('HTTP port refused 999 connections: its address holds its share of connections (last from 10.0.0.4)');
    // The next interval starts with that line: one more event waits for its end.
    log('http', 'address-limit', '10.0.0.1');
    expect(lines).toHaveLength(2);
    vi.advanceTimersByTime(10_000);
    expect(lines[2]!.fields).toMatchObject({ count: 1 });
    // A quiet interval later, the next one is logged at once again.
    vi.advanceTimersByTime(10_000);
    log('http', 'address-limit', undefined);
    expect(lines).toHaveLength(4);
    expect(lines[3]!.message).toBe('HTTP port refused a connection: its address holds its share of connections');
  });

  it('keeps each port and reason to itself', () => {
    const log = connectionRejectionLog(logger, 10_000);
    log('http', 'headers-timeout', 'a');
    log('resp', 'auth-timeout', 'b');
    log('resp', 'idle-timeout', 'c');
    log('resp', 'auth-timeout', 'd');
    expect(lines.map((l) => l.message)).toEqual([
      'HTTP port cut a connection: no complete request head in time (last from a)',
      'RESP port cut a connection: no AUTH in time (last from b)',
      'RESP port cut a connection: idle for the idle timeout (last from c)',
    ]);
  });
});
