/**
 * Runs one job's command for `bucketq work`: the payload as JSON on stdin, stdout collected as the
 * result, the end of stderr kept for the error. The child gets its own process group, so a Ctrl-C
 * on the terminal reaches bucketq (which drains) and not the running commands; aborting `signal`
 * sends it SIGTERM, then SIGKILL after a grace period.
 */
import { spawn } from 'node:child_process';

/** Largest stdout kept (a result must be small: the broker takes at most 64 KiB). */
export const MAX_STDOUT_BYTES = 1024 * 1024;
/** How much of the end of stderr becomes the error of a failed job. */
export const STDERR_TAIL_BYTES = 2048;
/** After SIGTERM, how long a command has before SIGKILL. */
export const KILL_GRACE_MS = 5000;

export type CommandOutcome =
  | { ok: true; result: unknown }
  /** The command failed: exit status or signal, with the end of its stderr. */
  | { ok: false; message: string }
  /** The command could not be started at all (not found, not executable). */
  | { ok: false; message: string; startError: NodeJS.ErrnoException };

export interface RunOptions {
  command: string;
  args: string[];
  input: string;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  /** Called once the child started, with a way to signal it (a forced stop). */
  onSpawn?: (kill: (signal: NodeJS.Signals) => void) => void;
}

/** stdout as a result: JSON when it parses, else the text (one trailing newline dropped); empty: undefined. */
export function resultOf(stdout: string): unknown {
  if (stdout.trim() === '') return undefined;
  try {
    return JSON.parse(stdout) as unknown;
  } catch {
    return stdout.replace(/\r?\n$/, '');
  }
}

/** The last `max` bytes of `buf` as text, cut at a line start when one is near, trimmed. */
export function tail(buf: Buffer, max = STDERR_TAIL_BYTES): string {
  let text = buf.subarray(Math.max(0, buf.length - max)).toString('utf8');
  if (buf.length > max) {
    text = text.replace(/^\uFFFD+/, '');
    const nl = text.indexOf('\n');
    if (nl >= 0 && nl < 200) text = text.slice(nl + 1);
    text = `…${text}`;
  }
  return text.trim();
}

export function runCommand(o: RunOptions): Promise<CommandOutcome> {
  return new Promise((resolve) => {
    const child = spawn(o.command, o.args, { stdio: ['pipe', 'pipe', 'pipe'], env: o.env, detached: true });
    let stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let truncated = false;
    let stderr = Buffer.alloc(0);
    let killTimer: NodeJS.Timeout | undefined;
    const kill = (sig: NodeJS.Signals) => {
      try {
        child.kill(sig);
      } catch {
        // already gone
      }
    };
    const onAbort = () => {
      kill('SIGTERM');
      killTimer = setTimeout(() => kill('SIGKILL'), KILL_GRACE_MS);
    };
    child.stdout.on('data', (d: Buffer) => {
      if (stdoutBytes + d.length > MAX_STDOUT_BYTES) truncated = true;
      else stdout.push(d);
      stdoutBytes += d.length;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = Buffer.concat([stderr, d]);
      if (stderr.length > 4 * STDERR_TAIL_BYTES) stderr = stderr.subarray(stderr.length - 2 * STDERR_TAIL_BYTES);
    });
    // A command that does not read its stdin closes the pipe: not an error of ours.
    child.stdin.on('error', () => {});
    let started = false;
    child.once('spawn', () => {
      started = true;
      o.onSpawn?.(kill);
      if (o.signal.aborted) onAbort();
      else o.signal.addEventListener('abort', onAbort, { once: true });
      child.stdin.end(o.input);
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (started) return; // a kill that failed; 'close' still comes
      const why = err.code === 'ENOENT' ? 'not found' : err.code === 'EACCES' ? 'permission denied' : err.message;
      resolve({ ok: false, message: `cannot run ${JSON.stringify(o.command)}: ${why} (${err.code ?? 'error'})`, startError: err });
    });
    child.once('close', (code, signal) => {
      clearTimeout(killTimer);
      o.signal.removeEventListener('abort', onAbort);
      if (!started) return;
      const err = tail(stderr);
      if (code === 0) {
        if (truncated) return resolve({ ok: false, message: `stdout exceeds ${MAX_STDOUT_BYTES} bytes (a result must be small)` });
        const out = Buffer.concat(stdout).toString('utf8');
        stdout = [];
        return resolve({ ok: true, result: resultOf(out) });
      }
      const how = signal ? `killed by ${signal}` : `exit ${code}`;
      resolve({ ok: false, message: err ? `${how}: ${err}` : how });
    });
  });
}
