/** A tiny driver around the pure core for tests: a state, a clock and a broker-like archive step. */
import { apply, beginCommit, type OpInput, type OpName, type OpResult } from '../../src/core/apply.js';
import { parseState, serializeState } from '../../src/core/codec.js';
import { hydrate, recentPairs, unhydrated } from '../../src/core/recent.js';
import { createState, type QueueState } from '../../src/core/state.js';
import type { JobRecord } from '../../src/core/types.js';

export class CoreHarness {
  state: QueueState;
  now = 1_700_000_000_000;
  /** Archive objects the "broker" wrote: key → records. */
  archive = new Map<string, JobRecord[]>();

  constructor(topic = 't') {
    this.state = createState(topic);
    beginCommit(this.state, 'test', this.now);
  }

  run<K extends OpName>(op: K, input: OpInput<K>): OpResult<K> {
    return apply(this.state, op, input, this.now);
  }

  ok<K extends OpName>(op: K, input: OpInput<K>) {
    const r = this.run(op, input);
    if (!r.ok) throw r.error;
    return r.value;
  }

  /** What the broker does after a commit lands: archive finished jobs, then drop them from the state. */
  commit(): void {
    const byKey = new Map<string, JobRecord[]>();
    for (const j of this.state.done) {
      const list = byKey.get(j.archive!) ?? [];
      list.push(JSON.parse(JSON.stringify(j)));
      byKey.set(j.archive!, list);
    }
    for (const [k, v] of byKey) this.archive.set(k, [...(this.archive.get(k) ?? []), ...v]);
    if (byKey.size) this.ok('archived', { keys: [...byKey.keys()] });
    beginCommit(this.state, 'test', this.now);
  }

  /** Round-trips the state through queue.json text, as a reload after a conflict would. */
  reload(): void {
    this.state = parseState(serializeState(this.state).toString('utf8'), 'queue.json', this.now);
    // queue.json names the archive objects of the recent window; the broker reads their ids back.
    for (const key of unhydrated(this.state.recent, this.now)) hydrate(this.state.recent, key, recentPairs(this.archive.get(key) ?? []));
  }

  archivedRecord(id: string): JobRecord | undefined {
    const entry = this.state.dead.get(id);
    if (!entry) return undefined;
    return this.archive.get(entry.archive)?.findLast((j) => j.id === id);
  }
}
