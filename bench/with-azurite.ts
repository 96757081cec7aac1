/**
 * npx tsx bench/with-azurite.ts [bench args] — starts Azurite on loopback (in memory), makes a
 * fresh container and runs bench/embedded.ts with `--store az://CONTAINER/bench` and the
 * connection string in its environment, then stops Azurite.
 *
 *   npx tsx bench/with-azurite.ts --only nolatency --seconds 5
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startAzurite } from '../test/servers/azurite.js';

// Every commit rewrites queue.json (megabytes at this load) and Azurite frees old versions lazily.
const azurite = await startAzurite({ memoryLimitMb: 8192 });
const container = await azurite.newContainer();
const bench = fileURLToPath(new URL('./embedded.ts', import.meta.url));
const child = spawn(process.execPath, ['--import', 'tsx', bench, '--store', `az://${container}/bench`, ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString },
});
const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
await azurite.stop();
process.exitCode = code ?? 1;
