/**
 * Debian's `chromium`, the headless browser the dashboard tests drive with playwright-core.
 * Installed with apt-get when missing and we are root (about a minute on a fresh machine);
 * otherwise the dashboard tests skip with the reason. playwright-core ships no browser of its
 * own, so we point it at this binary (`chromium.launch({ executablePath })`).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

export const CHROMIUM_PATH = process.env.BUCKETQ_TEST_CHROMIUM ?? '/usr/bin/chromium';

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (err) => resolve({ code: -1, output: err.message }));
    child.on('close', (code) => resolve({ code, output }));
  });
}

let ensured: Promise<string | null> | null = null;

/** null when {@link CHROMIUM_PATH} is there (installing Debian's chromium if needed), else why it is not. */
export function ensureChromium(log: (line: string) => void = () => {}): Promise<string | null> {
  ensured ??= (async () => {
    if (executable(CHROMIUM_PATH)) return null;
    if (process.getuid?.() !== 0) return `chromium is not installed at ${CHROMIUM_PATH} and installing it needs root`;
    if (!executable('/usr/bin/apt-get')) return 'chromium is not installed and there is no apt-get to install it with';
    log('installing chromium with apt-get (about a minute, once per machine)');
    // Another apt-get (the Ceph or redis-tools harness) may hold the lock: wait for it rather than fail.
    const lock = ['-o', 'DPkg::Lock::Timeout=300'];
    for (const args of [[...lock, 'update', '-qq'], [...lock, 'install', '-y', '-qq', '--no-install-recommends', 'chromium', 'fonts-liberation']]) {
      const r = await run('apt-get', args);
      if (r.code !== 0) return `apt-get ${args.slice(2).join(' ')} failed (exit ${r.code}): ${r.output.trim().split('\n').slice(-3).join(' | ')}`;
    }
    return executable(CHROMIUM_PATH) ? null : `apt-get installed chromium but ${CHROMIUM_PATH} is still missing`;
  })();
  return ensured;
}
