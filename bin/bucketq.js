#!/usr/bin/env node
// The `bucketq` command: runs the compiled CLI (`npm run build` writes dist/).
import { runMain } from '../dist/cli/main.js';

await runMain();
