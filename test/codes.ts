import { isQueueError } from '../src/errors.js';

/** What a promise settles to, as a word: 'ok', a QueueError code, or a description of anything else. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return isQueueError(err) ? err.code : `not a QueueError: ${String(err)}`;
  }
}
