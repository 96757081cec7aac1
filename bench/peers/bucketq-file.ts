/** bucketq on a `file:` store (a temp dir; every commit fsynced): see bench/peers/bucketq.ts. */
import { bucketqAdapter } from './bucketq.js';

export const bucketqFile = bucketqAdapter('file');
