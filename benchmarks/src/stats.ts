// Pure statistics over latency samples (milliseconds), shared by every suite and report. Kept free of
// tinybench and I/O so it is unit-tested on its own and reused by later report formats (Markdown, plots).

/** Summary of one measured task. Times are in milliseconds per operation. */
export interface Summary {
  samples: number;
  min: number;
  max: number;
  mean: number;
  median: number;
  p99: number;
}

/** Arithmetic mean; NaN for no samples. */
export function mean(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  let sum = 0;
  for (const s of samples) sum += s;
  return sum / samples.length;
}

/**
 * The q-quantile (0 ≤ q ≤ 1) with linear interpolation between closest ranks (numpy's default, R type 7):
 * rank h = (n - 1) q, value = x[⌊h⌋] + (h - ⌊h⌋)(x[⌊h⌋+1] - x[⌊h⌋]). NaN for no samples. Input need
 * not be sorted and is not modified.
 */
export function quantile(samples: readonly number[], q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile q must be in [0, 1], got ${q}`);
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return quantileSorted(sorted, q);
}

function quantileSorted(sorted: readonly number[], q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (h - lo) * (b - a);
}

export function median(samples: readonly number[]): number {
  return quantile(samples, 0.5);
}

/** 99th percentile. With fewer than ~100 samples this is close to the maximum: read it as a tail bound. */
export function p99(samples: readonly number[]): number {
  return quantile(samples, 0.99);
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new RangeError('Cannot summarize zero samples');
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
    mean: mean(sorted),
    median: quantileSorted(sorted, 0.5),
    p99: quantileSorted(sorted, 0.99),
  };
}

/** Operations per second for a per-operation time in milliseconds. */
export function opsPerSecond(ms: number): number {
  return ms > 0 ? 1000 / ms : Number.POSITIVE_INFINITY;
}

/** Throughput in GB/s (10^9 bytes per second) for `bytes` moved in `ms` milliseconds. */
export function gbPerSecond(bytes: number, ms: number): number {
  if (bytes < 0 || !Number.isFinite(bytes)) throw new RangeError(`bytes must be a finite non-negative number, got ${bytes}`);
  if (ms <= 0) return Number.POSITIVE_INFINITY;
  return bytes / (ms / 1000) / 1e9;
}

/**
 * subject / baseline for times: 1 means "as fast as the raw baseline", 2 means twice as slow, 0.5 twice
 * as fast. NaN when the baseline is not a positive number (a ratio to zero says nothing).
 */
export function ratio(subject: number, baseline: number): number {
  if (!(baseline > 0) || !Number.isFinite(subject)) return Number.NaN;
  return subject / baseline;
}
