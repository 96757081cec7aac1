/**
 * Stream ids as XADD makes them (`ms-seq`) and as XPENDING, XCLAIM and the lease table order
 * them. A topic may also hold jobs pushed over HTTP with ids of any text: those sort after.
 */

/** `ms-seq` stream ids compare numerically; other job ids (pushed over HTTP) sort after them, as text. */
export function compareIds(a: string, b: string): number {
  const ma = /^(\d+)-(\d+)$/.exec(a);
  const mb = /^(\d+)-(\d+)$/.exec(b);
  if (ma && mb) {
    const d = BigInt(ma[1]!) - BigInt(mb[1]!) || BigInt(ma[2]!) - BigInt(mb[2]!);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  }
  if (ma) return -1;
  if (mb) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
