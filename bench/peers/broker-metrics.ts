/**
 * What a bucketq broker's GET /metrics (Prometheus text; docs/operations.md) says about the
 * commits of a workload's window: scraped before and after, the difference of
 * `bucketq_commit_duration_seconds` (count, sum and buckets), of `bucketq_commit_requests` (ops
 * per commit), of `bucketq_commit_bytes` (queue.json's size) and of `bucketq_http_requests_total` for the push route, summed over topics.
 *
 * The commit histogram has buckets (1, 2.5, 5, 10, 25 … ms), not samples: its p50 is estimated as
 * Prometheus' histogram_quantile does, linearly within the bucket that holds the median, and the
 * bucket is reported beside it. The mean (sum ÷ count) is exact up to the broker's 1 ms clock.
 */

export interface MetricsScrape {
  commits: number;
  commitSecondsSum: number;
  /** Cumulative counts by upper bound in seconds (+Inf last), summed over topics. */
  commitBuckets: Map<number, number>;
  opsSum: number;
  /** Bytes of queue.json written (bucketq_commit_bytes_sum). */
  bytesSum: number;
  pushRequests: number;
}

/** The commits of one window: the difference of two scrapes. */
export interface CommitStats {
  commits: number;
  /** Ops (requests taken into a batch: pushes, claims, settles …) per commit. */
  opsPerCommit: number;
  /** HTTP requests answered on POST /v1/topics/:topic/jobs in the window. */
  pushRequests: number;
  /** Mean size of queue.json per commit, in bytes. */
  meanBytes: number;
  meanMs: number;
  /** Estimated from the buckets; see the module comment. */
  p50Ms: number;
  /** The bucket holding the median, in ms: [lower, upper]. */
  p50BucketMs: [number, number];
}

function labelsAndValue(line: string): { le?: string; route?: string; value: number } {
  const value = Number(line.slice(line.lastIndexOf(' ') + 1));
  const le = /le="([^"]+)"/.exec(line)?.[1];
  const route = /route="([^"]+)"/.exec(line)?.[1];
  return { ...(le !== undefined ? { le } : {}), ...(route !== undefined ? { route } : {}), value };
}

export function parseMetrics(text: string): MetricsScrape {
  const s: MetricsScrape = { commits: 0, commitSecondsSum: 0, commitBuckets: new Map(), opsSum: 0, bytesSum: 0, pushRequests: 0 };
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const { le, route, value } = labelsAndValue(line);
    if (line.startsWith('bucketq_commit_duration_seconds_bucket{') && le !== undefined) {
      const bound = le === '+Inf' ? Infinity : Number(le);
      s.commitBuckets.set(bound, (s.commitBuckets.get(bound) ?? 0) + value);
    } else if (line.startsWith('bucketq_commit_duration_seconds_count')) s.commits += value;
    else if (line.startsWith('bucketq_commit_duration_seconds_sum')) s.commitSecondsSum += value;
    else if (line.startsWith('bucketq_commit_requests_sum')) s.opsSum += value;
    else if (line.startsWith('bucketq_commit_bytes_sum')) s.bytesSum += value;
    else if (line.startsWith('bucketq_http_requests_total{') && line.includes('method="POST"') && route === '/v1/topics/:topic/jobs') s.pushRequests += value;
  }
  return s;
}

export async function scrapeMetrics(brokerUrl: string): Promise<MetricsScrape> {
  const res = await fetch(`${brokerUrl}/metrics`);
  if (!res.ok) throw new Error(`GET ${brokerUrl}/metrics answered ${res.status}`);
  return parseMetrics(await res.text());
}

/** The median of a cumulative histogram's difference, linear within its bucket (histogram_quantile). */
function medianOf(buckets: Array<[number, number]>, count: number): { ms: number; bucket: [number, number] } {
  const rank = count / 2;
  let lower = 0;
  let below = 0;
  for (const [upper, cumulative] of buckets) {
    if (cumulative >= rank) {
      // Past the last finite bound there is nothing to interpolate towards: say the lower bound.
      if (upper === Infinity) return { ms: lower * 1000, bucket: [lower * 1000, Infinity] };
      const inBucket = cumulative - below;
      const at = inBucket === 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
      return { ms: at * 1000, bucket: [lower * 1000, upper * 1000] };
    }
    lower = upper;
    below = cumulative;
  }
  return { ms: NaN, bucket: [NaN, NaN] };
}

export function commitStats(before: MetricsScrape, after: MetricsScrape): CommitStats {
  const commits = after.commits - before.commits;
  const buckets = [...after.commitBuckets]
    .map(([bound, c]): [number, number] => [bound, c - (before.commitBuckets.get(bound) ?? 0)])
    .sort((a, b) => a[0] - b[0]);
  const median = medianOf(buckets, commits);
  return {
    commits,
    opsPerCommit: commits > 0 ? (after.opsSum - before.opsSum) / commits : 0,
    pushRequests: after.pushRequests - before.pushRequests,
    meanBytes: commits > 0 ? (after.bytesSum - before.bytesSum) / commits : NaN,
    meanMs: commits > 0 ? ((after.commitSecondsSum - before.commitSecondsSum) * 1000) / commits : NaN,
    p50Ms: median.ms,
    p50BucketMs: median.bucket,
  };
}
