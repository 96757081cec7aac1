/**
 * One topic or many on one broker: 100 clients (one per topic, or all on one topic) shared by 64
 * producer loops, each pushing one job per call to the next client in turn, for a fixed time, on
 * the run's store (`--store`, default `file:`). Pushes only (no workers: draining 100 topics needs 100 of them, which would
 * measure worker processes on 2 cores, not the broker). Each topic has its own commit loop and
 * its own queue.json, so 100 topics means up to 100 writes in flight instead of one.
 */
import { createClient, type Client } from '../../src/client/index.js';
import type { BenchPayload } from '../peers/types.js';
import { closedLoop, pct, scaleBroker } from './common.js';
import { fileStore, type ScaleStore } from './store.js';

export interface TopicsCase {
  topics: number;
  pushed: number;
  jobsPerSec: number;
  pushP50Ms: number;
  pushP99Ms: number;
}

export const TOPIC_PRODUCERS = 64;
const CLIENTS = 100;

export async function topicsCase(topics: number, seconds: number, store: ScaleStore = fileStore()): Promise<TopicsCase> {
  const broker = await scaleBroker(store);
  const clients: Array<Client<BenchPayload>> = Array.from({ length: CLIENTS }, (_, i) => createClient<BenchPayload>({ url: broker.url, topic: `t${i % topics}` }));
  try {
    // Warm-up: every topic exists and every client has its connection before timing.
    await Promise.all(clients.map((c) => c.push({ n: -1 })));
    let turn = 0;
    const run = await closedLoop(TOPIC_PRODUCERS, (n) => clients[turn++ % CLIENTS]!.push({ n }), Number.MAX_SAFE_INTEGER, seconds * 1000);
    return { topics, pushed: run.pushed, jobsPerSec: run.pushed / (run.ms / 1000), pushP50Ms: pct(run.rtt, 50), pushP99Ms: pct(run.rtt, 99) };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await broker.stop();
  }
}
