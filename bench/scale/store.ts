/**
 * Where bench:scale's broker processes keep their topics (`--store file|radosgw`):
 *
 *   file      a fresh temp dir per broker group, removed at teardown (the default)
 *   radosgw   one throw-away Ceph radosgw on loopback for the whole run (test/servers/radosgw.ts;
 *             Ceph installed from Debian's packages when missing), a fresh key prefix per broker
 *             group in its bucket; the S3 user's keys go into this process's environment, which
 *             every broker process inherits. Stopped at teardown (also on Ctrl-C / SIGTERM).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCeph, startRadosgw } from '../../test/servers/radosgw.js';
import { onTeardown } from '../peers/children.js';

export const STORE_KINDS = ['file', 'radosgw'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

export interface ScaleStore {
  kind: StoreKind;
  /** One line for the report: what the brokers ran on. */
  describe: string;
  /**
   * A store URL no one has used yet, with `query` (e.g. `latency=50`) added; the data under it is
   * removed at teardown or by the returned `remove`.
   */
  fresh(query?: string): Promise<{ url: string; remove: () => Promise<void> }>;
}

const withQuery = (url: string, query: string) => (query === '' ? url : `${url}${url.includes('?') ? '&' : '?'}${query}`);

export function fileStore(): ScaleStore {
  return {
    kind: 'file',
    describe: '`file:` store in a temp dir (fsync per commit)',
    async fresh(query = '') {
      const dir = await mkdtemp(join(tmpdir(), 'bucketq-scale-'));
      const remove = onTeardown(() => rm(dir, { recursive: true, force: true }));
      return { url: withQuery(`file:${dir}`, query), remove };
    },
  };
}

/**
 * Boots radosgw once; `memstoreGiB` is the OSD's RAM-backed capacity (segments of a deep backlog
 * and the garbage merges leave for two leases need room: about 1 GiB per million small jobs).
 */
export async function radosgwStore(log: (line: string) => void, memstoreGiB: number): Promise<ScaleStore> {
  const missing = await ensureCeph((l) => log(`[radosgw] ${l}`));
  if (missing) throw new Error(`--store radosgw: cannot run radosgw: ${missing}`);
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // before startRadosgw loads the SDK; the README says which Node versions are supported
  const t0 = performance.now();
  const server = await startRadosgw({ memstoreBytes: memstoreGiB * 1024 ** 3 });
  onTeardown(() => server.stop());
  log(`[radosgw] ${server.endpoint} up in ${((performance.now() - t0) / 1000).toFixed(1)} s (memstore ${memstoreGiB} GiB)`);
  process.env.AWS_ACCESS_KEY_ID = server.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = server.secretAccessKey;
  return {
    kind: 'radosgw',
    describe: `\`s3://\` store on Ceph radosgw (one node on loopback, memstore OSD in RAM, pools of size 1)`,
    async fresh(query = '') {
      const url = `s3://${server.bucket}/scale-${randomUUID().slice(0, 8)}?region=${server.region}&endpoint=${server.endpoint}&forcePathStyle=true`;
      // The cluster and everything in it goes at teardown; nothing to remove per prefix.
      return { url: withQuery(url, query), remove: async () => {} };
    },
  };
}
