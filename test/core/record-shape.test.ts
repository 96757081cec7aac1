/**
 * Every job record keeps one hidden class, however it was made and changed (src/core/job-json.ts,
 * `shaped`). A record that gains a property (a field left out of the shape, a `delete` instead
 * of `= undefined`) gets a hidden class of its own, and with a few of them the stores of claim,
 * ack and touch go megamorphic: that halved a drain's speed (docs/benchmarks.md, "One shape per
 * job record"). V8 answers through %HaveSameMap, so the check runs in a child with
 * --allow-natives-syntax.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const FIXTURE = fileURLToPath(new URL('./fixtures/record-shapes.ts', import.meta.url));
const PROJECT = fileURLToPath(new URL('../..', import.meta.url));

it('records pushed, claimed, acked, nacked, cancelled, reloaded, retried and read from a segment share one hidden class', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', FIXTURE], { cwd: PROJECT, timeout: 60_000 });
  // The fixture prints each way of making a record whose hidden class differs from a pushed job's.
  expect(stdout).toBe('done\n');
});
