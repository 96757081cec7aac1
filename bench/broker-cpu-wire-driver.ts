/**
 * The client side of `bench/broker-cpu.ts --wire` (a child process, so that its CPU is not the
 * broker's): bench:peers's W1 against the broker at URL, 16 producers sharing one createClient
 * and pushing one job per call, one createWorker (its defaults, concurrency 16, no-op handler) on
 * a client of its own. A warm-up of WARMUP jobs, then `{phase: 'start'}` to the parent, JOBS jobs,
 * `{phase: 'end'}`; the parent measures its own CPU between the two.
 *
 *   tsx bench/broker-cpu-wire-driver.ts URL JOBS WARMUP
 */
import { createClient } from '../src/client/index.js';
import { createWorker } from '../src/worker/index.js';

const [url = '', jobs = '10000', warmup = '1000'] = process.argv.slice(2);
const TOPIC = 'w1';
const PRODUCERS = 16;
const producer = createClient<{ n: number }>({ url, topic: TOPIC });
const consumer = createClient<{ n: number }>({ url, topic: TOPIC });
let completed = 0;
let waiting: { at: number; resolve(): void } | null = null;
const worker = createWorker(consumer, () => null, { concurrency: 16 });
worker.on('completed', () => {
  completed++;
  if (waiting && completed >= waiting.at) waiting.resolve();
});
worker.on('error', (e) => process.stderr.write(`worker error: ${e.code} ${e.message}\n`));
const send = (m: unknown) => new Promise<void>((r) => process.send!(m, () => r()));

async function run(count: number): Promise<void> {
  const target = completed + count;
  const done = new Promise<void>((resolve) => (waiting = { at: target, resolve }));
  let next = 0;
  await Promise.all(
    Array.from({ length: PRODUCERS }, async () => {
      while (next < count) await producer.push({ n: next++ });
    }),
  );
  await done;
}

await run(Number(warmup));
await send({ phase: 'start' });
await run(Number(jobs));
await send({ phase: 'end' });
await worker.close({ timeoutMs: 5000 });
await Promise.all([producer.close(), consumer.close()]);
