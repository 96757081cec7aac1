/**
 * Whether `bucketq work` can start its command at all, checked before it claims anything: a
 * missing or non-executable command would otherwise be found only when the first job is claimed,
 * and cost that job an attempt. Resolves the name the way spawn() does on POSIX (a name with a
 * slash is a path, relative to the working directory; a bare name is looked up in PATH, an empty
 * PATH entry meaning the working directory).
 */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

/** null when the command can be started, else why not, in a few words. */
export function commandProblem(command: string, pathEnv: string | undefined, cwd = process.cwd()): string | null {
  // Windows finds commands through PATHEXT as well: leave it to spawn's own error there.
  if (process.platform === 'win32') return null;
  if (command.includes('/')) return fileProblem(path.resolve(cwd, command));
  let sawFile: string | null = null;
  for (const dir of (pathEnv ?? '').split(path.delimiter)) {
    const candidate = path.resolve(cwd, dir, command);
    const problem = fileProblem(candidate);
    if (problem === null) return null;
    if (problem !== 'not found' && sawFile === null) sawFile = problem;
  }
  return sawFile ?? 'not found in PATH';
}

function fileProblem(file: string): string | null {
  let isFile: boolean;
  try {
    isFile = statSync(file).isFile();
  } catch {
    return 'not found';
  }
  if (!isFile) return 'not a file';
  try {
    accessSync(file, constants.X_OK);
    return null;
  } catch {
    return 'not executable (chmod +x?)';
  }
}
