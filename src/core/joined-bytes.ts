/**
 * A list's JSON elements joined by a separator, kept as one buffer between commits. queue.json's
 * `done` list (finished jobs waiting for their archive window, up to 256 records) and its recent
 * window (a few hundred groups) are most of a busy topic's head, and from one commit to the next
 * they only grow at the end and lose elements at the front. Copying each element's cached bytes
 * into every commit cost a call and a copy per element (~500 per commit, the largest item of a
 * commit's CPU in bench/broker-cpu.ts); with this cache a commit copies one contiguous run.
 *
 * Correctness does not depend on how the list changed: the cache remembers the exact Buffer of
 * each element it holds (the records' own cached bytes, job-json.ts, which a change replaces
 * rather than mutates), and is used only for a run of elements whose buffers are those very
 * objects, in order. Anything else (an element changed, removed from the middle, reordered) makes
 * it start over from the list as it is.
 */

export class JoinedBytes<T> {
  /** Buffers of the elements held, from `from` on (the ones before were dropped from the list). */
  private bufs: Buffer[] = [];
  /** Where element i starts and ends in `bytes`. */
  private starts: number[] = [];
  private ends: number[] = [];
  private from = 0;
  private bytes: Buffer = Buffer.alloc(0);
  private len = 0;

  constructor(
    private readonly sep: Buffer,
    private readonly bytesOf: (item: T) => Buffer,
  ) {}

  /**
   * `items`' bytes joined by the separator: a view valid until the next call, which the caller
   * copies at once (the next call may append to the same memory, never over this view).
   */
  join(items: readonly T[]): Buffer {
    const n = items.length;
    if (n === 0) return EMPTY;
    const k = this.bufs.indexOf(this.bytesOf(items[0]!), this.from);
    if (k < 0) return this.rebuild(items);
    // Items held already: a run of the cache from k on.
    let m = 1;
    while (m < n && k + m < this.bufs.length) {
      if (this.bufs[k + m] !== this.bytesOf(items[m]!)) return this.rebuild(items);
      m++;
    }
    if (k + m < this.bufs.length) {
      // The list ends before the cache does (a list that lost its tail): a view of the run, and
      // the cache starts over next time it grows.
      return this.bytes.subarray(this.starts[k]!, this.ends[k + m - 1]!);
    }
    this.from = k;
    if (m < n) this.append(items, m);
    return this.bytes.subarray(this.starts[this.from]!, this.len);
  }

  /** Appends items[m..] to the run that starts at `from`, compacting it into a new buffer when there is no room. */
  private append(items: readonly T[], m: number): void {
    const added: Buffer[] = [];
    let size = 0;
    for (let i = m; i < items.length; i++) {
      const b = this.bytesOf(items[i]!);
      added.push(b);
      size += this.sep.length + b.length;
    }
    if (this.len + size > this.bytes.length) {
      // A new buffer (never written over the old one: a view of it may still be in use) with the
      // live run at its start and room to grow.
      const start = this.starts[this.from]!;
      const live = this.len - start;
      const next = Buffer.allocUnsafeSlow(Math.max(4096, 2 * (live + size)));
      next.set(this.bytes.subarray(start, this.len), 0);
      this.bufs = this.bufs.slice(this.from);
      this.starts = this.starts.slice(this.from).map((x) => x - start);
      this.ends = this.ends.slice(this.from).map((x) => x - start);
      this.from = 0;
      this.bytes = next;
      this.len = live;
    }
    for (const b of added) this.put(b, true);
  }

  private put(b: Buffer, sep: boolean): void {
    if (sep) {
      this.bytes.set(this.sep, this.len);
      this.len += this.sep.length;
    }
    this.starts.push(this.len);
    this.bytes.set(b, this.len);
    this.len += b.length;
    this.ends.push(this.len);
    this.bufs.push(b);
  }

  private rebuild(items: readonly T[]): Buffer {
    const all = items.map(this.bytesOf);
    let size = 0;
    for (const b of all) size += b.length + this.sep.length;
    this.bytes = Buffer.allocUnsafeSlow(Math.max(4096, 2 * size));
    this.bufs = [];
    this.starts = [];
    this.ends = [];
    this.from = 0;
    this.len = 0;
    all.forEach((b, i) => this.put(b, i > 0));
    return this.bytes.subarray(0, this.len);
  }
}

const EMPTY = Buffer.alloc(0);
