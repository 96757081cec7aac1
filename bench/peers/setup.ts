/**
 * The servers bench:peers compares against, installed by the run itself: before the first system
 * starts, every program the chosen systems need (redis-server for BullMQ, PostgreSQL's server
 * binaries for pg-boss, strace for --strace) that is missing is installed with one
 * `apt-get update && apt-get install -y …` when this process is root on Debian (or a derivative),
 * the command printed first. Anywhere else the command is printed and the systems that need the
 * program skip themselves with the reason, as they did before. `--no-install` turns it off.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';

/** A program a system needs, and the Debian package that brings it. */
export interface Requirement {
  /** What is missing, in words: "redis-server", "PostgreSQL server binaries". */
  what: string;
  debianPackage: string;
  present(): boolean;
}

export interface Host {
  root: boolean;
  debian: boolean;
}

export type InstallPlan = { run: true; argv: string[]; command: string } | { run: false; command: string; reason: string } | null;

export function host(): Host {
  return { root: userInfo().uid === 0, debian: existsSync('/etc/debian_version') && existsSync('/usr/bin/apt-get') };
}

/** What to do about `missing` on `h`: nothing, install (root on Debian), or print the command. */
export function installPlan(missing: Requirement[], h: Host): InstallPlan {
  const packages = [...new Set(missing.map((r) => r.debianPackage))];
  if (packages.length === 0) return null;
  const install = `apt-get install -y ${packages.join(' ')}`;
  const command = `apt-get update && ${install}`;
  if (!h.debian) return { run: false, command, reason: 'not a Debian system (no /etc/debian_version and /usr/bin/apt-get)' };
  if (!h.root) return { run: false, command, reason: 'not root' };
  return { run: true, argv: ['sh', '-c', command], command };
}

/**
 * Installs what `requirements` lack when it can (see the module comment); says what it does on
 * `log`. apt-get's own output goes to stderr, so `--json` keeps stdout clean.
 */
export function ensureInstalled(requirements: Requirement[], log: (line: string) => void): void {
  const missing = requirements.filter((r, i) => requirements.indexOf(r) === i && !r.present());
  const plan = installPlan(missing, host());
  if (!plan) return;
  const what = missing.map((r) => r.what).join(', ');
  if (!plan.run) {
    log(`setup: ${what} missing; not installing (${plan.reason}). To install: ${plan.command}`);
    return;
  }
  log(`setup: ${what} missing; running: ${plan.command}`);
  const result = spawnSync(plan.argv[0]!, plan.argv.slice(1), { stdio: ['ignore', 2, 2], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  const still = missing.filter((r) => !r.present()).map((r) => r.what);
  if (result.status !== 0) log(`setup: the install failed (${result.error?.message ?? `exit ${result.status ?? result.signal}`})`);
  if (still.length > 0) log(`setup: still missing: ${still.join(', ')}; the systems that need them are skipped`);
}
