/**
 * The client side of `bench/broker-cpu.ts --wire` (a child process, so that its CPU is not the
 * broker's): bench:peers's W1 against the broker at URL, 16 producers sharing one createClient
 * and pushing one job per call, one createWorker (its defaults, concurrency 16, no-op handler) on
 * a client of its own. A warm-up of WARMUP jobs, then `{phase: 'start'}` to the parent, JOBS jobs,
 * `{phase: 'end'}`; the parent measures its own CPU between the two.
 *
 *   tsx bench/broker-cpu-wire-driver.ts URL JOBS WARMUP [PAYLOAD_BYTES]
 *
 * PAYLOAD_BYTES > 0: each payload also carries `items`, small objects (an order's lines) making
 * about that many bytes of JSON: parsing and serialising it costs what a real payload's would.
 */
import { createClient } from '../src/client/index.js';
import { createWorker } from '../src/worker/index.js';

const [url = '', jobs = '10000', warmup = '1000', payloadBytes = '0'] = process.argv.slice(2);
type Item = { sku: string; qty: number; price: number; gift: boolean };
type Payload = { n: number; items?: Item[] };
const ITEMS: Item[] = [];
while (JSON.stringify(ITEMS).length < Number(payloadBytes)) ITEMS.push({ sku: `SKU-${10_000 + ITEMS.length}`, qty: ITEMS.length % 7, price: 9.95 + ITEMS.length, gift: ITEMS.length % 3 === 0 });
const payload = (n: number): Payload => (ITEMS.length > 0 ? { n, items: ITEMS } : { n });
const TOPIC = 'w1';
const PRODUCERS = 16;
const producer = createClient<Payload>({ url, topic: TOPIC });
const consumer = createClient<Payload>({ url, topic: TOPIC });
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
      while (next < count) await producer.push(payload(next++));
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
