/**
 * Milliseconds on CLOCK_MONOTONIC (libuv's hrtime), with sub-ms precision: one clock for every
 * process on the machine, so a time taken in one process and a time taken in another subtract.
 *
 * The benchmarks that time a push in one process and its handler's start in another (W4) used
 * `performance.timeOrigin + performance.now()`, the wall clock as each process saw it when it
 * started. A wall clock that drifts against the monotonic one (24–33 ppm on this VM on
 * 2026-12-07) or is stepped puts processes started minutes apart that far apart: a run's W4
 * figures came out at -15 to -17 ms for every system. CLOCK_MONOTONIC is one count for all.
 */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;
