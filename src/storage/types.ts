/**
 * The storage contract every driver implements. It is deliberately tiny: bucketq needs one
 * object per topic updated by compare-and-swap, plus write-once objects (archives, large payloads).
 *
 * Errors: drivers throw {@link QueueError} with
 * - `STORE_CONFLICT` when a condition fails (etag mismatch, key already exists, key missing for ifMatch);
 * - `STORE_UNAVAILABLE` when a transient failure happened and the call certainly did not take effect;
 * - `STORE_AMBIGUOUS` when a write may or may not have landed (timeout after sending, dropped connection).
 * Not-found on read returns `null`, never throws.
 */
export interface StoredObject {
  body: Uint8Array;
  /**
   * Opaque version tag of exactly these bytes. memory, file, GCS (generation) and Azure tags never
   * repeat for a key, even across delete and re-create. S3 and S3-compatible stores use the
   * content MD5, so writing identical bytes again repeats the tag (an A→B→A write sequence would
   * let a stale If-Match succeed). That is safe for bucketq because no CAS key ever gets identical
   * bytes twice: every commit to queue.json carries a strictly increasing `seq` and its writer's
   * id; archives and payloads are written once under fresh keys and never conditionally replaced.
   */
  etag: string;
}

export type WriteCondition =
  /** Replace only if the current version carries this etag. */
  | { ifMatch: string }
  /** Create only if the key does not exist. */
  | { ifNoneMatch: '*' };

export interface StorageDriver {
  /** Short driver name for logs and `doctor`, e.g. `memory`, `file`. */
  readonly name: string;
  /**
   * Minimum milliseconds between two writes to the same key that the backend tolerates
   * (GCS: about one per second per object). The commit loop waits this long; batches grow meanwhile.
   */
  readonly minWriteIntervalMs: number;
  read(key: string): Promise<StoredObject | null>;
  /**
   * Bytes [start, end) of `key`, or null when it does not exist. Fewer bytes when the object ends
   * first: none when `start` is at or past its end, or when `end <= start` (S3, GCS and Azure
   * answer such ranges with 416, which the drivers turn into this empty result). `start` and `end`
   * are whole numbers ≥ 0 (INVALID_ARGUMENT otherwise). Other failures as for `read`.
   * Optional: a segment's readers (broker/topic-segments.ts) use it to read only the sections they
   * need (docs/format.md, section 3); without it they read the whole object.
   */
  readRange?(key: string, start: number, end: number): Promise<Uint8Array | null>;
  /**
   * Writes `body` at `key`; with a condition, atomically. Returns the new etag. The caller must not
   * mutate `body` until the promise settles (drivers may send it without copying).
   */
  write(key: string, body: Uint8Array | string, condition?: WriteCondition): Promise<{ etag: string }>;
  /** Keys starting with `prefix`, sorted ascending. */
  list(prefix: string): Promise<string[]>;
  /** Removes `key`; removing a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Releases connections, timers, child resources. Idempotent. */
  close(): Promise<void>;
}

/** Keys are `/`-separated paths of safe segments; drivers may rely on this. */
export const KEY_PATTERN = /^(?:[A-Za-z0-9_.=-]+\/)*[A-Za-z0-9_.=-]+$/;
