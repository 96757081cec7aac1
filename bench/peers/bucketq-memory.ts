/** bucketq on the broker's in-process `memory://` store (no durability: the CPU-bound ceiling): see bench/peers/bucketq.ts. */
import { bucketqAdapter } from './bucketq.js';

export const bucketqMemory = bucketqAdapter('memory');
