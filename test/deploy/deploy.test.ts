/**
 * The deployment files of deploy/ (docs/deployment.md), checked with what runs on this machine,
 * since systemd, a container engine and a Kubernetes cluster do not:
 *
 * - systemd: `systemd-analyze verify` and `systemd-analyze security` on the unit; its ExecStart
 *   line, expanded as systemd does with the example environment file, is parsed by the broker's
 *   own flag parser;
 * - container: the Containerfile linted by dockerfile-utils; its ENTRYPOINT run by /bin/sh as the
 *   image would (the argv it execs parsed by the broker's parser), and its HEALTHCHECK command run
 *   against a real broker;
 * - Kubernetes: every manifest validated against the Kubernetes schemas (kubernetes-models) and
 *   for unknown fields; the StatefulSet's command line started as a real broker process with the
 *   environment the kubelet would give it (a file: store and loopback ports substituted), its
 *   probes and the container's HEALTHCHECK asked on the ports they name, then drained by SIGTERM.
 *
 * Nothing here builds an image or talks to the network.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { validate as lintDockerfile, ValidationSeverity } from 'dockerfile-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import brokerCommand from '../../src/cli/commands/broker.js';
import { dockerfileEnv, dockerfileInstructions, execForm, expandExecStart, parseEnvFile, parseUnit, unitValue } from './unit-files.js';

const ROOT = path.join(import.meta.dirname, '..', '..');
const DEPLOY = path.join(ROOT, 'deploy');
const run = promisify(execFile);

/** Where the install steps of docs/deployment.md put the bin; the test runs the checkout's instead. */
const INSTALLED_BIN = '/opt/bucketq/node_modules/.bin/bucketq';
const SENTINEL = '--zz-deploy-test-sentinel';

/**
 * Whether the broker's own parser takes `argv` (flags after `bucketq broker`): it runs the
 * command with an unknown flag appended. Node's strict parseArgs reads left to right and the
 * command parses its flags before doing anything else, so an error about that last flag, and
 * nothing earlier, means every flag before it is a real broker flag with its value in place.
 */
async function brokerParserError(argv: string[]): Promise<string> {
  const error = await brokerCommand.run([...argv, SENTINEL], {}).then(
    () => new Error('the broker command ran instead of refusing the sentinel flag'),
    (e: unknown) => e as Error,
  );
  return error.message;
}

function flagValue(argv: string[], flag: string): string | undefined {
  const prefix = `--${flag}=`;
  const i = argv.findIndex((a) => a === `--${flag}` || a.startsWith(prefix));
  if (i === -1) return undefined;
  return argv[i]!.startsWith(prefix) ? argv[i]!.slice(prefix.length) : argv[i + 1];
}

describe('systemd unit (deploy/systemd/bucketq.service)', () => {
  let unitText = '';
  let dir = '';
  beforeAll(async () => {
    unitText = await readFile(path.join(DEPLOY, 'systemd', 'bucketq.service'), 'utf8');
    dir = await mkdtemp(path.join(tmpdir(), 'bucketq-unit-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Why systemd-analyze cannot check units here, or null: it must pass a unit known to be good. */
  async function systemdAnalyzeMissing(): Promise<string | null> {
    const probe = path.join(dir, 'probe.service');
    await writeFile(probe, `[Service]\nExecStart=${process.execPath} -e 0\n`);
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', probe], { encoding: 'utf8' });
    if (r.error) return `systemd-analyze is not installed here (${r.error.message})`;
    if (r.status !== 0 || r.stderr.trim() !== '') return `systemd-analyze cannot verify units in this environment: ${r.stderr.trim() || `exit ${r.status}`}`;
    return null;
  }

  /** The unit with the bin path of an /opt install replaced by the checkout's (verify checks that ExecStart is executable). */
  async function unitForThisMachine(): Promise<string> {
    const file = path.join(dir, 'bucketq.service');
    expect(unitText).toContain(`ExecStart=${INSTALLED_BIN} broker`);
    await writeFile(file, unitText.replace(INSTALLED_BIN, path.join(ROOT, 'bin', 'bucketq.js')));
    return file;
  }

  it('passes systemd-analyze verify with no warning, and systemd-analyze security rates its exposure below 2.0', async (t) => {
    const missing = await systemdAnalyzeMissing();
    if (missing) {
      console.warn(`skipped: ${missing}`);
      return t.skip(missing);
    }
    const file = await unitForThisMachine();
    const verify = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
    expect({ status: verify.status, stderr: verify.stderr.trim(), stdout: verify.stdout.trim() }).toEqual({ status: 0, stderr: '', stdout: '' });
    // --threshold is in tenths: 20 = "1.9 OK" or better on systemd's 0-10 exposure scale.
    const security = spawnSync('systemd-analyze', ['security', '--offline=true', '--threshold=20', file], { encoding: 'utf8' });
    expect(security.status, security.stdout.split('\n').filter((l) => l.includes('Overall')).join('\n') || security.stderr).toBe(0);
  });

  it('runs the broker with flags its parser takes: a stable --id, the store from the env file, a drain shorter than the stop timeout', async () => {
    const unit = parseUnit(unitText);
    const envFile = parseEnvFile(await readFile(path.join(DEPLOY, 'systemd', 'bucketq.env'), 'utf8'));
    const { argv } = expandExecStart(unit, [envFile], 'q1');
    expect(argv.slice(0, 2)).toEqual([INSTALLED_BIN, 'broker']);
    const flags = argv.slice(2);
    expect(await brokerParserError(flags)).toMatch(new RegExp(`^Unknown option '${SENTINEL}'`));

    expect(flagValue(flags, 'id')).toBe('q1');
    expect(flagValue(flags, 'store')).toBe(envFile.BUCKETQ_STORE);
    expect(flagValue(flags, 'listen')).toBe(envFile.BUCKETQ_LISTEN);
    expect(flagValue(flags, 'advertise')).toBe(envFile.BUCKETQ_ADVERTISE);
    expect(flagValue(flags, 'metrics-listen')).toBe('127.0.0.1:9090'); // from BUCKETQ_BROKER_ARGS, split into words
    // Without the env file the unit's own defaults still make a valid command line.
    const defaults = expandExecStart(unit, [], hostname()).argv.slice(2);
    expect(await brokerParserError(defaults)).toMatch(new RegExp(`^Unknown option '${SENTINEL}'`));
    expect(flagValue(defaults, 'advertise')).toBe(`http://${hostname()}:8080`);

    const drainMs = Number(flagValue(flags, 'drain-timeout-ms'));
    expect(Number(/^(\d+)s$/.exec(unitValue(unit, 'Service', 'TimeoutStopSec') ?? '')?.[1]) * 1000).toBeGreaterThan(drainMs);
    expect(unitValue(unit, 'Service', 'KillSignal')).toBe('SIGTERM');
    expect(unitValue(unit, 'Service', 'Restart')).toBe('on-failure');
    // Room for every HTTP and RESP connection the limits allow, plus the store's and files.
    const maxConnections = Number(flagValue(flags, 'max-connections') ?? 1000);
    expect(Number(unitValue(unit, 'Service', 'LimitNOFILE'))).toBeGreaterThanOrEqual(maxConnections + 1000 + 64 + 100);
    for (const [key, value] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['DynamicUser', 'yes'], ['StateDirectory', 'bucketq']]) {
      expect(unitValue(unit, 'Service', key!), key).toBe(value);
    }
    // The default store is the state directory: the one path ProtectSystem=strict leaves writable.
    expect(expandExecStart(unit, [], 'q1').env.BUCKETQ_STORE).toBe('file:/var/lib/bucketq');
    // The token comes from a file that must exist (no leading "-"), never from the unit itself.
    expect(unit.get('Service')!.get('EnvironmentFile')).toContain('/etc/bucketq/secrets.env');
    expect(expandExecStart(unit, [], 'q1').env.BUCKETQ_TOKEN).toBeUndefined();
    expect(flags.filter((f) => f.startsWith('--token') || f.startsWith('--read-token'))).toEqual([]);
  });
});

describe('container image file (deploy/container/Containerfile)', () => {
  let text = '';
  beforeAll(async () => {
    text = await readFile(path.join(DEPLOY, 'container', 'Containerfile'), 'utf8');
  });

  it('lints clean with dockerfile-utils, every check at error level', () => {
    const E = ValidationSeverity.ERROR;
    const problems = lintDockerfile(text, {
      deprecatedMaintainer: E, directiveCasing: E, emptyContinuationLine: E, instructionCasing: E, instructionCmdMultiple: E,
      instructionEntrypointMultiple: E, instructionHealthcheckMultiple: E, instructionJSONInSingleQuotes: E, instructionWorkdirRelative: E,
    });
    expect(problems.map((p) => `line ${p.range.start.line + 1}: ${p.message}`)).toEqual([]);
    // The lint itself is live: it refuses a broken file.
    expect(lintDockerfile('FROM node:24-slim\nSTOPSIGNAL NOSUCHSIGNAL\nEXPOSE http\n').map((p) => p.message)).toEqual(['Invalid signal: NOSUCHSIGNAL', 'Invalid containerPort: http']);
  });

  it('is multi-stage, runs as a numeric non-root user, exposes the ports, stops with SIGTERM and checks /healthz', () => {
    const ins = dockerfileInstructions(text);
    const of = (k: string) => ins.filter((i) => i.keyword === k).map((i) => i.args);
    expect(of('FROM')).toEqual(['${NODE_IMAGE} AS install', '${NODE_IMAGE}']);
    expect(of('ARG')).toContain('NODE_IMAGE=node:24-slim');
    expect(of('COPY')).toContain('--from=install /opt/bucketq /opt/bucketq');
    expect(of('USER')).toEqual(['1000:1000']); // numeric: Kubernetes' runAsNonRoot can check it
    expect(of('EXPOSE')).toEqual(['8080 9090 6379']);
    expect(of('STOPSIGNAL')).toEqual(['SIGTERM']);
    expect(of('HEALTHCHECK')[0]).toContain('/healthz');
    expect(dockerfileEnv(ins, {}).PATH).toMatch(/^\/opt\/bucketq\/node_modules\/\.bin:/);
  });

  it('ENTRYPOINT: the shell line execs `bucketq broker` with flags the parser takes, and refuses to start without BUCKETQ_ADVERTISE', async () => {
    const ins = dockerfileInstructions(text);
    const entrypoint = execForm(ins.find((i) => i.keyword === 'ENTRYPOINT')!.args);
    const cmd = execForm(ins.find((i) => i.keyword === 'CMD')!.args);
    // A `bucketq` first on PATH that prints the argv it got, one per line, instead of running.
    const dir = await mkdtemp(path.join(tmpdir(), 'bucketq-entrypoint-'));
    try {
      const shim = path.join(dir, 'bucketq');
      await writeFile(shim, '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n');
      await chmod(shim, 0o755);
      const env: Record<string, string> = { ...dockerfileEnv(ins, { PATH: process.env.PATH ?? '/usr/bin:/bin' }), HOSTNAME: 'c0ffee', BUCKETQ_ADVERTISE: 'http://q1.internal:8080' };
      env.PATH = `${dir}:${env.PATH}`;
      const extra = ['--metrics-listen', '0.0.0.0:9090'];
      const { stdout } = await run(entrypoint[0]!, [...entrypoint.slice(1), ...cmd, ...extra], { env });
      const argv = stdout.split('\n').filter((l) => l !== '');
      expect(argv[0]).toBe('broker');
      expect(await brokerParserError(argv.slice(1))).toMatch(new RegExp(`^Unknown option '${SENTINEL}'`));
      expect(Object.fromEntries(['listen', 'advertise', 'id', 'store', 'metrics-listen'].map((f) => [f, flagValue(argv, f)]))).toEqual({
        listen: '0.0.0.0:8080',
        advertise: 'http://q1.internal:8080',
        id: 'c0ffee', // the host name: the container's, or the pod's
        store: 'file:/var/lib/bucketq',
        'metrics-listen': '0.0.0.0:9090',
      });
      const { BUCKETQ_ADVERTISE: _, ...withoutAdvertise } = env;
      const refused = await run(entrypoint[0]!, [...entrypoint.slice(1), ...cmd], { env: withoutAdvertise }).then(() => null, (e: { code: number; stderr: string }) => e);
      expect(refused?.code).not.toBe(0);
      expect(refused?.stderr).toMatch(/BUCKETQ_ADVERTISE: set BUCKETQ_ADVERTISE to the URL clients reach this broker at/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
