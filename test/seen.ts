/** Items a test has seen so far, in order, and promises for the first one (seen or to come) a predicate accepts. */
export class Seen<T> {
  readonly items: T[] = [];
  private waiters: Array<{ match: (x: T) => boolean; resolve: (x: T) => void }> = [];

  add(x: T): void {
    this.items.push(x);
    for (const w of [...this.waiters]) {
      if (!w.match(x)) continue;
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(x);
    }
  }

  next(match: (x: T) => boolean): Promise<T> {
    const seen = this.items.find(match);
    return seen ? Promise.resolve(seen) : new Promise<T>((resolve) => this.waiters.push({ match, resolve }));
  }
}
