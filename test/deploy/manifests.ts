/**
 * The Kubernetes manifests of deploy/kubernetes/, read and checked the way the API server would,
 * for test/deploy/deploy.test.ts:
 *
 * - schema: kubernetes-models' `validate()` (the OpenAPI schemas of the Kubernetes API: types,
 *   required fields, formats);
 * - unknown fields: those schemas allow any extra property, so a misspelt field
 *   (`periodSecond: 5`) would pass them, while `kubectl apply` (strict field validation) refuses
 *   it. Each manifest is therefore also type-checked as an object literal against the same
 *   package's TypeScript interface, whose excess-property check names every unknown field;
 * - the container's environment as the kubelet builds it (envFrom, then env with `$(VAR)`
 *   references, fieldRef, configMapKeyRef, secretKeyRef), so the command line can be run.
 */
import path from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';

export interface Manifest {
  file: string;
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** Every YAML document of `text` (comments allowed; an empty document is an error). */
export function readManifests(file: string, text: string): Manifest[] {
  return parseAllDocuments(text).map((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`${file}, document ${i + 1}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as Manifest | null;
    if (!value || typeof value.apiVersion !== 'string' || typeof value.kind !== 'string') throw new Error(`${file}, document ${i + 1}: no apiVersion/kind`);
    return { ...value, file };
  });
}

/** The package path of a model: `apps/v1` → kubernetes-models/apps/v1, core `v1` → kubernetes-models/v1. */
function modelModule(apiVersion: string): string {
  return `kubernetes-models/${apiVersion}`;
}

/** kubernetes-models' schema validation; returns the error message, or null when valid. */
export async function schemaErrors(m: Manifest): Promise<string | null> {
  const models = (await import(modelModule(m.apiVersion))) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = models[m.kind];
  if (!Model) return `no model for ${m.apiVersion} ${m.kind} in kubernetes-models`;
  const { file: _file, ...data } = m;
  try {
    new Model(data).validate();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * Type-checks every manifest as a literal of its kubernetes-models interface (I<Kind>) in one
 * in-memory program; returns tsc's messages (unknown fields, wrong types), each naming its file.
 */
export function typeErrors(manifests: Manifest[], root: string): string[] {
  const file = path.join(root, 'test', 'deploy', '__manifests__.ts'); // never written: served from memory
  const lines: string[] = [];
  const owner: string[] = [];
  manifests.forEach((m, i) => {
    const { file: source, ...data } = m;
    lines.push(`import type { I${m.kind} as T${i} } from '${modelModule(m.apiVersion)}/${m.kind}';`);
    lines.push(`export const m${i}: T${i} = ${JSON.stringify(data)};`);
    owner.push(source, source);
  });
  const text = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    types: [],
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (name, language, ...rest) => (name === file ? ts.createSourceFile(name, text, language) : getSourceFile(name, language, ...rest));
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const line = d.file === undefined || d.start === undefined ? -1 : d.file.getLineAndCharacterOfPosition(d.start).line;
    return `${owner[line] ?? '?'}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

/** `$(VAR)` references as the kubelet expands them: defined ones replaced, `$$` an escaped `$`, others kept. */
export function expandReferences(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string | undefined) => (name === undefined ? '$' : (env[name] ?? whole)));
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
  };
}
interface EnvFrom {
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}
export interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: EnvFrom[];
  ports?: Array<{ name?: string; containerPort: number }>;
  [k: string]: unknown;
}

export interface HttpProbe {
  httpGet: { path: string; port: string | number; scheme?: string };
  periodSeconds: number;
  timeoutSeconds?: number;
  failureThreshold: number;
}

/** The broker's container: a {@link Container} with its three probes. */
export interface BrokerContainer extends Container {
  startupProbe: HttpProbe;
  livenessProbe: HttpProbe;
  readinessProbe: HttpProbe;
}

export interface PodContext {
  fields: Record<string, string>;
  configMaps: Record<string, Record<string, string>>;
  secrets: Record<string, Record<string, string>>;
}

/**
 * The environment the kubelet gives `container`: envFrom sources first, then env in order (a
 * value may refer to variables defined before it). A missing ConfigMap, Secret or key that is
 * not optional throws, as the kubelet refuses to start the container then.
 */
export function containerEnv(container: Container, pod: PodContext): Record<string, string> {
  const env: Record<string, string> = {};
  const source = (kind: 'configMaps' | 'secrets', name: string, optional: boolean | undefined) => {
    const found = pod[kind][name];
    if (!found && !optional) throw new Error(`${kind === 'secrets' ? 'Secret' : 'ConfigMap'} ${name} is not there: the container would not start`);
    return found;
  };
  for (const from of container.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    if (!ref) throw new Error(`envFrom entry not implemented here: ${JSON.stringify(from)}`);
    Object.assign(env, source(from.configMapRef ? 'configMaps' : 'secrets', ref.name, ref.optional) ?? {});
  }
  for (const v of container.env ?? []) {
    if (v.value !== undefined) {
      env[v.name] = expandReferences(v.value, env);
      continue;
    }
    const from = v.valueFrom ?? {};
    if (from.fieldRef) {
      const value = pod.fields[from.fieldRef.fieldPath];
      if (value === undefined) throw new Error(`fieldRef ${from.fieldRef.fieldPath} not implemented here`);
      env[v.name] = value;
      continue;
    }
    const ref = from.configMapKeyRef ?? from.secretKeyRef;
    if (!ref) throw new Error(`env ${v.name}: valueFrom not implemented here`);
    const data = source(from.configMapKeyRef ? 'configMaps' : 'secrets', ref.name, ref.optional);
    const value = data?.[ref.key];
    if (value === undefined && !ref.optional) throw new Error(`env ${v.name}: key ${ref.key} of ${ref.name} is missing: the container would not start`);
    if (value !== undefined) env[v.name] = value;
  }
  return env;
}
