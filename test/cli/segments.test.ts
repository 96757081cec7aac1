/**
 * `bucketq inspect` and `bucketq doctor --topic` on a topic whose backlog lives in segments
 * (docs/format.md, section 7), as a user meets them: child processes on a file: store that an
 * in-process broker with small head bounds wrote.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkManifest } from '../../src/core/segments/manifest.js';
import { createFileStore } from '../../src/storage/fs.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { segmentedTopic } from '../storage/segmented-topic.js';
import { bucketq, json } from './cli-helpers.js';

describe('the tools on a segmented topic', () => {
  let dir: string;
  let url: string;
  let store: StorageDriver;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bucketq-segments-cli-'));
    url = `file:${dir}`;
    store = createFileStore({ root: dir });
    await segmentedTopic(store);
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('inspect shows the BACKLOG: per priority in the head and in segments, delayed, segments, tombstones, garbage', async () => {
    const out = json(await bucketq(['inspect', 'jobs', '--store', url, '--json']));
    expect(out.state.format).toBe(3);
    expect(out.segments).toBeUndefined();
    const b = out.backlog;
    expect(b.priorities.map((p: { priority: number }) => p.priority)).toEqual([5, 0]);
    expect(b.priorities.reduce((n: number, p: { window: number; tail: number; inSegments: number }) => n + p.window + p.tail + p.inSegments, 0)).toBe(39);
    expect(b.segments).toBe(out.state.backlog.ready.length + out.state.backlog.delayed.length);
    expect(b).toMatchObject({ tombstones: 1, counts: out.state.backlog.counts });

    const text = await bucketq(['inspect', 'jobs', '--store', url, '--human']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^BACKLOG \(the head holds a window; \d+ segments hold the rest\)$/m);
    expect(text.stdout).toMatch(/^PRIORITY {2}WINDOW {2}TAIL {2}SEGMENTS {2}IN SEGMENTS$/m);
    expect(text.stdout).toMatch(/^ {7}0 +\d+ +\d+ +\d+ +\d+$/m);
    expect(text.stdout).toMatch(/^delayed {3}\d+ in the head, \d+ in \d+ delayed segments?$/m);
    expect(text.stdout).toMatch(/^segments {2}\d+ named, [\d.]+ (B|KiB); 1 tombstone \(cancelled in a segment\)$/m);
    expect(text.stdout).toMatch(/^total {5}39 pending \(\d+ in the head, \d+ in segments\), 12 delayed$/m);
    expect(text.stdout).not.toMatch(/^SEGMENTS/m);
  });

  it('inspect --segments lists each segment the head names; a missing one is a PROBLEM (exit 1)', async () => {
    const out = json(await bucketq(['inspect', 'jobs', '--store', url, '--segments', '--json']));
    const m = checkManifest(out.state.backlog, 'queue.json', 'jobs');
    const named = [...m.ready, ...m.delayed].map((s) => s.key);
    expect(out.segments.map((s: { key: string }) => s.key)).toEqual(named);
    expect(out.segments[0]).toMatchObject({ kind: 'ready', priority: 5, status: 'ok', jobs: expect.any(Number), live: expect.any(Number), bytes: expect.any(Number) });
    expect(out.segments.at(-1)).toMatchObject({ kind: 'delayed', priority: null, status: 'ok' });
    const text = await bucketq(['inspect', 'jobs', '--store', url, '--segments', '--human']);
    expect(text.stdout).toMatch(new RegExp(`^SEGMENTS \\(${named.length}\\)$`, 'm'));
    expect(text.stdout).toMatch(/^segments\/jobs\/\S+\.seg +priority 5 +\d+ +\d+ +[\d.]+ (B|KiB) +order \d+\.\.\d+ +ok$/m);
    expect(text.stdout).toMatch(/^segments\/jobs\/\S+\.seg +delayed +\d+ +\d+ +[\d.]+ (B|KiB) +due \S+Z +ok$/m);
  });

  it('doctor --topic passes on an intact topic and names orphans; a named segment gone is one line on stderr and exit 1', async () => {
    const ok = await bucketq(['doctor', '--topic', 'jobs', '--store', url, '--human']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^segments {2}(\d+) of \1 named segments read and decoded, checksums checked/m);
    expect(ok.stdout).toMatch(/^orphans {3}0 segments no head names$/m);
    expect(ok.stdout.trimEnd().split('\n').at(-1)).toBe('verdict: OK');

    const before = json(await bucketq(['doctor', '--topic', 'jobs', '--store', url, '--json']));
    expect(before).toMatchObject({ ok: true, topic: 'jobs', problems: [], unnamed: [] });
    const gone = before.segments.find((s: { kind: string }) => s.kind === 'ready');
    // An orphan: a segment of commit 2 that no head names (a lost race, a crash before the head).
    const orphan = 'segments/jobs/0000000001-000000000002-0badf00d-0.seg';
    await store.write(orphan, 'x');
    await store.delete(gone.key);

    const broken = await bucketq(['doctor', '--topic', 'jobs', '--store', url, '--human']);
    expect(broken.code).toBe(1);
    const problem = `topic jobs: segment ${gone.key} (ready, priority ${gone.priority}, ${gone.live} jobs waiting) is named by the head but missing from the store`;
    expect(broken.stderr).toBe(`bucketq doctor: ${problem} (CORRUPT_STATE)\n`);
    expect(broken.stdout).toContain(`PROBLEM   ${problem}`);
    expect(broken.stdout).toMatch(/^orphans {3}1 segment no head names \(normal for a while after a failed commit or a crash: the leader lists segments every 10 minutes/m);
    expect(broken.stdout).toMatch(new RegExp(`^${orphan.replace(/[.]/g, '\\.')} +commit 2, epoch 1 +\\d+ commits ago$`, 'm'));
    expect(broken.stdout.trimEnd().split('\n').at(-1)).toBe('verdict: BROKEN: 1 problem');

    const inspect = await bucketq(['inspect', 'jobs', '--store', url, '--segments', '--human']);
    expect(inspect.code).toBe(1);
    expect(inspect.stdout).toContain(`PROBLEM   segment ${gone.key} (ready, priority ${gone.priority}, ${gone.live} jobs waiting) is named by the head but missing from the store`);
    expect(inspect.stdout).toMatch(new RegExp(`^${gone.key.replace(/[.]/g, '\\.')} .* missing$`, 'm'));
    expect(inspect.stderr.trimEnd().split('\n')).toHaveLength(1);
    // Without --segments inspect reads only queue.json: nothing to notice.
    expect((await bucketq(['inspect', 'jobs', '--store', url, '--human'])).code).toBe(0);
  });
});
