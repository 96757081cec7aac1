/**
 * Large payloads live in their own write-once objects so that queue.json, rewritten by every
 * commit, stays small (docs/architecture.md, "How it works").
 * A job then carries `payloadRef`; the broker resolves it when a job is handed out or archived.
 */
import { payloadKey } from '../core/keys.js';
import { QueueError } from '../errors.js';
import type { StorageDriver } from '../storage/types.js';

export async function writePayload(store: StorageDriver, topic: string, ref: string, json: string): Promise<void> {
  await store.write(payloadKey(topic, ref), json);
}

export async function readPayload(store: StorageDriver, topic: string, ref: string): Promise<unknown> {
  const obj = await store.read(payloadKey(topic, ref));
  if (!obj) throw new QueueError('INTERNAL', `payload object ${payloadKey(topic, ref)} is missing`);
  return JSON.parse(Buffer.from(obj.body).toString('utf8')) as unknown;
}

export async function deletePayload(store: StorageDriver, topic: string, ref: string): Promise<void> {
  await store.delete(payloadKey(topic, ref));
}

/** Replaces `payloadRef` by the payload itself on each record that has one (in place). */
export async function inlinePayloads<T extends { payload?: unknown; payloadRef?: string }>(store: StorageDriver, topic: string, records: T[]): Promise<T[]> {
  await Promise.all(
    records.map(async (r) => {
      if (r.payloadRef === undefined) return;
      r.payload = await readPayload(store, topic, r.payloadRef);
      delete r.payloadRef;
    }),
  );
  return records;
}
