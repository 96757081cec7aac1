/**
 * The shape of a CLI command. Each command is one module under `commands/` whose default export
 * is a {@link Command}; `main.ts` loads it only when it is run (or when `--help` lists them all).
 */

export interface Command {
  /** The word after `bucketq`. */
  name: string;
  /** One line for `bucketq --help`. */
  summary: string;
  /** The full help text, man-page style (NAME, SYNOPSIS, DESCRIPTION, OPTIONS, ...), printed by `--help`. */
  usage: string;
  /**
   * Runs the command with the arguments after its name. Resolves to the exit status. Throw a
   * {@link UsageError} for bad arguments (exit 2) and anything else for a failure (exit 1):
   * `main` prints the message as one line on stderr.
   */
  run(argv: string[], env: NodeJS.ProcessEnv): Promise<number>;
}

/** Bad arguments or flags: printed with a pointer to `--help`, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Types a command module's default export. */
export function defineCommand(command: Command): Command {
  return command;
}
