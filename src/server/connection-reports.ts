/**
 * The log lines of refused and cut connections (transports/shared/connections.ts lists the reasons).
 * A flood refuses thousands of connections a second, so each kind (port and reason) is logged at
 * warn level at most once per interval: the first at once, the ones after it counted and logged
 * together when the interval is over, with the last address seen. Nothing is lost from the
 * metrics, which count every one.
 */
import type { ConnectionRejectReason } from '../transports/shared/index.js';
import type { Logger } from './logger.js';

export type ConnectionListener = 'http' | 'resp';

/** At most one log line per port and reason this often (default 10 s). */
export const REJECTION_LOG_INTERVAL_MS = 10_000;

const WHY: Record<ConnectionRejectReason, string> = {
  'max-connections': 'the connection limit is reached',
  'address-limit': 'its address holds its share of connections',
  'headers-timeout': 'no complete request head in time',
  'auth-timeout': 'no AUTH in time',
  'unauthenticated-limit': 'too many connections wait to authenticate (the oldest is cut)',
  'idle-timeout': 'idle for the idle timeout',
};

interface Kind {
  /** No line before this time; events until then wait in `pending`. */
  quietUntil: number;
  pending: number;
  address: string | undefined;
  timer: NodeJS.Timeout | null;
}

export function connectionRejectionLog(logger: Logger, intervalMs = REJECTION_LOG_INTERVAL_MS): (listener: ConnectionListener, reason: ConnectionRejectReason, address: string | undefined) => void {
  const kinds = new Map<string, Kind>();
  const line = (listener: ConnectionListener, reason: ConnectionRejectReason, address: string | undefined, count: number) => {
    const port = listener === 'http' ? 'HTTP' : 'RESP';
    const verb = reason === 'max-connections' || reason === 'address-limit' ? 'refused' : 'cut';
    logger.warn({ event: 'connection-rejected', listener, reason, address: address ?? null, count }, `${port} port ${verb} ${count === 1 ? 'a connection' : `${count} connections`}: ${WHY[reason]}${address ? ` (last from ${address})` : ''}`);
  };
  return (listener, reason, address) => {
    const key = `${listener} ${reason}`;
    const now = Date.now();
    let kind = kinds.get(key);
    if (!kind || now >= kind.quietUntil) {
      kind ??= { quietUntil: 0, pending: 0, address: undefined, timer: null };
      kinds.set(key, kind);
      kind.quietUntil = now + intervalMs;
      line(listener, reason, address, 1);
      return;
    }
    kind.pending++;
    kind.address = address;
    if (kind.timer) return;
    const k = kind;
    k.timer = setTimeout(() => {
      k.timer = null;
      k.quietUntil = Date.now() + intervalMs;
      line(listener, reason, k.address, k.pending);
      k.pending = 0;
    }, kind.quietUntil - now);
    k.timer.unref();
  };
}
