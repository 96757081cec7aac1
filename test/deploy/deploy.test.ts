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
import { brokerPerTest } from '../broker-process.js';
import { raw } from '../http-helpers.js';
import { containerEnv, expandReferences, readManifests, schemaErrors, typeErrors, type BrokerContainer, type Manifest } from './manifests.js';
import { dockerfileEnv, dockerfileInstructions, execForm, expandExecStart, parseEnvFile, parseUnit, unitValue } from './unit-files.js';

const ROOT = path.join(import.meta.dirname, '..', '..');
const DEPLOY = path.join(ROOT, 'deploy');
const run = promisify(execFile);

/** Where the install steps of docs/deployment.md put the bin; the test runs the checkout's instead. */
const INSTALLED_BIN = '/opt/bucketq/node_modules/.bin/bucketq';
const SENTINEL = '--zz-deploy-test-sentinel';

/** A manifest walked by the checks below, once the schema checks have passed on it. */
type Loose = Manifest & { spec: any };

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

/** GET `url` until it answers 200 or `ms` have passed; the last status (0: no answer). */
async function statusWithin(url: string, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const status = await raw(url, { headers: { connection: 'close' } }).then((r) => r.status, () => 0);
    if (status === 200 || Date.now() > deadline) return status;
    await new Promise((resolve) => setTimeout(resolve, 200)); // a probe's period, shortened
  }
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

describe('Kubernetes manifests (deploy/kubernetes/)', () => {
  const dir = path.join(DEPLOY, 'kubernetes');
  const manifests: Manifest[] = [];
  let kustomization: { resources: string[] } = { resources: [] };
  beforeAll(async () => {
    const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();
    for (const file of files) {
      const docs = readManifests(file, await readFile(path.join(dir, file), 'utf8'));
      if (file === 'kustomization.yaml') kustomization = docs[0] as unknown as typeof kustomization;
      else manifests.push(...docs);
    }
  });
  const one = (kind: string, name?: string) => {
    const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
    expect(found, `${kind} ${name ?? ''}`).toHaveLength(1);
    return found[0]!;
  };

  it('kustomization.yaml lists every manifest of the folder', async () => {
    const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
    expect([...kustomization.resources].sort()).toEqual(files);
  });

  it('every manifest is valid against the Kubernetes schemas and has no unknown field', async () => {
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      'ConfigMap/bucketq-config', 'PodDisruptionBudget/bucketq', 'Service/bucketq', 'Service/bucketq-headless', 'ServiceAccount/bucketq', 'StatefulSet/bucketq',
    ]);
    for (const m of manifests) expect(await schemaErrors(m), `${m.file}: ${m.kind}/${m.metadata.name}`).toBeNull();
    // Both checks are live: a wrong type and a misspelt field are caught. The misspelt copy is
    // type-checked along with the manifests (one compilation): its error must be the only one.
    const broken = structuredClone(one('StatefulSet')) as Manifest & { spec: { replicas: unknown; template: { spec: { containers: Array<Record<string, unknown>> } } } };
    broken.spec.replicas = 'three';
    expect(await schemaErrors(broken)).toMatch(/replicas must be integer/);
    broken.spec.replicas = 3;
    (broken.spec.template.spec.containers[0]!.readinessProbe as Record<string, unknown>).periodSecond = 5;
    const errors = typeErrors([...manifests, { ...broken, file: 'broken copy' }], ROOT);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^broken copy: .*'"?periodSecond"?' does not exist in type 'IProbe'/);
  });

  it('wires the StatefulSet to its Services, Secret, ConfigMap and budget, with a grace period longer than the drain', () => {
    const sts = one('StatefulSet') as Loose;
    const headless = one('Service', 'bucketq-headless') as Loose;
    const client = one('Service', 'bucketq') as Loose;
    const pdb = one('PodDisruptionBudget') as Loose;
    const pod = sts.spec.template;
    const container = pod.spec.containers[0] as BrokerContainer;
    const labels = pod.metadata.labels;
    expect(sts.spec.selector.matchLabels).toEqual(labels);
    for (const selector of [headless.spec.selector, client.spec.selector, pdb.spec.selector.matchLabels]) expect(selector).toEqual(labels);
    expect(sts.spec.serviceName).toBe('bucketq-headless');
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    const portNames = new Set(container.ports!.map((p) => p.name));
    for (const p of [...headless.spec.ports, ...client.spec.ports]) expect(portNames.has(p.targetPort), p.targetPort).toBe(true);

    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.startupProbe.httpGet.path).toBe('/healthz');
    const drainMs = Number(flagValue(container.args!, 'drain-timeout-ms'));
    expect(pod.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(drainMs);
    // Liveness tolerates a minute of failures; readiness reacts within seconds.
    expect(container.livenessProbe.periodSeconds * container.livenessProbe.failureThreshold).toBeGreaterThanOrEqual(60);
    expect(container.readinessProbe.timeoutSeconds).toBeGreaterThan(2); // /readyz may read the store with a 2 s timeout

    const tokenRef = container.env!.find((e) => e.name === 'BUCKETQ_TOKEN')!.valueFrom!.secretKeyRef!;
    expect(tokenRef).toEqual({ name: 'bucketq-tokens', key: 'token' }); // required: no pod without a token
    expect(manifests.some((m) => m.kind === 'Secret')).toBe(false); // created by the operator, never a value in the repo
    expect(container.envFrom!.map((f) => f.configMapRef?.name ?? f.secretRef?.name)).toEqual(['bucketq-config', 'bucketq-store-credentials']);
    expect(pod.metadata.annotations['prometheus.io/port']).toBe(String(container.ports!.find((p) => p.name === 'metrics')!.containerPort));
    expect(pod.spec.securityContext.runAsNonRoot).toBe(true);
    expect(pdb.spec.maxUnavailable).toBe(1);
  });

  describe('the StatefulSet command line as a broker process', () => {
    const TOKEN = 'deploy-test-admin-token';
    const READ_TOKEN = 'deploy-test-read-token';
    // A fresh directory for the store, and the broker SIGKILLed after the test if it still runs.
    const brokers = brokerPerTest('bucketq-k8s-');

    it('starts, answers its probes and the image HEALTHCHECK on the ports they name, takes the Secret token, advertises its pod DNS name, and drains on SIGTERM', async () => {
      const sts = one('StatefulSet') as Loose;
      const config = one('ConfigMap') as Manifest & { data: Record<string, string> };
      const container = sts.spec.template.spec.containers[0] as BrokerContainer;
      const store = brokers.dir;

      // The environment the kubelet would build for pod bucketq-0, with a local store for the bucket.
      const env = containerEnv(container, {
        fields: { 'metadata.name': 'bucketq-0', 'metadata.namespace': 'queues' },
        configMaps: { 'bucketq-config': { ...config.data, BUCKETQ_STORE: `file:${store}` } },
        secrets: { 'bucketq-tokens': { token: TOKEN, 'read-token': READ_TOKEN } },
      });
      expect(container.command).toEqual([INSTALLED_BIN, 'broker']);
      const args = container.args!.map((a) => expandReferences(a, env));
      expect(args.filter((a) => a.includes('$('))).toEqual([]);
      expect(flagValue(args, 'id')).toBe('bucketq-0');
      expect(flagValue(args, 'advertise')).toBe('http://bucketq-0.bucketq-headless.queues.svc.cluster.local:8080');

      // Loopback and free ports instead of 0.0.0.0 and the container ports; everything else as written.
      const portOf: Record<string, number> = {};
      const local = args.map((a) => {
        const m = /^--(listen|metrics-listen)=(.+):(\d+)$/.exec(a);
        if (!m) return a;
        portOf[m[1]!] = Number(m[3]);
        return `--${m[1]}=127.0.0.1:0`;
      });
      const containerPort = (port: string | number) => (typeof port === 'number' ? port : container.ports!.find((p) => p.name === port)!.containerPort);
      expect(containerPort('http')).toBe(portOf.listen);
      expect(containerPort('metrics')).toBe(portOf['metrics-listen']);

      const broker = await brokers.start(local, env);
      const metricsUrl = (await broker.line(/^metrics on /)).line.replace(/^metrics on /, '');
      const urlFor = (port: string | number) => (containerPort(port) === portOf.listen ? broker.url : metricsUrl);
      expect(broker.stdout[0]).toContain('bucketq broker bucketq-0 listening on');
      expect(broker.stdout[0]).toContain('(advertise http://bucketq-0.bucketq-headless.queues.svc.cluster.local:8080,');
      expect(broker.stdout[0]).toContain('auth token + read-only token');

      // As the kubelet does: each probe is asked until it succeeds (the startup and readiness
      // probes may fail at first) or its period x failureThreshold runs out.
      for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
        const url = `${urlFor(probe.httpGet.port)}${probe.httpGet.path}`;
        expect(await statusWithin(url, probe.periodSeconds * probe.failureThreshold * 1000), url).toBe(200);
      }

      // The image's HEALTHCHECK command, as Docker runs it inside the container.
      const text = await readFile(path.join(DEPLOY, 'container', 'Containerfile'), 'utf8');
      const health = dockerfileInstructions(text).find((i) => i.keyword === 'HEALTHCHECK')!.args;
      const [node, ...healthArgs] = execForm(health.slice(health.indexOf('CMD ') + 4));
      expect(node).toBe('node');
      const port = new URL(broker.url).port;
      await expect(run(process.execPath, healthArgs, { env: { BUCKETQ_LISTEN: `0.0.0.0:${port}` } })).resolves.toBeDefined();
      const closed = await run(process.execPath, healthArgs, { env: { BUCKETQ_LISTEN: '0.0.0.0:1' } }).then(() => 0, (e: { code: number }) => e.code);
      expect(closed).toBe(1);

      // The Secret's tokens: without one a push is refused; with the admin token it lands and this
      // broker leads the topic under its advertised URL, the one NOT_LEADER answers name.
      // (Connection: close throughout, so the drain has no idle keep-alive connection to wait for.)
      const push = (token?: string) =>
        raw(`${broker.url}/v1/topics/deploy/jobs`, {
          method: 'POST',
          headers: { connection: 'close', 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          chunks: [JSON.stringify({ payload: { hello: 'kubernetes' } })],
        });
      expect((await push()).status).toBe(401);
      expect((await push(READ_TOKEN)).status).toBe(403);
      expect((await push(TOKEN)).status).toBe(201);
      const topic = await raw(`${broker.url}/v1/topics/deploy`, { headers: { connection: 'close', authorization: `Bearer ${READ_TOKEN}` } });
      expect(topic.body.leader).toMatchObject({ id: 'bucketq-0', url: 'http://bucketq-0.bucketq-headless.queues.svc.cluster.local:8080' });

      const exitedBy = Date.now() + sts.spec.template.spec.terminationGracePeriodSeconds * 1000;
      broker.child.kill('SIGTERM');
      const { code } = await broker.exited;
      expect(code).toBe(0);
      expect(Date.now()).toBeLessThan(exitedBy);
      expect(broker.stdout.some((l) => l.startsWith('drained'))).toBe(true);
    });
  });
});
