/**
 * s3rver: an S3 fake that ignores conditional headers (If-Match, If-None-Match). Used only to
 * show that `bucketq doctor` catches such a store; it can never stand in for a real S3 server.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';

export interface FakeS3 {
  endpoint: string;
  bucket: string;
  /** s3rver's fixed credentials. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export async function startS3rver(bucket = 'fake-bucket'): Promise<FakeS3> {
  const directory = await mkdtemp(path.join(tmpdir(), 'bucketq-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stop: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
