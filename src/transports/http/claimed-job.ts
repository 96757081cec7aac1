/**
 * A claimed job as the claim route answers it: every field of the job but `payloadRef`, and its
 * payload (null when it had none). The payload is written from the JSON text the claim kept
 * (core/claimed-payload.ts), not parsed and serialised once more: for a payload of 1 KiB that was
 * most of a claimed job's cost in the answer (`npx tsx bench/claim-answer.ts`).
 *
 * The route's whole answer is written as UTF-8 bytes straight into one buffer
 * ({@link claimAnswerBytes}), not built as a string: a string of a few hundred jobs' JSON, made by
 * concatenation, was flattened and then encoded on its way into the socket. With 1 KiB payloads
 * this costs about half as much per job (`npx tsx bench/claim-answer.ts --payload-bytes 1024
 * --jobs 272`); with tiny payloads about the same.
 */
import { ByteWriter } from '../../core/byte-writer.js';
import { lazyPayloadText } from '../../core/claimed-payload.js';
import type { ClaimedJob } from '../../core/ops/claim.js';

/** The job as an object (a payload that was read or replaced since the claim, or a large payload inlined from its object). */
export function claimedJob(job: ClaimedJob): Record<string, unknown> {
  const { payloadRef: _ref, payload, ...rest } = job;
  return { ...rest, payload: payload ?? null };
}

/** A claimed job's answer bytes, about: the fields, a lease token and a small payload. */
const GUESS_BYTES_PER_JOB = 192;

/** The claim route's answer, `{"jobs":[...]}`: JSON.stringify({ jobs: jobs.map(claimedJob) }) as UTF-8, byte for byte. */
export function claimAnswerBytes(jobs: readonly ClaimedJob[]): Buffer {
  const w = new ByteWriter();
  w.buf = Buffer.allocUnsafeSlow(64 + jobs.length * GUESS_BYTES_PER_JOB);
  w.ascii('{"jobs":[');
  for (let i = 0; i < jobs.length; i++) {
    if (i > 0) w.ascii(',');
    writeClaimedJob(w, jobs[i]!);
  }
  w.ascii(']}');
  return w.buf.subarray(0, w.length);
}

/**
 * The fields a claim gives a job (ops/claim.ts, `claimed`), in its order, then the payload's text;
 * a job whose payload is no longer its text goes through JSON.stringify.
 * test/transports/claim-answer.test.ts holds this to claimedJob()'s JSON for every kind of job.
 */
function writeClaimedJob(w: ByteWriter, job: ClaimedJob): void {
  const text = lazyPayloadText(job);
  if (text === undefined) return w.text(JSON.stringify(claimedJob(job)));
  w.ascii('{"id":');
  w.jsonString(job.id);
  w.ascii(',"priority":');
  w.jsonNumber(job.priority);
  w.ascii(',"attempt":');
  w.jsonNumber(job.attempt);
  w.ascii(',"maxAttempts":');
  w.jsonNumber(job.maxAttempts);
  w.ascii(',"lease":');
  w.jsonString(job.lease);
  w.ascii(',"leaseUntil":');
  w.jsonNumber(job.leaseUntil);
  w.ascii(',"createdAt":');
  w.jsonNumber(job.createdAt);
  if (job.lastError !== undefined) {
    w.ascii(',"lastError":');
    w.jsonString(job.lastError);
  }
  w.ascii(',"payload":');
  w.text(text);
  w.ascii('}');
}
