/**
 * The one line a failed command prints on stderr, and its exit status. Most errors print as the
 * broker or the library worded them, with their code; a few are worded for a person at a shell,
 * naming the flag or variable that fixes them, because the library's wording speaks of HTTP
 * headers or options that a CLI user never typed.
 */
import { isQueueError, type QueueError } from '../errors.js';
import { UsageError } from './command.js';

export interface FailureContext {
  /** A token was given (--token or BUCKETQ_TOKEN): a 401 means it is wrong, not missing. */
  tokenGiven: boolean;
}

/** `bucketq CMD: MESSAGE (CODE)` and the exit status: 2 for bad arguments, 1 for anything else. */
export function failureLine(prefix: string, err: unknown, ctx: FailureContext = { tokenGiven: false }): { line: string; code: number } {
  if (err instanceof UsageError) return { line: `${prefix}: ${err.message} (see ${prefix} --help)`, code: 2 };
  if (isQueueError(err)) return { line: `${prefix}: ${queueErrorText(err, ctx)}`, code: err.code === 'INVALID_ARGUMENT' ? 2 : 1 };
  if (err instanceof Error) return { line: `${prefix}: ${err.message}`, code: 1 };
  return { line: `${prefix}: ${String(err)}`, code: 1 };
}

function queueErrorText(err: QueueError, ctx: FailureContext): string {
  if (err.code === 'UNAVAILABLE' && err.details?.unreachable === true) return `${err.message}; is one running? set --url or BUCKETQ_URL`;
  if (err.code === 'UNAUTHENTICATED') {
    const what = ctx.tokenGiven ? 'refused the token given: it is not one of its tokens' : 'needs a token and none was given';
    return `the broker ${what}; give it with --token TOKEN, --token-file PATH or the BUCKETQ_TOKEN environment variable (UNAUTHENTICATED)`;
  }
  if (err.code === 'PERMISSION_DENIED') {
    return `the token given is the broker's read-only token (--read-token), which may only look (${err.message}); give the full token with --token, --token-file or BUCKETQ_TOKEN (PERMISSION_DENIED)`;
  }
  return `${err.message} (${err.code})`;
}
