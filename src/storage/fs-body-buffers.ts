/**
 * The buffers a file store's commit body travels through to its commit thread (fs-threads.ts):
 * shared by both threads and kept for the next commits. A fresh buffer per commit, moved to the
 * thread, meant new pages every time (the thread frees it), and in a VM each page fault is dear
 * (~60 µs of a 70 KiB body's copy). A buffer is named by a number and sent to the thread once;
 * it is free again with its job's answer.
 *
 * At least BODY_BUFFER_MIN bytes, grown to the next power of two. A thread keeps up to
 * BODY_BUFFERS_KEPT free ones of BODY_BUFFERS_KEPT_BYTES in all; others (after many keys' commits
 * were in flight on it at once, or a body past that) are dropped, and the thread is told at once
 * (fs-threads.ts), so a thread pins at most that much once its jobs are answered. While they are
 * in flight, a batch's bodies are held twice (the caller's bytes and the copies). Large buffers
 * are kept too: a bulk push writes segments of about 2 MiB (4 MiB of records at most, plus their
 * header: docs/format.md), and a fresh buffer for each made a 10,000-job `pushMany`'s segment
 * writes slower than the promise calls they replaced (27 ms against 20; 16.5 with reuse).
 */

export interface BodyBuffer {
  id: number;
  buffer: SharedArrayBuffer;
  /** The thread has it (it keeps each buffer it was sent, by id, until a job says to forget it). */
  sent: boolean;
}

/** Where a thread's buffers are: free ones, and the numbers of dropped ones the thread is to let go. */
export interface BodyBuffers {
  free: BodyBuffer[];
  dropped: number[];
}

const BODY_BUFFER_MIN = 64 * 1024;
const BODY_BUFFERS_KEPT = 4;
const BODY_BUFFERS_KEPT_BYTES = 8 * 1024 * 1024;
let nextBufferId = 0;

/** The smallest free buffer of at least `size` bytes (taken out of `free`), or a new one. */
export function takeBuffer(free: BodyBuffer[], size: number): BodyBuffer {
  let best = -1;
  free.forEach((b, i) => {
    if (b.buffer.byteLength >= size && (best < 0 || b.buffer.byteLength < free[best]!.buffer.byteLength)) best = i;
  });
  if (best >= 0) return free.splice(best, 1)[0]!;
  let bytes = BODY_BUFFER_MIN;
  while (bytes < size) bytes *= 2;
  return { id: nextBufferId++, buffer: new SharedArrayBuffer(bytes), sent: false };
}

/** A buffer whose job was answered: free again, or dropped (its number left for the thread to let go). */
export function giveBack(to: BodyBuffers, b: BodyBuffer): void {
  const kept = to.free.reduce((sum, f) => sum + f.buffer.byteLength, 0);
  if (to.free.length < BODY_BUFFERS_KEPT && kept + b.buffer.byteLength <= BODY_BUFFERS_KEPT_BYTES) to.free.push(b);
  else if (b.sent) to.dropped.push(b.id);
}
