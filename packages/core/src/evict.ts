// `close({ clear })` in connectors that track what they put: evict every key, a bounded number at a time,
// and go on past failures so that one unreachable object does not keep the rest.

/** How many evictions `evictAll` runs at once by default. */
export const EVICT_ALL_BATCH = 64;

/**
 * Evicts every key with `evict`, at most `batch` at a time, each key once whatever the others do.
 * Resolves once all were tried; rejects with the first failure, if any.
 */
export async function evictAll<K>(keys: Iterable<K>, evict: (key: K) => Promise<void>, batch = EVICT_ALL_BATCH): Promise<void> {
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`evictAll: batch must be a positive integer, not ${batch}`);
  const all = [...keys];
  let failure: { reason: unknown } | undefined;
  for (let i = 0; i < all.length; i += batch) {
    const results = await Promise.allSettled(all.slice(i, i + batch).map((k) => evict(k)));
    for (const r of results) if (r.status === 'rejected') failure ??= { reason: r.reason };
  }
  if (failure !== undefined) throw failure.reason;
}
