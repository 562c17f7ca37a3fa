import { describe, expect, it } from 'vitest';
import { gbPerSecond, mean, median, opsPerSecond, p99, quantile, ratio, summarize } from './stats.js';

describe('mean', () => {
  it('averages the samples', () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
  });
  it('is NaN for no samples', () => {
    expect(mean([])).toBeNaN();
  });
});

describe('median', () => {
  it('is the middle sample of an odd count, whatever the input order', () => {
    expect(median([5, 1, 3])).toBe(3);
  });
  it('is the midpoint of the two middle samples of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
  it('does not reorder the caller’s array', () => {
    const samples = [3, 1, 2];
    median(samples);
    expect(samples).toEqual([3, 1, 2]);
  });
});

describe('quantile and p99', () => {
  it('interpolates linearly between closest ranks (numpy default)', () => {
    // ranks 0..100 for the values 0..100: the q-quantile is 100 q.
    const samples = Array.from({ length: 101 }, (_, i) => i);
    expect(quantile(samples, 0.25)).toBe(25);
    expect(p99(samples)).toBe(99);
    // h = (4 - 1) * 0.99 = 2.97 → 30 + 0.97 * (40 - 30)
    expect(p99([10, 20, 30, 40])).toBeCloseTo(39.7, 10);
  });
  it('gives the extremes at q = 0 and q = 1, and the sample itself for one sample', () => {
    expect(quantile([3, 9, 1], 0)).toBe(1);
    expect(quantile([3, 9, 1], 1)).toBe(9);
    expect(p99([7])).toBe(7);
  });
  it('rejects q outside [0, 1]', () => {
    expect(() => quantile([1], 1.5)).toThrow(RangeError);
    expect(() => quantile([1], Number.NaN)).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('reports count, extremes, mean, median and p99 of the samples', () => {
    expect(summarize([4, 2, 8, 6])).toEqual({
      samples: 4,
      min: 2,
      max: 8,
      mean: 5,
      median: 5,
      p99: quantile([2, 4, 6, 8], 0.99),
    });
  });
  it('refuses an empty sample set', () => {
    expect(() => summarize([])).toThrow(RangeError);
  });
});

describe('throughput', () => {
  it('converts a per-operation time in ms to operations per second', () => {
    expect(opsPerSecond(0.5)).toBe(2000);
    expect(opsPerSecond(0)).toBe(Number.POSITIVE_INFINITY);
  });
  it('gives GB/s in decimal gigabytes', () => {
    expect(gbPerSecond(1e9, 1000)).toBe(1);
    expect(gbPerSecond(64 * 2 ** 20, 10)).toBeCloseTo(6.7108864, 10);
    expect(gbPerSecond(1, 0)).toBe(Number.POSITIVE_INFINITY);
  });
  it('rejects a negative byte count', () => {
    expect(() => gbPerSecond(-1, 1)).toThrow(RangeError);
  });
});

describe('ratio', () => {
  it('is subject over baseline: above 1 is slower than the baseline', () => {
    expect(ratio(3, 1.5)).toBe(2);
    expect(ratio(1, 4)).toBe(0.25);
  });
  it('is NaN when the baseline is zero or not a number', () => {
    expect(ratio(1, 0)).toBeNaN();
    expect(ratio(1, Number.NaN)).toBeNaN();
    expect(ratio(Number.POSITIVE_INFINITY, 1)).toBeNaN();
  });
});
