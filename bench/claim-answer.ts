/**
 * What a claimed job costs in the claim's HTTP answer, per job (CPU µs, this process): the claim
 * op's copy of the payload plus the answer's bytes (what the socket sends), three ways:
 *   parsed   a copy parsed from the text in the op, the answer JSON.stringify of it, then encoded
 *            (the first way);
 *   text     the payload's text kept (core/claimed-payload.ts) and the answer built as a string
 *            around it, then encoded (the second);
 *   bytes    the answer written as UTF-8 straight into a buffer around the kept text
 *            (transports/http/claimed-job.ts, claimAnswerBytes: now).
 * `--jobs` jobs a claim (a default worker's claim on a deep queue asks for up to 272); payloads of
 * `--payload-bytes` of JSON (order lines; 0: W1's `{"n":i}`).
 *
 *   npx tsx bench/claim-answer.ts [--payload-bytes 1024] [--jobs 16] [--rounds 20000]
 */
import { setLazyPayload } from '../src/core/claimed-payload.js';
import type { ClaimedJob } from '../src/core/ops/claim.js';
import { lazyPayloadText } from '../src/core/claimed-payload.js';
import { claimAnswerBytes, claimedJob } from '../src/transports/http/claimed-job.js';
import { benchArgs } from './bench-args.js';

const HELP = `npx tsx bench/claim-answer.ts [options]

What a claimed job costs in the claim's HTTP answer, per job (CPU µs, this process), three ways:
parsed, text and bytes (the way the broker answers now).

  --payload-bytes N   each payload's JSON size, about (default 1024; 0: W1's {"n":i})
  --jobs N            jobs a claim (default 16)
  --rounds N          claims timed, scaled to 16 jobs a claim (default 20000)
  -h, --help          this text
`;
const { values: args, integer } = benchArgs('claim-answer', HELP, { 'payload-bytes': { type: 'string', default: '1024' }, jobs: { type: 'string', default: '16' }, rounds: { type: 'string', default: '20000' } });
const BYTES = integer(args['payload-bytes'], 'payload-bytes', 0);
const JOBS = integer(args.jobs, 'jobs');
const ROUNDS = Math.max(10, Math.round((integer(args.rounds, 'rounds') * 16) / JOBS));

type Item = { sku: string; qty: number; price: number; gift: boolean };
const items: Item[] = [];
while (JSON.stringify(items).length < BYTES) items.push({ sku: `SKU-${10_000 + items.length}`, qty: items.length % 7, price: 9.95 + items.length, gift: items.length % 3 === 0 });
const texts = Array.from({ length: JOBS }, (_, n) => JSON.stringify(items.length > 0 ? { n, items } : { n }));
const job = (n: number): ClaimedJob => ({ id: `job-${n}`, priority: 0, attempt: 1, maxAttempts: 5, lease: `lease-${n}`, leaseUntil: 1_800_000_000_000, createdAt: 1_799_999_999_000 });

const lazyJobs = (): ClaimedJob[] =>
  texts.map((t, n) => {
    const j = job(n);
    setLazyPayload(j, t);
    return j;
  });
function parsed(): Buffer {
  const jobs = texts.map((t, n) => ({ ...job(n), payload: JSON.parse(t) as unknown }));
  return Buffer.from(JSON.stringify({ jobs: jobs.map(claimedJob) }));
}
/** The second way's job text: the fields by JSON.stringify, the payload's text spliced in. */
function jobText(j: ClaimedJob): string {
  const rest: Record<string, unknown> = {};
  for (const k of Object.keys(j)) if (k !== 'payload' && k !== 'payloadRef') rest[k] = j[k as keyof ClaimedJob];
  const head = JSON.stringify(rest);
  return `${head.slice(0, -1)},"payload":${lazyPayloadText(j)!}}`;
}
function text(): Buffer {
  return Buffer.from(`{"jobs":[${lazyJobs().map(jobText).join(',')}]}`);
}
function bytes(): Buffer {
  return claimAnswerBytes(lazyJobs());
}

const answers = [parsed(), text(), bytes()].map((b) => JSON.stringify(JSON.parse(b.toString())));
if (new Set(answers).size !== 1) throw new Error('the answers differ');
const perJob = (f: () => Buffer): number => {
  for (let i = 0; i < ROUNDS / 10; i++) f();
  const t = process.cpuUsage();
  for (let i = 0; i < ROUNDS; i++) f();
  const u = process.cpuUsage(t);
  return (u.user + u.system) / ROUNDS / JOBS;
};
const line = (s: string) => process.stdout.write(`${s}\n`);
line(`claim answer, ${JOBS} jobs a claim, payloads of ${texts[0]!.length} bytes of JSON — node ${process.version}`);
const ways: Array<[string, () => Buffer]> = [
  ['parsed (a parsed copy, JSON.stringify, encoded)', parsed],
  ['text (the kept text in a string, encoded)', text],
  ['bytes (written into a buffer: now)', bytes],
];
for (const [name, f] of ways) line(`${name.padEnd(50)} ${Math.min(perJob(f), perJob(f)).toFixed(2)} µs per job`);
