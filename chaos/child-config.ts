/**
 * What run.ts tells a producer or worker process, as JSON in the CHAOS_CHILD environment
 * variable (one place, typed, so the two sides cannot drift apart).
 */
export interface ChildConfig {
  /** Process name, also its history file and (for workers) its worker id. */
  name: string;
  /** Plain store URL (no faults): the client reads the topic's leader from it. */
  store: string;
  topic: string;
  historyDir: string;
  seed: number;
  /** Producers: pushes per second (spread over `lanes` sequential loops). */
  rate?: number;
  /** Workers: lease of each claim and heartbeat. */
  leaseMs?: number;
  /** Workers: createWorker's prefetch (jobs claimed ahead of free slots). */
  prefetch?: number;
}

export const CHILD_ENV = 'CHAOS_CHILD';

export function readChildConfig(): ChildConfig {
  const raw = process.env[CHILD_ENV];
  if (!raw) throw new Error(`${CHILD_ENV} is not set: this file is started by chaos/run.ts`);
  return JSON.parse(raw) as ChildConfig;
}

/**
 * What a job asks of its worker, chosen by the producer from its seeded PRNG:
 * `ok` runs `ms`; `flaky` fails its first attempt; `poison` fails every attempt (dead letter);
 * `slow` runs `ms` long enough to need heartbeats.
 */
export interface ChaosPayload {
  kind: 'ok' | 'flaky' | 'poison' | 'slow';
  ms: number;
}

/** Exits the process on SIGTERM after `stop` resolves (a second SIGTERM exits at once). */
export function onTerm(stop: () => Promise<void>): void {
  process.once('SIGTERM', () => {
    process.once('SIGTERM', () => process.exit(1));
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`stop failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  });
}
