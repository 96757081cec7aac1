/**
 * The `bucketq` command line. Each command is one module under `commands/` (default export: a
 * {@link Command}), imported only when it runs, so `bucketq push` never loads the broker and
 * `bucketq broker` never loads the client.
 *
 *   bucketq <command> [args]      run a command
 *   bucketq <command> --help      its manual
 *   bucketq --help | --version
 *
 * Failures print one line on stderr: `bucketq <command>: <message>`; exit status 2 for bad
 * arguments, 1 for anything else.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { packageVersion } from '../package-version.js';
import { setNoticePrefix } from './args.js';
import { didYouMean } from './did-you-mean.js';
import type { Command } from './command.js';
import { failureLine } from './failure-line.js';
import { tokenGiven } from './token-source.js';

/** Every command, in help order. */
export const COMMAND_NAMES = ['broker', 'push', 'claim', 'ack', 'nack', 'heartbeat', 'get', 'cancel', 'retry', 'pause', 'resume', 'stats', 'topics', 'inspect', 'reset', 'work', 'watch', 'doctor'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/** name → lazy import of its module: `bucketq push` never loads the broker, nor `broker` the client. */
const COMMANDS: Record<CommandName, () => Promise<{ default: Command }>> = {
  broker: () => import('./commands/broker.js'),
  push: () => import('./commands/push.js'),
  claim: () => import('./commands/claim.js'),
  ack: () => import('./commands/ack.js'),
  nack: () => import('./commands/nack.js'),
  heartbeat: () => import('./commands/heartbeat.js'),
  get: () => import('./commands/get.js'),
  cancel: () => import('./commands/cancel.js'),
  retry: () => import('./commands/retry.js'),
  pause: () => import('./commands/pause.js'),
  resume: () => import('./commands/resume.js'),
  stats: () => import('./commands/stats.js'),
  topics: () => import('./commands/topics.js'),
  inspect: () => import('./commands/inspect.js'),
  reset: () => import('./commands/reset.js'),
  work: () => import('./commands/work.js'),
  watch: () => import('./commands/watch.js'),
  doctor: () => import('./commands/doctor.js'),
};

function isCommandName(name: string): name is CommandName {
  return (COMMAND_NAMES as readonly string[]).includes(name);
}

async function overview(): Promise<string> {
  const loaded = await Promise.all(COMMAND_NAMES.map(async (name) => [name, (await COMMANDS[name]()).default] as const));
  const width = Math.max(...COMMAND_NAMES.map((n) => n.length));
  const lines = loaded.map(([name, cmd]) => `  ${name.padEnd(width)}  ${cmd.summary}`);
  return [
    'bucketq - a durable job queue whose whole state lives in object storage',
    '',
    'Usage:',
    '  bucketq <command> [options]',
    '  bucketq <command> --help     the manual of a command',
    '  bucketq --version',
    '',
    'Commands:',
    ...lines,
    '',
    'Environment: BUCKETQ_TOKEN is the bearer token of brokers and clients; BUCKETQ_URL and',
    'BUCKETQ_STORE are the defaults of the client commands\' --url and --store.',
    '',
    'Durations are written 500ms, 30s, 2m, 1h (a bare number is milliseconds). Exit status: 0 done,',
    '1 a failure (one line on stderr), 2 bad arguments. docs/cli.md has the conventions.',
    '',
  ].join('\n');
}

function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** Runs the command line `argv` (without node and the script) and resolves to the exit status. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    process.stderr.write(await overview());
    return 2;
  }
  if (first === '--help' || first === '-h') {
    process.stdout.write(await overview());
    return 0;
  }
  if (first === '--version' || first === '-v') {
    process.stdout.write(`bucketq ${packageVersion()}\n`);
    return 0;
  }
  const name = first === 'help' ? rest[0] : first;
  if (first === 'help' && name === undefined) {
    process.stdout.write(await overview());
    return 0;
  }
  if (name === undefined || !isCommandName(name)) {
    const hint = name === undefined ? '' : didYouMean(name, COMMAND_NAMES);
    process.stderr.write(`bucketq: unknown command ${JSON.stringify(name)}${hint} (see bucketq --help)\n`);
    return 2;
  }
  const prefix = `bucketq ${name}`;
  setNoticePrefix(prefix);
  let command: Command;
  try {
    command = (await COMMANDS[name]()).default;
  } catch (err) {
    process.stderr.write(`${failureLine(prefix, err).line}\n`);
    return 1;
  }
  if (first === 'help' || wantsHelp(rest)) {
    process.stdout.write(command.usage.endsWith('\n') ? command.usage : `${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest, env);
  } catch (err) {
    const { line, code } = failureLine(prefix, err, { tokenGiven: tokenGiven(rest, env) });
    process.stderr.write(`${line}\n`);
    return code;
  }
}

/** Runs `main` on this process's arguments and exits with its status. */
export async function runMain(): Promise<void> {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  // A command that finished but left a handle open (a socket, a timer) must not hang the shell.
  setTimeout(() => process.exit(code), 1000).unref();
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) await runMain();
