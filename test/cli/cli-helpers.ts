/** Runs the client commands of `bucketq` as child processes, with stdin, and follows their output line by line. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
const TSX = pathToFileURL(join(import.meta.dirname, '..', '..', 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

/** The environment of every run: none of the caller's BUCKETQ_* settings leak in. */
function envOf(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BUCKETQ_')) env[k] = v;
  return { ...env, ...extra };
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `bucketq ARGS` to its end, feeding `input` (if any) to stdin. */
export function bucketq(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Promise<Run> {
  // tsx by path: from another working directory `--import tsx` would not resolve.
  const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], { env: envOf(opts.env ?? {}), stdio: ['pipe', 'pipe', 'pipe'], ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.on('error', () => {});
  child.stdin.end(opts.input ?? '');
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** The one JSON document a command printed. */
export function json<T = any>(run: Run): T {
  if (run.code !== 0) throw new Error(`exit ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

export interface Running {
  child: ChildProcessWithoutNullStreams;
  /** Every stdout line so far. */
  lines: string[];
  stderr: string[];
  /** Resolves with the first stdout line (already seen or to come) that `match` accepts. */
  line(match: (line: string) => boolean): Promise<string>;
  /** Like line(), for JSON lines: the first whose object `match` accepts. */
  event<T = any>(match: (e: any) => boolean): Promise<T>;
  exited: Promise<number | null>;
}

/** Starts `bucketq ARGS` and follows its output. */
export function start(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: envOf(opts.env ?? {}), stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const stderr: string[] = [];
  const waiters: Array<{ match: (l: string) => boolean; resolve: (l: string) => void }> = [];
  createInterface({ input: child.stderr }).on('line', (l) => stderr.push(l));
  createInterface({ input: child.stdout }).on('line', (l) => {
    lines.push(l);
    for (const w of [...waiters]) {
      if (w.match(l)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(l);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const line = (match: (l: string) => boolean) => {
    const seen = lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<string>((resolve, reject) => {
      waiters.push({ match, resolve });
      void exited.then((code) => reject(new Error(`bucketq exited (${code}) before the awaited line; stdout:\n${lines.join('\n')}\nstderr:\n${stderr.join('\n')}`)));
    });
  };
  const parse = (l: string): unknown => {
    try {
      return JSON.parse(l);
    } catch {
      return undefined;
    }
  };
  return {
    child,
    lines,
    stderr,
    line,
    event: async <T>(match: (e: any) => boolean) => parse(await line((l) => {
      const e = parse(l);
      return e !== undefined && match(e);
    })) as T,
    exited,
  };
}
