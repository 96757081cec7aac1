/**
 * What one system under comparison gives the peer runner (bench/peers/run.ts). The runner owns the
 * workloads (bench/peers/workloads.ts); a system only says how to push, how to bulk-push and how to
 * start one of its worker processes, each the way its own docs recommend.
 */

/** A job's payload in every workload: a counter, or the id of a latency probe. */
export interface BenchPayload {
  n?: number;
  probe?: string;
}

/** One producer: pushes one job per call on one queue. */
export type PushOne = (payload: BenchPayload) => Promise<unknown>;

/** A started system: its server is up; everything here is torn down by `stop`. */
export interface RunningSystem {
  /** Library and server versions, printed with the results. */
  version: string;
  /** `count` producers on `queue`, each one handle the library's docs would give a producer. */
  producers(queue: string, count: number): Promise<PushOne[]>;
  /** Pushes all `payloads` onto `queue` with the library's bulk API, in chunks of {@link SystemAdapter.bulkChunk}. */
  pushBulk(queue: string, payloads: BenchPayload[]): Promise<void>;
  /** argv (after `node --import tsx`) of one worker process on `queue`; see bench/peers/worker-protocol.ts. */
  workerArgv(queue: string, concurrency: number): string[];
  stop(): Promise<void>;
}

export interface SystemAdapter {
  /** Column name: bucketq-file, bucketq-memory, bullmq, pgboss. */
  name: string;
  /** Jobs per bulk call. */
  bulkChunk: number;
  /** The settings used, printed under the table: name → value. */
  settings: Record<string, string>;
  /** Starts a fresh server in throwaway dirs, or says in one line why the system is skipped. */
  start(): Promise<RunningSystem | string>;
}
