/**
 * The JSON text of a job record, cached on the record. A busy topic re-serialises only the jobs
 * that changed since the last commit, and a changed job re-serialises only its small fields: the
 * payload's JSON (usually the bulk of a job) is made once per job lifetime and reused.
 *
 * The caches are symbol-keyed properties, which JSON.stringify and structured clones ignore.
 * Every mutation of a job goes through `touch()` in state.ts, which drops the record cache.
 */
import type { JobRecord } from './types.js';

const JSON_CACHE: unique symbol = Symbol('bucketq.json');
const PAYLOAD_JSON: unique symbol = Symbol('bucketq.payloadJson');

/** The cache holds UTF-8 bytes: a commit then concatenates buffers instead of encoding megabytes of text. */
type Cached = JobRecord & { [JSON_CACHE]?: Buffer; [PAYLOAD_JSON]?: string };

const str = JSON.stringify;

/** The payload's JSON text (payloads never change after push). */
export function payloadJson(job: JobRecord): string {
  const c = job as Cached;
  return (c[PAYLOAD_JSON] ??= str(job.payload ?? null));
}

/** Seeds the payload cache with text the caller already made from exactly this payload. */
export function primePayloadJson(job: JobRecord, json: string): void {
  (job as Cached)[PAYLOAD_JSON] = json;
}

/**
 * Seeds the record cache with bytes that encode exactly this record: a segment's record, read back
 * (core/segments/segment-codec.ts). A refill then moves jobs into the head without encoding them again.
 */
export function primeJobBytes(job: JobRecord, bytes: Buffer): void {
  (job as Cached)[JSON_CACHE] = bytes;
}

/** Whether the payload's JSON text is cached (then it, not the payload object, is the job's payload). */
export function hasPayloadJson(job: JobRecord): boolean {
  return (job as Cached)[PAYLOAD_JSON] !== undefined;
}

/** Drops the cached record text (not the payload's). */
export function dropJsonCache(job: JobRecord): void {
  // Assigning (not `delete`) keeps the object's hidden class: deleting a property would turn
  // every touched job into a slow dictionary-mode object.
  const c = job as Cached;
  if (c[JSON_CACHE] !== undefined) c[JSON_CACHE] = undefined;
}

export function cachedJson(job: JobRecord): string | undefined {
  return (job as Cached)[JSON_CACHE]?.toString('utf8');
}

/** The record as JSON text (see jobBytes). */
export function jobJson(job: JobRecord): string {
  return jobBytes(job).toString('utf8');
}

/** The record as UTF-8 JSON: same fields and values as JSON.stringify(job), in a fixed order. */
export function jobBytes(job: JobRecord): Buffer {
  const c = job as Cached;
  const hit = c[JSON_CACHE];
  if (hit !== undefined) return hit;
  let s = `{"id":${str(job.id)},"state":"${job.state}"`;
  s += job.payloadRef !== undefined ? `,"payloadRef":${str(job.payloadRef)}` : `,"payload":${payloadJson(job)}`;
  s += `,"priority":${job.priority},"order":${job.order},"runAt":${job.runAt},"attempts":${job.attempts},"maxAttempts":${job.maxAttempts}`;
  if (job.backoff !== undefined) s += `,"backoff":${str(job.backoff)}`;
  if (job.lease !== undefined) s += `,"lease":{"worker":${str(job.lease.worker)},"token":${str(job.lease.token)},"until":${job.lease.until}}`;
  s += `,"createdAt":${job.createdAt},"updatedAt":${job.updatedAt}`;
  if (job.lastError !== undefined) s += `,"lastError":${str(job.lastError)}`;
  if (job.result !== undefined) s += `,"result":${str(job.result)}`;
  if (job.finishedAt !== undefined) s += `,"finishedAt":${job.finishedAt}`;
  if (job.archive !== undefined) s += `,"archive":${str(job.archive)}`;
  s += '}';
  const bytes = Buffer.from(s, 'utf8');
  c[JSON_CACHE] = bytes;
  return bytes;
}
