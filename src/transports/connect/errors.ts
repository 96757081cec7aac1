/**
 * QueueError → ConnectError through the one table of transports/shared/error-codes.ts. The bucketq code goes
 * along as `bucketq-code` metadata and an ItemError detail, so a client can branch on LEASE_LOST
 * vs FAILED_PRECONDITION (one gRPC code); NOT_LEADER adds `bucketq-leader`: the URL to go to.
 */
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { isQueueError, type QueueError } from '../../errors.js';
import { ItemErrorSchema, type ItemError } from '../../gen/bucketq/v1/queue_pb.js';
import { asQueueError, GRPC_STATUS, wireError } from '../shared/error-codes.js';

/** The leader URL of a NOT_LEADER error, when it names one. */
export function leaderOf(err: QueueError): string | undefined {
  if (err.code !== 'NOT_LEADER') return undefined;
  const leader = wireError(err).leader;
  return typeof leader === 'string' ? leader : undefined;
}

/** A per-item error (Settle, ListTopics). */
export function itemError(err: QueueError): ItemError {
  const leader = leaderOf(err);
  return create(ItemErrorSchema, { code: err.code, message: err.message, ...(leader !== undefined ? { leader } : {}) });
}

/** Any thrown value as the ConnectError the wire carries; `onBug` sees what is not a QueueError. */
export function toConnectError(err: unknown, onBug?: (err: unknown) => void): ConnectError {
  if (err instanceof ConnectError) return err;
  const q = asQueueError(err);
  if (!isQueueError(err) || q.code === 'INTERNAL') onBug?.(err);
  const code = (GRPC_STATUS[q.code] ?? Code.Internal) as Code;
  const metadata: Record<string, string> = { 'bucketq-code': q.code };
  const leader = leaderOf(q);
  if (leader !== undefined) metadata['bucketq-leader'] = leader;
  const message = q.code === 'INTERNAL' ? 'internal error; see the broker log' : leader !== undefined ? `${q.message} (leader: ${leader})` : q.message;
  return new ConnectError(message, code, metadata, [{ desc: ItemErrorSchema, value: itemError(q) }]);
}
