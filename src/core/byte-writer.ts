/**
 * JSON text written piece by piece straight into a buffer as UTF-8, without making the text as a
 * string first: ASCII (field names, punctuation, numbers, plain ids) by a loop, other text by
 * Buffer#utf8Write. A string built by concatenation is a chain of cons strings, flattened and then
 * encoded: garbage and two more passes over its bytes. Job records (slab-writer.ts) and a
 * segment's header (segments/segment-codec.ts) are written this way.
 */

/** A string longer than this is encoded by Buffer#utf8Write (one native call) rather than a loop. */
const LOOP_MAX = 96;

/** Buffer's own UTF-8 writer, which Buffer#write calls after normalising its arguments (profiled: the normalising cost more). */
type Utf8Writer = Buffer & { utf8Write(text: string, offset: number): number };

/** Writes into one buffer, grown (the bytes so far copied) when it is full. */
export class ByteWriter {
  /** Where the bytes go. */
  buf: Buffer = Buffer.allocUnsafe(0);
  /** The first byte of what is being written in `buf`. */
  start = 0;
  /** The next byte to write. */
  protected p = 0;

  /** Bytes written since `start`. */
  get length(): number {
    return this.p - this.start;
  }

  /** Starts again at the beginning of the buffer (its bytes are the caller's until then). */
  reset(): void {
    this.start = this.p = 0;
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

  /** Makes room for `k` more bytes. */
  protected room(k: number): void {
    if (this.p + k > this.buf.length) this.grow(k);
  }

  /** A larger buffer, the bytes written since `start` moved to its beginning. */
  protected grow(k: number): void {
    this.moveTo(Buffer.allocUnsafe(Math.max(1024, 2 * (this.p - this.start + k))));
  }

  protected moveTo(next: Buffer): void {
    const sofar = this.p - this.start;
    this.buf.copy(next, 0, this.start, this.p);
    this.buf = next;
    this.start = 0;
    this.p = sofar;
  }
}
