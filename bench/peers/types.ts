/**
 * What one system under comparison gives the peer runner (bench/peers/run.ts). The runner owns the
 * workloads (bench/peers/workloads.ts); a system only says how to push, how to bulk-push and how to
 * start one of its worker processes, each the way its own docs recommend.
 */
import type { Requirement } from './setup.js';

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
  /** `count` producers on `queue` sharing what the library's docs would give one process (W1). */
  producers(queue: string, count: number): Promise<PushOne[]>;
  /**
   * `count` producers on `queue` with nothing shared: one connection each, one job per request,
   * as from `count` processes (W1i). A string says why the system does not run it.
   */
  independentProducers(queue: string, count: number): Promise<PushOne[] | string>;
  /** Pushes all `payloads` onto `queue` with the library's bulk API, in chunks of {@link SystemAdapter.bulkChunk}. */
  pushBulk(queue: string, payloads: BenchPayload[]): Promise<void>;
  /** argv (after `node --import tsx`) of one worker process on `queue`; see bench/peers/worker-protocol.ts. */
  workerArgv(queue: string, concurrency: number): string[];
  /** The server process whose CPU time per job is reported, or why there is none. */
  server: { pid: number } | { unmeasured: string };
  /** A bucketq broker's base URL: its GET /metrics gives the commit figures. */
  brokerUrl?: string;
  stop(): Promise<void>;
}

export interface SystemAdapter {
  /** Column name: bucketq-file, bucketq-memory, bullmq, bullmq-fsync, pgboss. */
  name: string;
  /** Jobs per bulk call. */
  bulkChunk: number;
  /** One line for the report's header: the options that set this system apart. */
  options: string;
  /** The settings used, printed under the table: name → value. */
  settings: Record<string, string>;
  /** Programs the system needs on this machine (bench/peers/setup.ts installs what is missing). */
  requires: Requirement[];
  /** Starts a fresh server in throwaway dirs, or says in one line why the system is skipped. */
  start(): Promise<RunningSystem | string>;
}
