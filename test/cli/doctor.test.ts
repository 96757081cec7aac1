/**
 * `bucketq doctor` as a user meets it: a child process, its output and exit status. It must pass
 * on stores that keep compare-and-swap (file:, radosgw, Azurite) and fail, naming the check, on one that
 * ignores conditions (s3rver).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../src/storage/doctor.js';
import { openStore } from '../../src/storage/open.js';
import { startAzurite, type Azurite } from '../servers/azurite.js';
import { s3Target } from '../servers/s3-target.js';
import { startS3rver, type FakeS3 } from '../servers/s3rver-fake.js';
import { freePort } from '../client/proxy.js';
import { bucketq } from './cli-helpers.js';

const ALL = ['reach', 'read-write', 'list', 'delete', 'create-if-absent', 'conditional-replace', 'stale-etag', 'if-match-missing', 'race', 'cleanup'];
type Report = DoctorReport & { store: string };

const target = await s3Target();

describe('bucketq doctor', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bucketq-doctor-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('passes every check on file:, with latency figures, in JSON', async () => {
    const run = await bucketq(['doctor', '--store', `file:${dir}`, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.checks.map((c) => [c.name, c.verdict])).toEqual(ALL.map((n) => [n, 'pass']));
    expect(report.ok).toBe(true);
    expect(report.latency?.writes).toBe(20);
    expect(report.latency!.p99Ms).toBeGreaterThanOrEqual(report.latency!.p50Ms);
  });

  it('prints a verdict per check for people, and leaves no scratch objects', async () => {
    const run = await bucketq(['doctor', '--store', `file:${dir}`, '--human', '--racers', '4', '--rounds', '2', '--writes', '5']);
    expect(run.code, run.stderr).toBe(0);
    for (const name of ALL) expect(run.stdout).toMatch(new RegExp(`^  PASS  ${name} `, 'm'));
    expect(run.stdout).toMatch(/^write latency: p50 [\d.]+ ms, p99 [\d.]+ ms \(5 sequential conditional writes\)$/m);
    expect(run.stdout).toMatch(/^verdict: OK/m);
    const store = await openStore(`file:${dir}`);
    expect(await store.list('')).toEqual([]);
    await store.close();
  });

  it('without --store checks the broker\'s default store, ./bucketq-data, and has a manual', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'bucketq-doctor-cwd-'));
    try {
      const run = await bucketq(['doctor', '--human', '--rounds', '1', '--writes', '2'], { cwd });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout.split('\n')[0]).toBe('bucketq doctor file:./bucketq-data (driver file)');
      expect(run.stdout).toMatch(/^verdict: OK/m);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
    const help = await bucketq(['doctor', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^NAME\n    bucketq doctor - /);
    expect(help.stdout).toContain('if-match-missing');
    expect(help.stdout).toContain('COULD NOT CHECK');
  });

  it('a store it cannot reach or write: COULD NOT CHECK with the reason, exit 3, never NOT SAFE', async () => {
    const file = path.join(dir, 'a-file');
    await writeFile(file, 'not a directory');
    const closedPort = `s3://bucket/x?endpoint=http://127.0.0.1:${await freePort()}&forcePathStyle=true&region=us-east-1`;
    const [notWritable, unreachable, json] = await Promise.all([
      bucketq(['doctor', '--store', `file:${file}/store`, '--human']),
      bucketq(['doctor', '--store', closedPort, '--human'], { env: { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' } }),
      bucketq(['doctor', '--store', closedPort, '--json'], { env: { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' } }),
    ]);
    for (const run of [notWritable, unreachable]) {
      expect(run.code, run.stderr).toBe(3);
      expect(run.stdout).not.toContain('NOT SAFE');
      expect(run.stdout).not.toMatch(/^ {2}FAIL/m);
      expect(run.stderr.trimEnd().split('\n').filter((l) => l.startsWith('bucketq doctor: '))).toHaveLength(1);
    }
    expect(notWritable.stdout).toMatch(/^ {2}ERR {3}read-write {11}could not run: STORE_UNAVAILABLE: File store: write .* \(ENOTDIR\)/m);
    expect(notWritable.stdout).toMatch(/^verdict: COULD NOT CHECK: read-write: STORE_UNAVAILABLE: .*ENOTDIR/m);
    expect(notWritable.stderr).toMatch(new RegExp(`^bucketq doctor: could not check file:${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/store: read-write: STORE_UNAVAILABLE: .*ENOTDIR\\)\n$`));
    expect(unreachable.stdout).toMatch(/^ {2}ERR {3}reach {16}could not run: STORE_UNAVAILABLE: .*ECONNREFUSED/m);
    expect(unreachable.stdout).toMatch(/^verdict: COULD NOT CHECK: reach: /m);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, verdict: 'could-not-check', failed: [], errors: ['reach', 'cleanup'] });
  });

  it.skipIf(!target.ready)('passes every check on S3 (radosgw or BUCKETQ_TEST_S3_URL)', async () => {
    if (!target.ready) return;
    const run = await bucketq(['doctor', '--store', target.freshUrl('doctor'), '--json'], { env: target.env });
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.driver).toBe('s3');
    expect(report.checks.map((c) => [c.name, c.verdict])).toEqual(ALL.map((n) => [n, 'pass']));
  });

  describe('on Azurite', () => {
    let azurite: Azurite;
    beforeAll(async () => {
      azurite = await startAzurite();
    });
    afterAll(() => azurite.stop());

    it('passes every check', async () => {
      const container = await azurite.newContainer();
      const run = await bucketq(['doctor', '--store', `az://${container}/doctor`, '--json'], { env: { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString } });
      expect(run.code, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout) as Report;
      expect(report.driver).toBe('azure');
      expect(report.checks.map((c) => [c.name, c.verdict])).toEqual(ALL.map((n) => [n, 'pass']));
    });
  });

  describe('on s3rver, which ignores conditional headers', () => {
    let fake: FakeS3;
    beforeAll(async () => {
      fake = await startS3rver();
    });
    afterAll(() => fake.stop());

    it('fails, naming the checks that caught it, with exit status 1', async () => {
      const url = `s3://${fake.bucket}/doc?region=us-east-1&endpoint=${fake.endpoint}&forcePathStyle=true`;
      const run = await bucketq(['doctor', '--store', url, '--human'], { env: fake.env });
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/^  PASS  read-write /m); // it is reachable and stores bytes...
      expect(run.stdout).toMatch(/^  FAIL  create-if-absent     a second create-if-absent of the same key succeeded/m); // ...but no CAS
      expect(run.stdout).toMatch(/^  FAIL  stale-etag           a write with a stale etag replaced the object/m);
      expect(run.stdout).toMatch(/^  FAIL  race                 round 1: 8 of 8 writers with the same etag were told they won/m);
      expect(run.stdout).toMatch(/^verdict: NOT SAFE for bucketq, failed: create-if-absent, stale-etag, if-match-missing, race$/m);
      expect(JSON.parse((await bucketq(['doctor', '--store', url, '--json'], { env: fake.env })).stdout)).toMatchObject({ verdict: 'not-safe', errors: [] });
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^bucketq doctor: s3:\/\/fake-bucket\/doc\?.* failed: create-if-absent.*\(FAILED_PRECONDITION\)$/);
    });
  });
});
