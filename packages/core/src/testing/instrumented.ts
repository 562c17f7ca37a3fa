// A connector wrapper that counts calls and can delay gets, for tests that must prove what a Store or a
// proxy did NOT do (no fetch when a proxy is created, inspected or sent). It forwards every call to a
// real connector; nothing is faked.
import type { Connector, ConnectorConfig, Frames, IoOptions, Key } from '../connector.js';

export interface CallCounts {
  put: number;
  get: number;
  getSync: number;
  exists: number;
  evict: number;
  putBatch: number;
  getBatch: number;
}

export class InstrumentedConnector<K extends Key = Key> implements Connector<K> {
  readonly inner: Connector<K>;
  readonly calls: CallCounts = { put: 0, get: 0, getSync: 0, exists: 0, evict: 0, putBatch: 0, getBatch: 0 };
  readonly getSync?: (key: K) => Uint8Array[] | null;

  constructor(inner: Connector<K>) {
    this.inner = inner;
    const innerGetSync = inner.getSync?.bind(inner);
    if (innerGetSync !== undefined) {
      this.getSync = (key: K) => {
        this.calls.getSync += 1;
        return innerGetSync(key);
      };
    }
  }

  get kind(): string {
    return this.inner.kind;
  }

  /** Total reads of object data, sync or async. */
  get reads(): number {
    return this.calls.get + this.calls.getSync + this.calls.getBatch;
  }

  put(frames: Frames, options?: IoOptions): Promise<K> {
    this.calls.put += 1;
    return this.inner.put(frames, options);
  }

  get(key: K, options?: IoOptions): Promise<Uint8Array[] | null> {
    this.calls.get += 1;
    return this.inner.get(key, options);
  }

  exists(key: K, options?: IoOptions): Promise<boolean> {
    this.calls.exists += 1;
    return this.inner.exists(key, options);
  }

  evict(key: K, options?: IoOptions): Promise<void> {
    this.calls.evict += 1;
    return this.inner.evict(key, options);
  }

  putBatch(items: readonly Frames[], options?: IoOptions): Promise<K[]> {
    this.calls.putBatch += 1;
    return this.inner.putBatch(items, options);
  }

  getBatch(keys: readonly K[], options?: IoOptions): Promise<(Uint8Array[] | null)[]> {
    this.calls.getBatch += 1;
    return this.inner.getBatch(keys, options);
  }

  config(): ConnectorConfig {
    return this.inner.config();
  }

  close(options?: { clear?: boolean }): Promise<void> {
    return this.inner.close(options);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
