/**
 * A claimed job as the claim route answers it: every field of the job but `payloadRef`, and its
 * payload (null when it had none). The payload is written from the JSON text the claim kept
 * (core/claimed-payload.ts), not parsed and serialised once more: for a payload of 1 KiB that was
 * most of a claimed job's cost in the answer (`npx tsx bench/claim-answer.ts`).
 */
import { lazyPayloadText } from '../../core/claimed-payload.js';
import type { ClaimedJob } from '../../core/ops/claim.js';

/** The job as an object (a payload that was read or replaced since the claim, or a large payload inlined from its object). */
export function claimedJob(job: ClaimedJob): Record<string, unknown> {
  const { payloadRef: _ref, payload, ...rest } = job;
  return { ...rest, payload: payload ?? null };
}

/** The JSON text of {@link claimedJob}(job), its payload from the claim's text when it still has it. */
export function claimedJobJson(job: ClaimedJob): string {
  const text = lazyPayloadText(job);
  if (text === undefined) return JSON.stringify(claimedJob(job));
  const rest: Record<string, unknown> = {};
  // Object.keys reads no value: `payload` stays unparsed.
  for (const k of Object.keys(job)) if (k !== 'payload' && k !== 'payloadRef') rest[k] = job[k as keyof ClaimedJob];
  const head = JSON.stringify(rest);
  return `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"payload":${text}}`;
}
