/**
 * What the producer and the consumer share: the job type, and where the brokers are, from the
 * same environment variables the `bucketq` CLI reads:
 *
 *   BUCKETQ_URL     a broker (default http://127.0.0.1:8080)
 *   BUCKETQ_STORE   the brokers' store, e.g. file:./bucketq-data: each topic's leader is read from
 *                   it, and found again there after a failover (the client must be able to read it)
 *   BUCKETQ_TOKEN   the brokers' bearer token, if they have one
 */
import type { ClientOptions } from '../../src/client/index.js';

export interface Email {
  to: string;
  subject: string;
  /** The example's way to simulate a flaky SMTP server: fail this many attempts first. */
  failTimes?: number;
}

export const TOPIC = 'emails';

/** Connection options of createClient from the environment. */
export function connection(): Omit<ClientOptions, 'topic'> {
  const env = (name: string) => (process.env[name] === '' ? undefined : process.env[name]);
  const store = env('BUCKETQ_STORE');
  const url = env('BUCKETQ_URL') ?? (store === undefined ? 'http://127.0.0.1:8080' : undefined);
  return {
    ...(url !== undefined ? { url } : {}),
    ...(store !== undefined ? { store } : {}),
    ...(env('BUCKETQ_TOKEN') !== undefined ? { token: env('BUCKETQ_TOKEN') } : {}),
  };
}

/** `[+1234 ms] message`, from the start of the process. */
const started = Date.now();
export function log(message: string): void {
  console.log(`[+${String(Date.now() - started).padStart(5)} ms] ${message}`);
}
