/**
 * Ids nobody can guess: job ids the broker or a client makes, lease nonces, payload object names.
 *
 * Why not a random prefix and a counter (what they were): an id made for a caller is new to the
 * world, so a push that finds it taken would answer `created: false` for a job that is not there.
 * With a counter, anyone who saw one id knows the next: a client could push jobs under the ids
 * another producer is about to get, and that producer's jobs would be dropped while it was told
 * they were queued (or, for a lease nonce, ack another worker's jobs). 96 bits from the operating
 * system's CSPRNG make guessing hopeless and an accidental collision as likely as a UUIDv4 one.
 *
 * Cost: drawn {@link POOL_BYTES} at a time (a draw per id was 6% of a busy broker's CPU, which is
 * why the counter was there), one base64url conversion per id.
 */
import { randomFillSync } from 'node:crypto';

/** Bytes of one id: 96 bits, 16 base64url characters. */
const ID_BYTES = 12;
const POOL_BYTES = ID_BYTES * 512;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let at = POOL_BYTES;

/**
 * A new id: `lead` (a letter: base64url may begin with '-', which a command line takes for an
 * option) and 16 unguessable base64url characters.
 */
export function unguessableId(lead: string): string {
  if (at === POOL_BYTES) {
    randomFillSync(pool);
    at = 0;
  }
  const id = lead + pool.toString('base64url', at, at + ID_BYTES);
  at += ID_BYTES;
  return id;
}
