/**
 * Job records written straight into shared byte slabs (job-json.ts, through ByteWriter). A record
 * used to be built as a string (a chain of a dozen concatenations), flattened, measured, then
 * encoded into its own Buffer or into a segment: most of a bulk push's garbage and a tenth of its
 * CPU (profiled). Here each record goes into the slab followed by a newline, so the records of
 * consecutive jobs lie one after another, exactly as a segment holds them (docs/format.md,
 * section 3): a segment copies a run of them in one go.
 *
 * A slab is 8 KiB, Node's own Buffer pool size: a record kept alive keeps its slab alive, as a
 * small Buffer keeps its pool slab, and no more. A record that outgrows a slab gets a buffer of
 * its own. The core is synchronous: one writer serves every record, one at a time.
 */
import { ByteWriter } from './byte-writer.js';

const SLAB_BYTES = 8 * 1024;
const NL = 0x0a;

export class SlabWriter extends ByteWriter {
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

  /**
   * The record so far moves to a new slab, or to a buffer of its own when it would not fit one:
   * then the slab keeps its free end for the records after it.
   */
  protected override grow(k: number): void {
    const need = this.p - this.start + k + 1;
    if (need > SLAB_BYTES) return this.moveTo(Buffer.allocUnsafe(2 * need));
    this.moveTo(Buffer.allocUnsafe(SLAB_BYTES));
    this.slab = this.buf;
    this.slabUsed = 0;
  }
}
