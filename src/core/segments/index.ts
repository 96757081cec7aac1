/** The segmented backlog (docs/format.md): pure, no I/O. The broker wires it in a later phase. */
export { Backlog, type Location, type CancelOutcome, type OrderSource, type SegmentSource, type Take } from './backlog.js';
export { backlogFromJobs, loadBacklog } from './backlog-load.js';
export { checkManifest, DEFAULT_LIMITS, emptyManifest, UNSEGMENTED_LIMITS, type BacklogLimits, type BacklogManifest } from './manifest.js';
export { decodeSegment, decodeSegmentFingerprints, decodeSegmentMeta, decodeSegmentRecord, encodeSegment, fingerprintBytes, type DecodedSegment } from './segment-codec.js';
export { isOrphan, parseSegmentKey, segmentKey, segmentPrefix, type CommitStamp } from './segment-keys.js';
export type { PlannedWrite } from './segment-registry.js';
export type { CancelOutcome as BacklogCancel } from './backlog.js';
export { assertBacklogInvariants } from './invariants.js';
export { segmentLookups, type SegmentLookups } from './lookups.js';
