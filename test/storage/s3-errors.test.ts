/**
 * The S3 driver's error table, case by case: what each SDK failure means for the broker. (The
 * cases a real server produces are also run against radosgw in s3.test.ts; these are the ones it
 * will not produce on demand: AWS's 409 and 404, throttling, DNS, connection timeouts.)
 */
import { describe, expect, it } from 'vitest';
import { mapConditionalError, mapPlainError } from '../../src/storage/s3-errors.js';

/** An error shaped like the SDK's: a service exception with a name and an HTTP status, or a network error. */
const service = (name: string, status: number) => Object.assign(new Error('UnknownError'), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
const network = (code: string, message = `connect ${code}`) => Object.assign(new Error(message), { code });
const timeout = (message: string) => Object.assign(new Error(message), { name: 'TimeoutError', code: 'ETIMEDOUT' });

describe('S3 errors on a conditional write', () => {
  const cases: Array<[string, unknown, string]> = [
    ['412 PreconditionFailed', service('PreconditionFailed', 412), 'STORE_CONFLICT'],
    ['409 ConditionalRequestConflict (AWS, concurrent writers)', service('ConditionalRequestConflict', 409), 'STORE_CONFLICT'],
    ['409 OperationAborted', service('OperationAborted', 409), 'STORE_CONFLICT'],
    ['404 NoSuchKey (AWS: If-Match on a missing key)', service('NoSuchKey', 404), 'STORE_CONFLICT'],
    ['404 NoSuchBucket', service('NoSuchBucket', 404), 'FAILED_PRECONDITION'],
    ['403 AccessDenied', service('AccessDenied', 403), 'FAILED_PRECONDITION'],
    ['500 (radosgw: most race losers)', service('UnknownError', 500), 'STORE_AMBIGUOUS'],
    ['503 ServiceUnavailable', service('ServiceUnavailable', 503), 'STORE_AMBIGUOUS'],
    ['503 SlowDown (refused before acting)', service('SlowDown', 503), 'STORE_UNAVAILABLE'],
    ['429', service('TooManyRequests', 429), 'STORE_UNAVAILABLE'],
    ['400 RequestTimeout (the body never arrived)', service('RequestTimeout', 400), 'STORE_UNAVAILABLE'],
    ['ECONNREFUSED', network('ECONNREFUSED'), 'STORE_UNAVAILABLE'],
    ['ENOTFOUND', network('ENOTFOUND'), 'STORE_UNAVAILABLE'],
    ['ECONNRESET (after sending)', network('ECONNRESET', 'socket hang up'), 'STORE_AMBIGUOUS'],
    ['request timeout', timeout('@smithy/node-http-handler - [ERROR] a request has exceeded the configured 15000 ms requestTimeout.'), 'STORE_AMBIGUOUS'],
    ['connection timeout', Object.assign(new Error('@smithy/node-http-handler - the request socket did not establish a connection with the server within the configured timeout of 5000 ms.'), { name: 'TimeoutError' }), 'STORE_UNAVAILABLE'],
    ['no credentials', Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }), 'FAILED_PRECONDITION'],
    ['400 InvalidArgument', service('InvalidArgument', 400), 'INTERNAL'],
  ];
  for (const [what, err, code] of cases) {
    it(`${what} → ${code}`, () => expect(mapConditionalError(err, 's3://b: write k').code).toBe(code));
  }
});

describe('S3 errors after the SDK retried a read, list, delete or unconditional write', () => {
  it('is STORE_UNAVAILABLE for reads when transient, configuration problems at once', () => {
    expect(mapPlainError(service('InternalError', 500), 'read').code).toBe('STORE_UNAVAILABLE');
    expect(mapPlainError(network('ECONNRESET'), 'read').code).toBe('STORE_UNAVAILABLE');
    expect(mapPlainError(service('NoSuchBucket', 404), 'read').code).toBe('FAILED_PRECONDITION');
    expect(mapPlainError(service('SignatureDoesNotMatch', 403), 'read').message).toMatch(/access denied/);
  });

  it('is STORE_AMBIGUOUS for an unconditional write whose last try may have landed', () => {
    expect(mapPlainError(service('InternalError', 500), 'write', true).code).toBe('STORE_AMBIGUOUS');
    expect(mapPlainError(timeout('a request has exceeded the configured requestTimeout'), 'write', true).code).toBe('STORE_AMBIGUOUS');
    expect(mapPlainError(network('ECONNREFUSED'), 'write', true).code).toBe('STORE_UNAVAILABLE');
    expect(mapPlainError(service('SlowDown', 503), 'write', true).code).toBe('STORE_UNAVAILABLE');
  });
});
