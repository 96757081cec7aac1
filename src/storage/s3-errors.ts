/**
 * How the S3 driver turns an AWS SDK failure into one of the storage contract's outcomes. The
 * question behind each mapping is the one the broker needs answered: did this call certainly not
 * take effect (STORE_UNAVAILABLE: retry), certainly fail its condition (STORE_CONFLICT: re-read and
 * re-apply), or is the outcome unknown (STORE_AMBIGUOUS: re-read and find out)?
 */
import { QueueError } from '../errors.js';
import { isUnsentNetworkError } from './cloud-call.js';

/** The parts of an SDK error we look at (service exceptions and network errors alike). */
interface SdkErrorLike {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; attempts?: number };
  $retryable?: unknown;
}

export function statusOf(err: unknown): number | undefined {
  return (err as SdkErrorLike | null)?.$metadata?.httpStatusCode;
}

function nameOf(err: unknown): string {
  const e = (err ?? {}) as SdkErrorLike;
  return String(e.name ?? e.Code ?? e.code ?? '');
}

/** The key is missing (a missing bucket is a configuration problem, never "not found"). */
export function isNotFound(err: unknown): boolean {
  const name = nameOf(err);
  return name !== 'NoSuchBucket' && (statusOf(err) === 404 || name === 'NoSuchKey' || name === 'NotFound');
}

/**
 * 412; 409 ConditionalRequestConflict or OperationAborted (AWS: a concurrent conditional write to
 * the same key is in progress or won; nothing of ours landed); and 404 NoSuchKey, which AWS
 * documents for If-Match on a missing key (radosgw answers 412).
 */
export function isConditionFailure(err: unknown): boolean {
  const status = statusOf(err);
  const name = nameOf(err);
  if (status === 412 || name === 'PreconditionFailed') return true;
  if (status === 409 && (name === 'ConditionalRequestConflict' || name === 'OperationAborted')) return true;
  return isNotFound(err);
}

/** Errors raised before any byte of the request could reach the server. */
function certainlyNotSent(err: unknown): boolean {
  const e = (err ?? {}) as SdkErrorLike;
  if (isUnsentNetworkError(err)) return true;
  // NodeHttpHandler's connectionTimeout: no socket was ever connected.
  if (e.name === 'TimeoutError' && /did not establish a connection/i.test(String(e.message ?? ''))) return true;
  // Credential or region resolution failed: the request was never signed, let alone sent.
  return e.name === 'CredentialsProviderError' || /region is missing/i.test(String(e.message ?? ''));
}

/**
 * Answers that say the server refused the request before acting on it: throttling, and S3's
 * RequestTimeout (it never received the whole body).
 */
function isThrottle(err: unknown): boolean {
  const name = nameOf(err);
  return statusOf(err) === 429 || ['SlowDown', 'Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'RequestTimeout'].includes(name);
}

function isTransient(err: unknown): boolean {
  const status = statusOf(err);
  if (status !== undefined) return status >= 500 || status === 429 || status === 408 || isThrottle(err);
  // No HTTP answer at all: a network error or a timeout.
  return true;
}

/** Configuration problems no retry fixes: wrong bucket, credentials, region, permissions. */
function configProblem(err: unknown, where: string): QueueError | null {
  const e = (err ?? {}) as SdkErrorLike;
  const name = nameOf(err);
  const status = statusOf(err);
  const say = (why: string) => new QueueError('FAILED_PRECONDITION', `${where}: ${why} (${name || status})`, { cause: err });
  if (name === 'CredentialsProviderError') return say(`no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run where IMDS / web identity provides them): ${e.message ?? ''}`);
  if (/region is missing/i.test(String(e.message ?? ''))) return say('no region: add ?region=... to the store URL or set AWS_REGION');
  if (name === 'NoSuchBucket') return say('the bucket does not exist');
  if (status === 403 || name === 'AccessDenied' || name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch') return say('access denied: check the credentials and the bucket policy');
  if (status === 301 || name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed') return say('the bucket is in another region: fix ?region=');
  return null;
}

function describe(err: unknown): string {
  const status = statusOf(err);
  const name = nameOf(err);
  const message = String((err as SdkErrorLike | null)?.message ?? err);
  return [status !== undefined ? `HTTP ${status}` : '', name && name !== 'Error' ? name : '', message && message !== 'UnknownError' ? message : ''].filter(Boolean).join(' ');
}

/**
 * A failed read, list or delete, or (with `write`) an unconditional write, after the SDK's own
 * retries of transient errors. Reads, lists and deletes leave nothing worth knowing behind:
 * STORE_UNAVAILABLE. An unconditional write whose last try may have reached the server may have
 * landed: STORE_AMBIGUOUS, as the contract says (re-sending it would be harmless, but the caller
 * decides that).
 */
export function mapPlainError(err: unknown, where: string, write = false): QueueError {
  if (err instanceof QueueError) return err;
  const config = configProblem(err, where);
  if (config) return config;
  if (write && isTransient(err) && !certainlyNotSent(err) && !isThrottle(err)) {
    return new QueueError('STORE_AMBIGUOUS', `${where}: outcome unknown (${describe(err)})`, { cause: err });
  }
  if (isTransient(err)) return new QueueError('STORE_UNAVAILABLE', `${where}: ${describe(err)}`, { cause: err });
  return new QueueError('INTERNAL', `${where}: unexpected S3 answer: ${describe(err)}`, { cause: err });
}

/**
 * A failed conditional write, sent exactly once (see s3.ts). Anything after the request may have
 * reached the server — a 5xx, a timeout, a dropped connection — leaves the outcome unknown:
 * radosgw answers most losers of a conditional race with HTTP 500, and an AWS 500 can follow a
 * write that landed. Only throttling and errors raised before sending are certain no-ops.
 */
export function mapConditionalError(err: unknown, where: string): QueueError {
  if (err instanceof QueueError) return err;
  if (isConditionFailure(err)) return new QueueError('STORE_CONFLICT', `${where}: condition failed (${describe(err)})`, { cause: err });
  const config = configProblem(err, where);
  if (config) return config;
  if (certainlyNotSent(err) || isThrottle(err)) return new QueueError('STORE_UNAVAILABLE', `${where}: ${describe(err)}`, { cause: err });
  if (isTransient(err)) return new QueueError('STORE_AMBIGUOUS', `${where}: outcome unknown (${describe(err)})`, { cause: err });
  return new QueueError('INTERNAL', `${where}: unexpected S3 answer: ${describe(err)}`, { cause: err });
}
