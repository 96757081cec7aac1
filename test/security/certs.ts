/**
 * A self-signed certificate for 127.0.0.1 and localhost, made by the test with `selfsigned`
 * (EC P-256: quick to make), written to a temporary directory as PEM files for the broker's
 * --tls-cert/--tls-key and the clients' --ca / `ca`.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generate } from 'selfsigned';

export interface TestCert {
  dir: string;
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

export async function makeCert(): Promise<TestCert> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  const dir = await mkdtemp(path.join(tmpdir(), 'bucketq-tls-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  await writeFile(certFile, pems.cert);
  await writeFile(keyFile, pems.private, { mode: 0o600 });
  return { dir, cert: pems.cert, key: pems.private, certFile, keyFile };
}
