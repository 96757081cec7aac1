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
  /** The last number written by its text, and that text. */
  private lastNum = 0;
  private lastText = '0';

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
    const n = typeof s === 'string' ? s.length : LOOP_MAX + 1;
    if (n <= LOOP_MAX) {
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
      return this.digits(n);
    }
    if (typeof n !== 'number') return this.text(`${n}`);
    // Any other number (epoch milliseconds mostly) by its text, kept for the next: a record's due,
    // created and updated times, and a segment's column of due times, are mostly one `now`.
    if (n !== this.lastNum) {
      this.lastNum = n;
      this.lastText = `${n}`;
    }
    this.ascii(this.lastText);
  }

  /** A number as JSON writes it: its text when finite, `null` otherwise (NaN, ±Infinity). */
  jsonNumber(v: number): void {
    if (Number.isFinite(v)) this.num(v);
    else this.ascii('null');
  }

  /** The decimal digits of 0 ≤ n ≤ 2^31. */
  private digits(n: number): void {
    let d = 1;
    for (let x = n; x >= 10; x = (x / 10) | 0) d++;
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
