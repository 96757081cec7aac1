/**
 * Whether a run exercised segmented topics (docs/format.md): queue.json is read from the store
 * now and then during the run and the drain, and the report says how many distinct segment
 * objects its heads named and the most jobs waiting in segments at once. A run with the small
 * default bounds that never used a segment tested less than it claims; run.ts says so.
 */
import type { BacklogManifest } from '../src/core/segments/manifest.js';
import { manifestOf, readQueueJson } from './final-store.js';

export interface SegmentUse {
  /** Distinct segment objects named by any head read. */
  segments: number;
  /** Most jobs (pending + delayed, not cancelled) waiting in segments in one read. */
  maxJobs: number;
  /** Heads read. */
  samples: number;
}

export class SegmentWatch {
  private readonly keys = new Set<string>();
  private maxJobs = 0;
  private samples = 0;
  private timer: NodeJS.Timeout | null = null;
  private reading = false;

  constructor(private readonly store: string, private readonly topic: string, private readonly everyMs = 500) {}

  start(): void {
    this.timer = setInterval(() => void this.sample(), this.everyMs);
  }

  /** One read of the head by the watch's own timer (during the run). */
  async sample(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      const m = manifestOf(await readQueueJson(this.store, this.topic), this.topic);
      if (m) this.observe(m);
    } catch {
      // A head caught mid-rename or a store fault: the next sample reads it.
    } finally {
      this.reading = false;
    }
  }

  /** Counts a manifest read by anyone: the timer's samples, and the drain's polls (which read the head anyway). */
  observe(m: BacklogManifest): void {
    this.samples++;
    for (const ref of [...m.ready, ...m.delayed]) this.keys.add(ref.key);
    this.maxJobs = Math.max(this.maxJobs, m.counts.pending + m.counts.delayed);
  }

  /** Stops the timer; the drain's polls go on calling observe(). */
  pause(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  stop(): SegmentUse {
    this.pause();
    return { segments: this.keys.size, maxJobs: this.maxJobs, samples: this.samples };
  }
}
