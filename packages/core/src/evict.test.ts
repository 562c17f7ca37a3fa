import { describe, expect, it } from 'vitest';
import { evictAll } from './evict.js';

describe('evictAll', () => {
  it('evicts every key, at most `batch` at a time', async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    await evictAll([1, 2, 3, 4, 5, 6, 7], async (k) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 1));
      seen.push(k);
      running--;
    }, 3);
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(peak).toBe(3);
  });

  it('tries every key past failures, then rejects with the first failure', async () => {
    const seen: number[] = [];
    const failed = evictAll([1, 2, 3, 4], async (k) => {
      seen.push(k);
      if (k === 2) throw new Error('two');
      if (k === 4) throw new Error('four');
    }, 2);
    await expect(failed).rejects.toThrow('two');
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('resolves for no keys and refuses a batch that is not a positive integer', async () => {
    await expect(evictAll([], async () => {})).resolves.toBeUndefined();
    await expect(evictAll([1], async () => {}, 0)).rejects.toThrow(RangeError);
  });
});
