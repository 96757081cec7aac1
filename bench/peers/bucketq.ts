/**
 * bucketq in the peer comparison: one `bucketq broker` process (HTTP on loopback) on the given
 * store; W1's producers share one `createClient` (as BullMQ's share one `Queue`) and `push` one
 * job per call; W1i's are raw node:http connections (bench/peers/raw-http-producer.ts); bulk is
 * `pushMany` in chunks of the broker's batch limit (10,000 jobs, --max-batch); worker processes
 * run `createWorker` with its defaults but concurrency (bench/peers/bucketq-worker.ts).
 * `--bucketq-prefetch N` and `--bucketq-client-per-producer` bring back the settings of the runs
 * before issue 15 (prefetch 256, one client per producer).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createClient, type Client } from '../../src/client/index.js';
import { DEFAULT_LIMITS } from '../../src/protocol.js';
import { onTeardown, ROOT, stopProcess } from './children.js';
import { rawHttpProducer, type RawProducer } from './raw-http-producer.js';
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

/** bench:scale's claim-ahead (bench:peers leaves createWorker's default unless --bucketq-prefetch). */
export const WORKER_PREFETCH = 256;

export interface BucketqBenchOptions {
  /** createWorker's `prefetch` for every bucketq worker process; undefined: the option is left out. */
  prefetch?: number | undefined;
  /** W1's producers get one `createClient` each instead of sharing one (the runs before issue 15). */
  clientPerProducer?: boolean;
  /** Flags for every `bucketq broker` started (bench:peers's --bucketq-broker-flag). */
  brokerFlags?: string[];
}

export function bucketqAdapter(kind: 'file' | 'memory', o: BucketqBenchOptions = {}): SystemAdapter {
  const chunk = DEFAULT_LIMITS.maxBatch;
  const prefetch = o.prefetch === undefined ? "prefetch left at its default ('auto')" : `prefetch ${o.prefetch}`;
  const producers = o.clientPerProducer ? 'one `createClient` per producer' : 'one `createClient` shared by the 16 producers';
  const brokerFlags = o.brokerFlags ?? [];
  const flagsNote = brokerFlags.length > 0 ? `; broker flags \`${brokerFlags.join(' ')}\`` : '';
  return {
    name: `bucketq-${kind}`,
    bulkChunk: chunk,
    options: `${kind === 'file' ? '`file:` store, fsync per commit' : '`memory://` store, no durability'}; W1 ${producers}; \`createWorker\` concurrency 16, ${prefetch}${flagsNote}`,
    settings: {
      server: `one \`bucketq broker\` process, HTTP keep-alive on loopback, store ${kind === 'file' ? '`file:` (a temp dir; fsync per commit)' : '`memory://` (in the broker process; no durability)'}`,
      producers: `W1: ${producers}, \`push\` (one job per call); W1i: 16 node:http keep-alive agents with maxSockets 1 (one connection each), POST {"payload"} to /v1/topics/w1/jobs, one job per request`,
      bulk: `\`pushMany\`, ${chunk} jobs per call (the broker's --max-batch), one call at a time`,
      worker: `\`createWorker\` (concurrency 16, ${prefetch}, other options default, no-op handler) on \`createClient\`, one process each`,
    },
    requires: [],
    async start(): Promise<RunningSystem | string> {
      const dir = kind === 'file' ? await mkdtemp(join(tmpdir(), 'bucketq-peers-')) : null;
      const removeDir = onTeardown(async () => {
        if (dir) await rm(dir, { recursive: true, force: true });
      });
      const broker = await startBroker(dir ? `file:${dir}` : 'memory://', brokerNodeFlags, brokerFlags);
      const clients: Array<Client<BenchPayload>> = [];
      const raw: RawProducer[] = [];
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
          const shared = o.clientPerProducer ? null : client(queue);
          return Array.from({ length: count }, () => {
            const c = shared ?? client(queue);
            return (payload: BenchPayload) => c.push(payload);
          });
        },
        async independentProducers(queue, count) {
          return Array.from({ length: count }, () => {
            const p = rawHttpProducer(broker.url, queue);
            raw.push(p);
            return p.push;
          });
        },
        async pushBulk(queue, payloads) {
          let c = bulkClients.get(queue);
          if (!c) bulkClients.set(queue, (c = client(queue)));
          for (let i = 0; i < payloads.length; i += chunk) await c.pushMany(payloads.slice(i, i + chunk).map((payload) => ({ payload })));
        },
        workerArgv: (queue, concurrency) => ['bench/peers/bucketq-worker.ts', broker.url, queue, String(concurrency), ...(o.prefetch !== undefined ? [String(o.prefetch)] : [])],
        server: { pid: broker.pid },
        brokerUrl: broker.url,
        async stop() {
          for (const p of raw) p.close();
          await Promise.all(clients.map((c) => c.close()));
          await broker.stop();
          await removeDir();
        },
      };
    },
  };
}
