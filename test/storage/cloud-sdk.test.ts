/**
 * What the Azure and GCS drivers share: the SDKs load lazily (a file: user never loads them, a
 * missing SDK is one line naming the package), and cloudCall's decisions about retries and outcomes.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { classifyAzureError } from '../../src/storage/azure.js';
import { cloudCall, type CallPolicy, type FailureKind } from '../../src/storage/cloud-call.js';
import { classifyGcsError } from '../../src/storage/gcs.js';
import { importSdk } from '../../src/storage/sdk.js';
import { codeOf } from '../codes.js';

const run = promisify(execFile);
const PROJECT = fileURLToPath(new URL('../..', import.meta.url));
const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('lazy cloud SDKs', () => {
  it('file: works with the cloud SDKs missing; s3://, az:// and gs:// then say which package to install', async () => {
    const { stdout } = await run(process.execPath, ['--import', fixture('no-cloud-sdk.mjs'), '--import', 'tsx', fixture('storage-without-cloud-sdk.ts')], { cwd: PROJECT });
    type Failure = { code: string; message: string };
    const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as { file: boolean; s3: Failure; az: Failure; gs: Failure };
    expect(out.file).toBe(true);
    expect(out.s3).toEqual({ code: 'FAILED_PRECONDITION', message: 's3:// stores need the package @aws-sdk/client-s3; install it with: npm install @aws-sdk/client-s3' });
    expect(out.az).toEqual({ code: 'FAILED_PRECONDITION', message: 'az:// stores need the package @azure/storage-blob; install it with: npm install @azure/storage-blob' });
    expect(out.gs).toEqual({ code: 'FAILED_PRECONDITION', message: 'gs:// stores need the package @google-cloud/storage; install it with: npm install @google-cloud/storage' });
  }, 30_000);

  it('importSdk turns a missing package into one line and passes other failures through', async () => {
    const missing = Object.assign(new Error("Cannot find package '@azure/identity' imported from /x.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    const err = await importSdk('@azure/identity', 'az', () => Promise.reject(missing)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'FAILED_PRECONDITION', message: 'az:// stores need the package @azure/identity; install it with: npm install @azure/identity' });
    expect((err as Error).message).not.toContain('\n');
    // A missing dependency *of* the SDK is a broken install, not "install the SDK": left as it is.
    const other = Object.assign(new Error("Cannot find package 'tslib' imported from /x.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    expect(await importSdk('@azure/identity', 'az', () => Promise.reject(other)).catch((e: unknown) => e)).toBe(other);
  });
});

describe('cloudCall', () => {
  /** A policy whose attempts fail with the given kinds in turn, then succeed. */
  function scripted(kinds: FailureKind[]) {
    let calls = 0;
    const sleeps: number[] = [];
    const policy: CallPolicy = {
      driver: 'test',
      timeoutMs: 10_000,
      retry: { attempts: 3, baseMs: 10, maxMs: 15 },
      classify: (err) => (err as { kind: FailureKind }).kind,
      sleep: async (ms) => void sleeps.push(ms),
    };
    const attempt = async (): Promise<string> => {
      const kind = kinds[calls++];
      if (kind) throw Object.assign(new Error(kind), { kind });
      return 'ok';
    };
    return { policy, attempt, calls: () => calls, sleeps };
  }

  it('never repeats a conditional write that may have been sent', async () => {
    for (const first of ['unknown', 'conflict', 'fatal'] as const) {
      const s = scripted([first]);
      const expected = { unknown: 'STORE_AMBIGUOUS', conflict: 'STORE_CONFLICT', fatal: 'FAILED_PRECONDITION' }[first];
      expect(await codeOf(cloudCall(s.policy, 'conditional', 'write k', s.attempt))).toBe(expected);
      expect(s.calls()).toBe(1);
    }
  });

  it('retries a conditional write only after attempts that were certainly not sent', async () => {
    const ok = scripted(['unsent', 'unsent']);
    expect(await cloudCall(ok.policy, 'conditional', 'write k', ok.attempt)).toBe('ok');
    expect(ok.calls()).toBe(3);
    const then = scripted(['unsent', 'unknown']);
    expect(await codeOf(cloudCall(then.policy, 'conditional', 'write k', then.attempt))).toBe('STORE_AMBIGUOUS');
    const out = scripted(['unsent', 'unsent', 'unsent']);
    expect(await codeOf(cloudCall(out.policy, 'conditional', 'write k', out.attempt))).toBe('STORE_UNAVAILABLE');
  });

  it('retries reads and unconditional writes with growing, capped backoff; a write that may have landed ends ambiguous', async () => {
    const read = scripted(['unknown', 'unknown']);
    expect(await cloudCall(read.policy, 'read', 'read k', read.attempt)).toBe('ok');
    expect(read.sleeps).toHaveLength(2);
    expect(read.sleeps[0]).toBeGreaterThanOrEqual(5);
    expect(read.sleeps[0]).toBeLessThanOrEqual(10);
    expect(read.sleeps[1]).toBeLessThanOrEqual(15);
    const failedRead = scripted(['unknown', 'unknown', 'unknown']);
    expect(await codeOf(cloudCall(failedRead.policy, 'read', 'read k', failedRead.attempt))).toBe('STORE_UNAVAILABLE');
    const write = scripted(['unsent', 'unknown', 'unsent']);
    expect(await codeOf(cloudCall(write.policy, 'write', 'write k', write.attempt))).toBe('STORE_AMBIGUOUS');
    const unsentWrite = scripted(['unsent', 'unsent', 'unsent']);
    expect(await codeOf(cloudCall(unsentWrite.policy, 'write', 'write k', unsentWrite.attempt))).toBe('STORE_UNAVAILABLE');
  });

  it('sorts SDK errors the way each cloud reports them', () => {
    const az = (statusCode: number | undefined, code?: string) => classifyAzureError({ statusCode, code }, false);
    expect(az(412, 'ConditionNotMet')).toBe('conflict');
    expect(az(409, 'BlobAlreadyExists')).toBe('conflict');
    expect(az(409, 'LeaseIdMissing')).toBe('fatal');
    expect(az(429)).toBe('unsent');
    expect(az(503, 'ServerBusy')).toBe('unknown');
    expect(az(403, 'AuthenticationFailed')).toBe('fatal');
    expect(az(undefined, 'ECONNREFUSED')).toBe('unsent');
    expect(az(undefined, 'ECONNRESET')).toBe('unknown');
    expect(classifyAzureError(new Error('anything'), true)).toBe('unknown');
    const gcs = (err: unknown) => classifyGcsError(err, false);
    expect(gcs({ code: 412 })).toBe('conflict');
    expect(gcs({ code: 429 })).toBe('unsent');
    expect(gcs({ code: 500 })).toBe('unknown');
    expect(gcs({ code: 404 })).toBe('fatal');
    expect(gcs(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe('unsent');
    expect(gcs(new Error('Could not load the default credentials. Browse to https://...'))).toBe('fatal');
    expect(gcs(Object.assign(new Error('network timeout'), { type: 'request-timeout' }))).toBe('unknown');
  });
});
