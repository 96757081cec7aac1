/**
 * What the TLS and auth suites share: a file: store and a self-signed certificate in temporary
 * directories, `bucketq broker` processes serving HTTPS and RESP-over-TLS on them, and a gRPC
 * client that trusts the certificate.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startBrokerProcess, type BrokerProcess } from '../broker-process.js';
import { makeCert, type TestCert } from './certs.js';

const PROTO = path.join(import.meta.dirname, '..', '..', 'proto', 'bucketq', 'v1', 'queue.proto');

export interface TlsSetup {
  cert: TestCert;
  /** The brokers' file: store. */
  dir: string;
  /** `bucketq broker` arguments for broker `id` on the store, HTTP and RESP on any port, with the certificate. */
  args(id: string, extra?: string[]): string[];
  /** Starts a broker and waits for its RESP URL (rediss://…). */
  start(id: string, env: NodeJS.ProcessEnv, extra?: string[]): Promise<{ proc: BrokerProcess; respUrl: URL }>;
  /** SIGKILLs the brokers `start` made that still run, then removes both directories. */
  remove(): Promise<void>;
}

export async function tlsSetup(storePrefix: string): Promise<TlsSetup> {
  const cert = await makeCert();
  const dir = await mkdtemp(path.join(tmpdir(), storePrefix));
  const procs: BrokerProcess[] = [];
  const args = (id: string, extra: string[] = []) => ['--store', `file:${dir}`, '--listen', '127.0.0.1:0', '--resp-listen', '127.0.0.1:0', '--tls-cert', cert.certFile, '--tls-key', cert.keyFile, '--id', id, ...extra];
  return {
    cert,
    dir,
    args,
    async start(id, env, extra) {
      const proc = await startBrokerProcess(args(id, extra), env);
      procs.push(proc);
      return { proc, respUrl: new URL((await proc.line(/^redis protocol on /)).line.split(' on ')[1]!) };
    },
    async remove() {
      for (const p of procs.splice(0)) {
        if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
        await p.exited;
      }
      await rm(dir, { recursive: true, force: true });
      await rm(cert.dir, { recursive: true, force: true });
    },
  };
}

/** A @grpc/grpc-js client of bucketq.v1.Queue at `url`'s host over TLS, trusting `ca`. */
export function grpcQueueClient(url: string, ca: string): any {
  const def = protoLoader.loadSync(PROTO, { longs: Number, defaults: false, oneofs: true });
  const Queue = (grpc.loadPackageDefinition(def) as any).bucketq.v1.Queue as grpc.ServiceClientConstructor;
  return new Queue(new URL(url).host, grpc.credentials.createSsl(Buffer.from(ca)));
}
