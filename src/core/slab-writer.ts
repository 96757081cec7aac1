/**
 * UTF-8 text written piece by piece straight into shared byte slabs: how a job record's bytes are
 * made (job-json.ts). A record used to be built as a string (a chain of a dozen concatenations),
 * flattened, measured, then encoded into its own Buffer or into a segment: most of a bulk push's
 * garbage and a tenth of its CPU (profiled). Here the pieces go into the slab as bytes, each record
 * followed by a newline, so the records of consecutive jobs lie one after another, exactly as a
 * segment holds them (docs/format.md, section 3): a segment copies a run of them in one go.
 *
 * A slab is 8 KiB, Node's own Buffer pool size: a record kept alive keeps its slab alive, as a
 * small Buffer keeps its pool slab, and no more. A record that outgrows a slab gets a buffer of
 * its own. The core is synchronous: one writer serves every record, one at a time.
 */

const SLAB_BYTES = 8 * 1024;
/** A string longer than this is encoded by Buffer#utf8Write (one native call) rather than a loop. */
const LOOP_MAX = 96;
const NL = 0x0a;

/** Buffer's own UTF-8 writer, which Buffer#write calls after normalising its arguments (profiled: the normalising cost more). */
type Utf8Writer = Buffer & { utf8Write(text: string, offset: number): number };

export class SlabWriter {
  /** Where the record being written goes: the slab, or a buffer of its own once it outgrew one. */
  buf: Buffer = Buffer.allocUnsafe(0);
  /** The record's first byte in `buf`. */
  start = 0;
  /** The next byte to write. */
  private p = 0;
  private slab: Buffer = Buffer.allocUnsafe(0);
  private slabUsed = 0;

  /** Begins a record in the current slab. */
  begin(): void {
    this.buf = this.slab;
    this.start = this.p = this.slabUsed;
  }

  /** Ends the record with its newline (not part of it); returns its length. */
  end(): number {
    this.room(1);
    const len = this.p - this.start;
    this.buf[this.p++] = NL;
    if (this.buf === this.slab) this.slabUsed = this.p;
    else if (this.buf.length - this.p > this.buf.length >> 2) {
      // A record of its own: not held with more than a quarter of its buffer to spare.
      this.buf = Buffer.from(this.buf.subarray(this.start, this.p));
      this.start = 0;
    }
    return len;
  }

  /** Text known to be ASCII (the record's field names and punctuation, numbers). */
  ascii(s: string): void {
    const n = s.length;
    this.room(n);
    const b = this.buf;
    const p = this.p;
    for (let i = 0; i < n; i++) b[p + i] = s.charCodeAt(i);
    this.p = p + n;
  }

  /** Any text, as UTF-8 (what Buffer.from(s) writes: a lone surrogate becomes U+FFFD). */
  text(s: string): void {
    const n = s.length;
    if (n <= LOOP_MAX) {
      this.room(3 * n);
      const b = this.buf;
      const p = this.p;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[p + i] = c;
      }
      if (i === n) {
        this.p = p + n;
        return;
      }
    } else this.room(Buffer.byteLength(s, 'utf8'));
    this.p += (this.buf as Utf8Writer).utf8Write(s, this.p);
  }

  /** A string as JSON (what JSON.stringify(s) writes), without making that text for a plain ASCII one. */
  jsonString(s: string): void {
    const n = s.length;
    if (n <= LOOP_MAX && typeof s === 'string') {
      this.room(n + 2);
      const b = this.buf;
      const p = this.p;
      b[p] = 0x22;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x80) break;
        b[p + 1 + i] = c;
      }
      if (i === n) {
        b[p + 1 + n] = 0x22;
        this.p = p + n + 2;
        return;
      }
    }
    this.text(`${JSON.stringify(s)}`);
  }

  /** A number as its text (String(n), what a template literal writes), without making the string for an integer. */
  num(n: number): void {
    if ((n | 0) === n) {
      // -0 lands here too, and is written "0", as String(-0) is.
      if (n < 0) {
        this.ascii('-');
        n = -n;
      }
      return this.digits(n, 0);
    }
    if (n > 0 && n <= Number.MAX_SAFE_INTEGER && Math.floor(n) === n) {
      // Epoch milliseconds and large orders: two 31-bit halves, exact below 2^53.
      let hi = Math.floor(n / 1e8);
      let lo = n - hi * 1e8;
      if (lo < 0) {
        hi--;
        lo += 1e8;
      } else if (lo >= 1e8) {
        hi++;
        lo -= 1e8;
      }
      this.digits(hi, 0);
      return this.digits(lo, 8);
    }
    this.text(`${n}`);
  }

  /** The decimal digits of 0 ≤ n ≤ 2^31, zero-padded to `width`. */
  private digits(n: number, width: number): void {
    let d = 1;
    for (let x = n; x >= 10; x = (x / 10) | 0) d++;
    if (d < width) d = width;
    this.room(d);
    const b = this.buf;
    let q = this.p + d - 1;
    for (let i = 0; i < d; i++) {
      const y = (n / 10) | 0;
      b[q--] = 0x30 + n - 10 * y;
      n = y;
    }
    this.p += d;
  }

  /** Makes room for `k` more bytes: a new slab, or a buffer of the record's own, the record so far moved there. */
  private room(k: number): void {
    if (this.p + k <= this.buf.length) return;
    const sofar = this.p - this.start;
    const size = sofar + k + 1 <= SLAB_BYTES ? SLAB_BYTES : 2 * (sofar + k + 1);
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, this.start, this.p);
    // A small record starts the next slab; a large one has a buffer of its own, and the slab
    // keeps its free end for the records after it.
    if (size === SLAB_BYTES) {
      this.slab = next;
      this.slabUsed = 0;
    }
    this.buf = next;
    this.start = 0;
    this.p = sofar;
  }
}
