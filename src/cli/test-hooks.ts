/**
 * Test hooks of `bucketq broker`, set by environment variables that only process tests set
 * (CONTRIBUTING.md, "Test hooks"). With none of them set, nothing here changes anything.
 *
 *   BUCKETQ_TEST_HOLD_WRITE=REGEX         hold forever every store write whose key matches, and
 *                                         print "bucketq test hook: holding the write of KEY" on
 *                                         stderr at the first, once the writes in flight beside it
 *                                         have settled (the test SIGKILLs the broker then)
 *   BUCKETQ_TEST_HOLD_WRITE_AFTER=REGEX   ... only once a write of a key matching this has landed
 *   BUCKETQ_TEST_ORPHAN_LISTING_MS=MS     list segments for orphans this often (default 10 min)
 */
import type { BrokerOptions } from '../broker/broker.js';
import { withHeldWrites } from '../storage/held-writes.js';
import type { StorageDriver } from '../storage/types.js';
import { UsageError } from './command.js';

export interface BrokerTestHooks {
  /** Wraps the broker's store, when a hook needs to. */
  wrapStore?: (store: StorageDriver) => StorageDriver;
  brokerOptions: Pick<BrokerOptions, 'orphanListingMs'>;
}

function pattern(env: NodeJS.ProcessEnv, name: string): RegExp | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  try {
    return new RegExp(text);
  } catch (e) {
    throw new UsageError(`${name}: not a regular expression: ${(e as Error).message}`);
  }
}

export function brokerTestHooks(env: NodeJS.ProcessEnv, stderr: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): BrokerTestHooks {
  const key = pattern(env, 'BUCKETQ_TEST_HOLD_WRITE');
  const after = pattern(env, 'BUCKETQ_TEST_HOLD_WRITE_AFTER');
  if (after && !key) throw new UsageError('BUCKETQ_TEST_HOLD_WRITE_AFTER needs BUCKETQ_TEST_HOLD_WRITE');
  const hooks: BrokerTestHooks = { brokerOptions: {} };
  if (key) hooks.wrapStore = (store) => withHeldWrites(store, { key, ...(after ? { after } : {}), onHold: (k) => stderr(`bucketq test hook: holding the write of ${k}`) });
  const listing = env.BUCKETQ_TEST_ORPHAN_LISTING_MS;
  if (listing !== undefined && listing !== '') {
    const ms = Number(listing);
    if (!Number.isFinite(ms) || ms < 0) throw new UsageError(`BUCKETQ_TEST_ORPHAN_LISTING_MS must be a number of milliseconds, got ${JSON.stringify(listing)}`);
    hooks.brokerOptions.orphanListingMs = ms;
  }
  return hooks;
}
