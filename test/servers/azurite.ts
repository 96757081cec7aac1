/**
 * Starts Azurite (the Azure Storage emulator from npm, a pinned dev dependency) on loopback with
 * in-memory persistence, for the Azure driver tests. `--skipApiVersionCheck` because the current
 * SDK speaks a newer service version than Azurite 3.35 announces; `--disableTelemetry` because a
 * test run must not phone home. The port is chosen by the OS (port 0) and read from Azurite's
 * startup line, so parallel test files never collide.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

/** Azurite's well-known development account (documented by Microsoft; not a secret). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  /** Blob endpoint, e.g. http://127.0.0.1:41234/devstoreaccount1 */
  endpoint: string;
  connectionString: string;
  /** A container created at start, for tests that need just one. */
  container: string;
  /** Creates and returns a fresh, empty container. */
  newContainer(): Promise<string>;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

export interface AzuriteOptions {
  /** Memory for blob contents in MiB (default 256). Azurite frees replaced blobs lazily, so write-heavy runs need more. */
  memoryLimitMb?: number;
}

export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  const main = path.join(path.dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
  const workdir = await mkdtemp(path.join(tmpdir(), 'bucketq-azurite-'));
  const child: ChildProcess = spawn(
    process.execPath,
    [main, '--inMemoryPersistence', '--blobHost', '127.0.0.1', '--blobPort', '0', '--skipApiVersionCheck', '--disableTelemetry', '--silent', '--extentMemoryLimit', String(options.memoryLimitMb ?? 256)],
    { cwd: workdir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output += `${line}\n`;
      const m = /successfully listens on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    void exited.then(() => reject(new Error(`azurite exited before listening:\n${output}`)));
  });
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`;

  const { BlobServiceClient } = await import('@azure/storage-blob');
  const service = BlobServiceClient.fromConnectionString(connectionString);
  const newContainer = async (): Promise<string> => {
    const name = `t${randomBytes(8).toString('hex')}`;
    await service.getContainerClient(name).create();
    return name;
  };
  const container = await newContainer();
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    connectionString,
    container,
    newContainer,
    stop: () =>
      (stopped ??= (async () => {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
        await rm(workdir, { recursive: true, force: true });
      })()),
  };
}
