#!/usr/bin/env node
// The `bucketq` command: runs the compiled CLI in dist/, which `npm run build` writes (npm's
// `prepare` runs it on install from a checkout or git; a published package ships it). Without it,
// one line says what is wrong and what to do, instead of an ERR_MODULE_NOT_FOUND stack trace.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  const dir = fileURLToPath(new URL('..', import.meta.url)).replace(/[\\/]$/, '');
  const installed = /[\\/]node_modules[\\/]/.test(dir);
  console.error(
    installed
      ? `bucketq: not built: ${dir} has no dist/ (npm skipped its prepare script, which builds it); allow it with \`npm install-scripts approve bucketq\` and reinstall, or install a published version`
      : `bucketq: not built: run \`npm install\` (or \`npm run build\`) in ${dir}`,
  );
  process.exit(1);
}
const { runMain } = await import(main.href);
await runMain();
