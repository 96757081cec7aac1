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
const RECORD_CRC: unique symbol = Symbol('bucketq.recordCrc');
const RECORD_TEXT: unique symbol = Symbol('bucketq.recordText');
const RECORD_LEN: unique symbol = Symbol('bucketq.recordLen');

/** The cache holds UTF-8 bytes: a commit then concatenates buffers instead of encoding megabytes of text. */
type Cached = JobRecord & { [JSON_CACHE]?: Buffer; [PAYLOAD_JSON]?: string; [RECORD_CRC]?: number; [RECORD_TEXT]?: string; [RECORD_LEN]?: number };

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
  if (c[RECORD_CRC] !== undefined) c[RECORD_CRC] = undefined;
  if (c[RECORD_TEXT] !== undefined) c[RECORD_TEXT] = undefined;
  if (c[RECORD_LEN] !== undefined) c[RECORD_LEN] = undefined;
}

/**
 * The CRC of the record's bytes (segment-codec.ts: the record and its newline), once computed and
 * kept (keepRecordCrc): a merge at seal writes the held segment's jobs again without
 * checksumming them again. Dropped with the record (dropJsonCache).
 */
export function cachedRecordCrc(job: JobRecord): number | undefined {
  return (job as Cached)[RECORD_CRC];
}

export function keepRecordCrc(job: JobRecord, crc: number): number {
  return ((job as Cached)[RECORD_CRC] = crc);
}

export function cachedJson(job: JobRecord): string | undefined {
  return (job as Cached)[JSON_CACHE]?.toString('utf8');
}

/** The record as JSON text (see jobBytes). */
export function jobJson(job: JobRecord): string {
  return jobBytes(job).toString('utf8');
}

/**
 * The record's text (what jobBytes encodes), cached. A job pushed into a tail and sealed into a
 * segment in the same batch is written from its text straight into the segment (segment-codec.ts):
 * no Buffer of its own, one object less a job to outlive a batch's scavenges.
 */
export function recordText(job: JobRecord): string {
  const c = job as Cached;
  return (c[RECORD_TEXT] ??= buildText(job));
}

/** The record's UTF-8 length in bytes (jobBytes(job).length, without making the Buffer). */
export function recordLength(job: JobRecord): number {
  const c = job as Cached;
  const hit = c[JSON_CACHE];
  if (hit !== undefined) return hit.length;
  return (c[RECORD_LEN] ??= Buffer.byteLength(recordText(job), 'utf8'));
}

/** The record as UTF-8 JSON: same fields and values as JSON.stringify(job), in a fixed order. */
export function jobBytes(job: JobRecord): Buffer {
  const c = job as Cached;
  const hit = c[JSON_CACHE];
  if (hit !== undefined) return hit;
  const bytes = Buffer.from(recordText(job), 'utf8');
  c[JSON_CACHE] = bytes;
  return bytes;
}

function buildText(job: JobRecord): string {
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
  return s + '}';
}
