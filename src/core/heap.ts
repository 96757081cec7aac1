/**
 * Small index structures for the in-memory state. Both use lazy deletion: entries are never
 * searched for and removed; a consumer validates an entry against the job when it reaches it
 * and skips stale ones. That keeps every op O(log n) instead of O(n) on a 100k-job topic.
 */

/** Binary min-heap ordered by `less`. */
export class MinHeap<T> {
  private items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** FIFO queue with O(1) amortised shift. */
export class Deque<T> {
  private items: T[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  /**
   * Inserts `item` where `less` order puts it among entries already in that order: O(1) at the
   * back (a new entry) or the front (one handed back), else a binary search.
   */
  insertSorted(item: T, less: (a: T, b: T) => boolean): void {
    const a = this.items;
    if (a.length === this.head || !less(item, a[a.length - 1]!)) {
      a.push(item);
      return;
    }
    let lo = this.head;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (less(a[mid]!, item)) lo = mid + 1;
      else hi = mid;
    }
    if (lo === this.head && this.head > 0) a[--this.head] = item;
    else a.splice(lo, 0, item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined as T;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
