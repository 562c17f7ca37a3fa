// Per-store counters: how long each operation took, how many bytes moved, how often the cache answered.
// Cheap enough to stay on by default (a performance.now() pair and a few additions per call).

/** Timings of one operation kind, in milliseconds. */
export interface OperationStats {
  count: number;
  totalMs: number;
  minMs: number;
  maxMs: number;
  lastMs: number;
  /** Serialized bytes moved by this operation (puts and gets), 0 for the others. */
  bytes: number;
}

export interface MetricsSnapshot {
  operations: Record<string, OperationStats>;
  cache: { hits: number; misses: number };
}

export class StoreMetrics {
  readonly #operations = new Map<string, OperationStats>();
  #hits = 0;
  #misses = 0;

  /** Records one completed operation. */
  record(operation: string, ms: number, bytes = 0): void {
    let stats = this.#operations.get(operation);
    if (stats === undefined) {
      stats = { count: 0, totalMs: 0, minMs: Infinity, maxMs: 0, lastMs: 0, bytes: 0 };
      this.#operations.set(operation, stats);
    }
    stats.count += 1;
    stats.totalMs += ms;
    stats.minMs = Math.min(stats.minMs, ms);
    stats.maxMs = Math.max(stats.maxMs, ms);
    stats.lastMs = ms;
    stats.bytes += bytes;
  }

  cacheHit(): void {
    this.#hits += 1;
  }

  cacheMiss(): void {
    this.#misses += 1;
  }

  /** A copy of the counters, safe to keep or send. */
  snapshot(): MetricsSnapshot {
    const operations: Record<string, OperationStats> = {};
    for (const [name, stats] of this.#operations) operations[name] = { ...stats };
    return { operations, cache: { hits: this.#hits, misses: this.#misses } };
  }

  reset(): void {
    this.#operations.clear();
    this.#hits = 0;
    this.#misses = 0;
  }
}
