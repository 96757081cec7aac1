/**
 * The id index of the backlog in segments: 64-bit id fingerprint → segment handle, a multimap in
 * three typed arrays (open addressing, linear probing, backward-shift deletion). 12 bytes a slot,
 * at most 3/4 full: 16 to 24 bytes a job, and no id string held (docs/format.md, "the id index").
 *
 * A hit says "probably in that segment"; the caller confirms against the segment's ids.
 * Handle 0 marks an empty slot, so handles start at 1.
 */
export class FingerprintIndex {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private seg: Uint32Array;
  private mask: number;
  private count = 0;
  /** Entries ever added: an id found absent stays absent while this does not change (removals never add one). */
  adds = 0;

  constructor(capacity = 1024) {
    let cap = 16;
    while (cap < capacity) cap *= 2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.seg = new Uint32Array(cap);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by the table (what an index costs in memory). */
  get bytes(): number {
    return this.hi.byteLength + this.lo.byteLength + this.seg.byteLength;
  }

  add(hi: number, lo: number, handle: number): void {
    if ((this.count + 1) * 4 > (this.mask + 1) * 3) this.grow();
    let i = lo & this.mask;
    while (this.seg[i] !== 0) i = (i + 1) & this.mask;
    this.hi[i] = hi;
    this.lo[i] = lo;
    this.seg[i] = handle;
    this.count++;
    this.adds++;
  }

  /** Whether any segment holds this fingerprint: the answer for almost every new id, without allocating. */
  has(hi: number, lo: number): boolean {
    for (let i = lo & this.mask; this.seg[i] !== 0; i = (i + 1) & this.mask) if (this.lo[i] === lo && this.hi[i] === hi) return true;
    return false;
  }

  /** The handles of segments holding this fingerprint (usually none or one). */
  find(hi: number, lo: number): number[] {
    const out: number[] = [];
    for (let i = lo & this.mask; this.seg[i] !== 0; i = (i + 1) & this.mask) {
      if (this.lo[i] === lo && this.hi[i] === hi) out.push(this.seg[i]!);
    }
    return out;
  }

  /** Removes one entry (hi, lo) → handle; false when there is none. */
  remove(hi: number, lo: number, handle: number): boolean {
    const m = this.mask;
    let i = lo & m;
    for (; this.seg[i] !== 0; i = (i + 1) & m) {
      if (this.lo[i] === lo && this.hi[i] === hi && this.seg[i] === handle) break;
    }
    if (this.seg[i] === 0) return false;
    // Backward shift: pull later entries of the probe run into the hole, so lookups need no marks.
    let hole = i;
    for (let j = (i + 1) & m; this.seg[j] !== 0; j = (j + 1) & m) {
      const home = this.lo[j]! & m;
      const between = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (between) continue;
      this.hi[hole] = this.hi[j]!;
      this.lo[hole] = this.lo[j]!;
      this.seg[hole] = this.seg[j]!;
      hole = j;
    }
    this.seg[hole] = 0;
    this.count--;
    return true;
  }

  private grow(): void {
    const { hi, lo, seg } = this;
    const cap = (this.mask + 1) * 2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.seg = new Uint32Array(cap);
    this.mask = cap - 1;
    this.count = 0;
    for (let i = 0; i < seg.length; i++) if (seg[i] !== 0) this.add(hi[i]!, lo[i]!, seg[i]!);
  }
}
