/**
 * npx tsx bench/with-radosgw.ts [embedded|network] [bench args] — boots a throw-away Ceph radosgw
 * on loopback (test/servers/radosgw.ts; installs Ceph from Debian's packages when missing, as
 * root), then runs bench/embedded.ts (default) or bench/network.ts with
 * `--store s3://BUCKET/bench-…?endpoint=…&forcePathStyle=true` and the S3 user's keys in the
 * environment, then stops radosgw.
 *
 *   npx tsx bench/with-radosgw.ts embedded --only nolatency --seconds 10
 *   npx tsx bench/with-radosgw.ts network --only latency
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ensureCeph, startRadosgw } from '../test/servers/radosgw.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // the README says which Node versions are supported
const [first, ...rest] = process.argv.slice(2);
const which = first === 'network' || first === 'embedded' ? first : 'embedded';
const args = first === which ? rest : process.argv.slice(2);
const missing = await ensureCeph((l) => console.error(`[radosgw] ${l}`));
if (missing) throw new Error(`cannot run radosgw: ${missing}`);
const server = await startRadosgw();
const store = `s3://${server.bucket}/bench-${Date.now()}?region=${server.region}&endpoint=${server.endpoint}&forcePathStyle=true`;
console.error(`[radosgw] ${server.endpoint}; store ${store}`);
const bench = fileURLToPath(new URL(`./${which}.ts`, import.meta.url));
const child = spawn(process.execPath, ['--import', 'tsx', bench, '--store', store, ...args], {
  stdio: 'inherit',
  env: { ...process.env, AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
});
const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
await server.stop();
process.exitCode = code ?? 1;
