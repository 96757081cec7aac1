/**
 * The S3 store a test file runs against: the run's radosgw (test/servers/global-setup.ts) or the
 * real bucket of BUCKETQ_TEST_S3_URL. Credentials reach the driver the way users give them, through
 * the SDK's standard environment variables, which are set in this process (and handed to children).
 */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import type { HarnessAnswer } from './global-setup.js';

export type S3Target =
  | {
      ready: true;
      /** 'radosgw' for the local server, 'cloud' for BUCKETQ_TEST_S3_URL. */
      kind: 'radosgw' | 'cloud';
      /** A store URL on a fresh prefix of its own. */
      freshUrl(label?: string): string;
      /** What a child process needs in its environment to reach the store. */
      env: NodeJS.ProcessEnv;
      /** The local server's details (radosgw only). */
      server?: Extract<HarnessAnswer, { kind: 'radosgw' }>;
    }
  | { ready: false; reason: string };

let cached: Promise<S3Target> | null = null;

/** Waits for the run's S3 server (up to the boot's own time limit) and describes it. */
export function s3Target(): Promise<S3Target> {
  cached ??= (async (): Promise<S3Target> => {
    const harness = inject('s3Harness');
    if (!harness) return { ready: false, reason: 'no S3 harness: run through vitest with test/servers/global-setup.ts' };
    const answer = (await (await fetch(harness, { signal: AbortSignal.timeout(240_000) })).json()) as HarnessAnswer;
    if (answer.kind === 'skip') return { ready: false, reason: answer.reason };
    const unique = (label: string) => `bq-test-${label}-${randomUUID().slice(0, 8)}`;
    if (answer.kind === 'url') {
      const [base = '', query] = answer.url.split('?');
      return {
        ready: true,
        kind: 'cloud',
        freshUrl: (label = 't') => `${base.replace(/\/+$/, '')}/${unique(label)}${query ? `?${query}` : ''}`,
        env: {},
      };
    }
    const env = { AWS_ACCESS_KEY_ID: answer.accessKeyId, AWS_SECRET_ACCESS_KEY: answer.secretAccessKey, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    Object.assign(process.env, env);
    const query = `region=${answer.region}&endpoint=${encodeURIComponent(answer.endpoint)}&forcePathStyle=true`;
    return { ready: true, kind: 'radosgw', server: answer, env, freshUrl: (label = 't') => `s3://${answer.bucket}/${unique(label)}?${query}` };
  })();
  return cached;
}
