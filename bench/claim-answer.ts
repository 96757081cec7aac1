/**
 * What a claimed job costs in the claim's HTTP answer, per job (CPU µs, this process): the claim
 * op's copy of the payload plus the answer's JSON, as done now (the payload's text kept and
 * written as it is: core/claimed-payload.ts, transports/http/claimed-job.ts) against the way before
 * (a copy parsed from the text in the op, the answer made by JSON.stringify of the parsed copy).
 * 16 jobs a claim, as a default worker asks for; payloads of `--payload-bytes` of JSON (order lines).
 *
 *   npx tsx bench/claim-answer.ts [--payload-bytes 1024] [--rounds 20000]
 */
import { parseArgs } from 'node:util';
import { setLazyPayload } from '../src/core/claimed-payload.js';
import type { ClaimedJob } from '../src/core/ops/claim.js';
import { claimedJob, claimedJobJson } from '../src/transports/http/claimed-job.js';

const { values: args } = parseArgs({ options: { 'payload-bytes': { type: 'string', default: '1024' }, rounds: { type: 'string', default: '20000' } } });
const BYTES = Number(args['payload-bytes']);
const ROUNDS = Number(args.rounds);
const JOBS = 16;

type Item = { sku: string; qty: number; price: number; gift: boolean };
const items: Item[] = [];
while (JSON.stringify(items).length < BYTES) items.push({ sku: `SKU-${10_000 + items.length}`, qty: items.length % 7, price: 9.95 + items.length, gift: items.length % 3 === 0 });
const texts = Array.from({ length: JOBS }, (_, n) => JSON.stringify(items.length > 0 ? { n, items } : { n }));
const job = (n: number): ClaimedJob => ({ id: `job-${n}`, priority: 0, attempt: 1, maxAttempts: 5, lease: `lease-${n}`, leaseUntil: 1_800_000_000_000, createdAt: 1_799_999_999_000 });

function before(): string {
  const jobs = texts.map((t, n) => ({ ...job(n), payload: JSON.parse(t) as unknown }));
  return JSON.stringify({ jobs: jobs.map(claimedJob) });
}
function now(): string {
  const jobs = texts.map((t, n) => {
    const j = job(n);
    setLazyPayload(j, t);
    return j;
  });
  return `{"jobs":[${jobs.map(claimedJobJson).join(',')}]}`;
}

if (JSON.stringify(JSON.parse(before())) !== JSON.stringify(JSON.parse(now()))) throw new Error('the two answers differ');
const perJob = (f: () => string): number => {
  for (let i = 0; i < ROUNDS / 10; i++) f();
  const t = process.cpuUsage();
  for (let i = 0; i < ROUNDS; i++) f();
  const u = process.cpuUsage(t);
  return (u.user + u.system) / ROUNDS / JOBS;
};
const b = [perJob(before), perJob(before)];
const n = [perJob(now), perJob(now)];
const line = (s: string) => process.stdout.write(`${s}\n`);
line(`claim answer, ${JOBS} jobs a claim, payloads of ${texts[0]!.length} bytes of JSON — node ${process.version}`);
line(`before (parse a copy, stringify the answer): ${Math.min(...b).toFixed(2)} µs per job`);
line(`now (the payload's text as it is):           ${Math.min(...n).toFixed(2)} µs per job (${(Math.min(...b) / Math.min(...n)).toFixed(1)}× less)`);
