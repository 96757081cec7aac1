/**
 * bucketq in the peer comparison: one `bucketq broker` process (HTTP on loopback) on the given
 * store, producers with `createClient` (one client per producer, `push` one job per call),
 * `pushMany` in chunks of the broker's batch limit (10,000 jobs, --max-batch) for bulk, and
 * worker processes running `createWorker` (bench/peers/bucketq-worker.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createClient, type Client } from '../../src/client/index.js';
import { DEFAULT_LIMITS } from '../../src/protocol.js';
import { onTeardown, ROOT, stopProcess } from './children.js';
import type { BenchPayload, RunningSystem, SystemAdapter } from './types.js';

export interface BrokerProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts `bucketq broker --store STORE` on a free loopback port; `nodeFlags` go before the script (e.g. --cpu-prof). */
export async function startBroker(store: string, nodeFlags: string[] = [], brokerFlags: string[] = []): Promise<BrokerProcess> {
  const proc = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', 'src/cli/main.ts', 'broker', '--store', store, '--listen', '127.0.0.1:0', ...brokerFlags], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = onTeardown(() => stopProcess(proc, 30_000));
  createInterface({ input: proc.stderr! }).on('line', (l) => process.stderr.write(`[broker] ${l}\n`));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const lines = createInterface({ input: proc.stdout! });
    lines.on('line', (l) => {
      const m = /listening on (\S+)/.exec(l);
      if (m) resolveUrl(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`bucketq broker exited (${code}) before listening`)));
  });
  return { url, pid: proc.pid!, stop };
}

/** Node flags for the brokers the bucketq adapters start (`--cpu-prof` of bench:peers). */
const brokerNodeFlags: string[] = [];
export function profileBrokers(dir: string): void {
  brokerNodeFlags.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
}

/**
 * The worker's claim-ahead, as the README recommends for short handlers: each claim asks for the
 * free slots plus this many, so one commit carries hundreds of claims instead of 16.
 */
export const WORKER_PREFETCH = 256;

export function bucketqAdapter(kind: 'file' | 'memory'): SystemAdapter {
  const chunk = DEFAULT_LIMITS.maxBatch;
  return {
    name: `bucketq-${kind}`,
    bulkChunk: chunk,
    settings: {
      server: `one \`bucketq broker\` process, HTTP keep-alive on loopback, store ${kind === 'file' ? '`file:` (a temp dir; fsync per commit)' : '`memory://` (in the broker process; no durability)'}`,
      producers: 'one `createClient` per producer, `push` (one job per request)',
      bulk: `\`pushMany\`, ${chunk} jobs per call (the broker's --max-batch), one call at a time`,
      worker: `\`createWorker\` (concurrency 16, prefetch ${WORKER_PREFETCH}, no-op handler) on \`createClient\`, one process each`,
    },
    async start(): Promise<RunningSystem | string> {
      const dir = kind === 'file' ? await mkdtemp(join(tmpdir(), 'bucketq-peers-')) : null;
      const removeDir = onTeardown(async () => {
        if (dir) await rm(dir, { recursive: true, force: true });
      });
      const broker = await startBroker(dir ? `file:${dir}` : 'memory://', brokerNodeFlags);
      const clients: Array<Client<BenchPayload>> = [];
      const client = (topic: string) => {
        const c = createClient<BenchPayload>({ url: broker.url, topic });
        clients.push(c);
        return c;
      };
      const bulkClients = new Map<string, Client<BenchPayload>>();
      const version = (await import('../../package.json', { with: { type: 'json' } })).default.version;
      return {
        version: `bucketq ${version}`,
        async producers(queue, count) {
          return Array.from({ length: count }, () => {
            const c = client(queue);
            return (payload: BenchPayload) => c.push(payload);
          });
        },
        async pushBulk(queue, payloads) {
          let c = bulkClients.get(queue);
          if (!c) bulkClients.set(queue, (c = client(queue)));
          for (let i = 0; i < payloads.length; i += chunk) await c.pushMany(payloads.slice(i, i + chunk).map((payload) => ({ payload })));
        },
        workerArgv: (queue, concurrency) => ['bench/peers/bucketq-worker.ts', broker.url, queue, String(concurrency), String(WORKER_PREFETCH)],
        async stop() {
          await Promise.all(clients.map((c) => c.close()));
          await broker.stop();
          await removeDir();
        },
      };
    },
  };
}
