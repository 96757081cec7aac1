/**
 * Segment object names and the orphan rule (docs/format.md, sections 3 and 4).
 *
 *   segments/<topic>/<epoch:10>-<seq:12>-<nonce:8 hex>-<i>.seg
 *
 * epoch and seq are the leader's and the commit's that will name the segment; the nonce is made
 * for each attempt at that commit, so a re-applied batch never writes a name already written.
 */

/** Who writes the segments of one commit attempt: an input of the pure core, made before apply. */
export interface CommitStamp {
  epoch: number;
  seq: number;
  /** 8 hex digits, random per attempt. */
  nonce: string;
}

export function segmentPrefix(topic: string): string {
  return `segments/${topic}/`;
}

export function segmentKey(topic: string, stamp: CommitStamp, i: number): string {
  return `${segmentPrefix(topic)}${String(stamp.epoch).padStart(10, '0')}-${String(stamp.seq).padStart(12, '0')}-${stamp.nonce}-${i}.seg`;
}

const NAME = /^segments\/[^/]+\/(\d{10})-(\d{12})-([0-9a-f]{8})-(\d+)\.seg$/;

export function parseSegmentKey(key: string): { epoch: number; seq: number; nonce: string; i: number } | undefined {
  const m = NAME.exec(key);
  return m ? { epoch: Number(m[1]), seq: Number(m[2]), nonce: m[3]!, i: Number(m[4]) } : undefined;
}

export interface OrphanContext {
  /** Keys the landed head names (the manifest) and its garbage list. */
  referenced: ReadonlySet<string>;
  /** Keys of the leader's commit attempt in flight (written, not yet named). */
  inFlight: ReadonlySet<string>;
  /** The leader's epoch and the seq of its last landed commit. */
  epoch: number;
  landedSeq: number;
}

/**
 * Whether a listed key is an orphan: no landed head names it and no commit can name it any more.
 * Every head descends from the ones before, so a key that a landed head neither names nor lists as
 * garbage, written at or below the leader's (epoch, landed seq) and not in flight, is never named
 * again. A key from a later epoch is a newer leader's: never an orphan to us. Unknown names are
 * left alone. The caller deletes an orphan only when a second listing, a lease or more later,
 * still finds it one.
 */
export function isOrphan(key: string, c: OrphanContext): boolean {
  if (c.referenced.has(key) || c.inFlight.has(key)) return false;
  const k = parseSegmentKey(key);
  if (!k) return false;
  if (k.epoch > c.epoch) return false;
  return k.epoch < c.epoch || k.seq <= c.landedSeq;
}
