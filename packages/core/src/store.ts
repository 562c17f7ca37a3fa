// The Store: the user-facing API of ProxyStore. It turns values into frames (serialize), hands frames to
// one connector, keeps a cache and metrics, and mints proxies whose factories read the object back just
// in time. It knows no transport: everything below `Connector` is the connector's business.
import { shapeOf, createProxy, type Shape } from '@proxystore/proxy';
import { deserialize, framesByteLength, serialize, type CodecRegistry } from '@proxystore/serialize';
import { performance } from 'node:perf_hooks';
import { debuglog } from 'node:util';
import type { Connector, ConnectorConfig, IoOptions, Key, PutOptions } from './connector.js';
import { connectorFromConfig, connectorFromConfigAsync } from './connector-registry.js';
import { LruCache } from './cache.js';
import { ClosedError, ConfigError } from './errors.js';
import { assertKey, keyToString } from './key.js';
import { StoreMetrics } from './metrics.js';
import { StoreFactory } from './reference.js';
import { registerStore, unregisterStore } from './store-registry.js';
import { checkSyncTimeout, syncBridgeGet } from './sync-bridge.js';

/** Everything needed to re-create an equivalent store in another process. JSON-safe. */
export interface StoreConfig {
  name: string;
  connector: ConnectorConfig;
  cacheSize: number;
  metrics: boolean;
}

export interface StoreOptions {
  /** Objects kept in the LRU cache (by key). 0 turns the cache off. Default 16. */
  cacheSize?: number;
  /** Record per-operation timings, sizes and cache hits. Default true. */
  metrics?: boolean;
  /** Add the store to the process-wide registry under its name (see `registerStore`). Default false. */
  register?: boolean;
  /** Codecs for user classes; default: the process-wide `defaultCodecs` of @proxystore/serialize. */
  codecs?: CodecRegistry;
  /**
   * How long a synchronous read through the sync bridge waits, ms (async-only connectors). Default: the
   * thread's `setSyncBridgeOptions({ timeoutMs })`, 30 s unless set. Not part of `config()`: a store
   * re-created from a reference in another process uses that process's default.
   */
  syncTimeoutMs?: number;
}

export interface GetOptions<D> extends IoOptions {
  /** Returned when the key is missing (instead of `null`). */
  default?: D;
}

export interface ProxyOptions extends PutOptions {
  /** Evict the object from the store once the proxy has resolved it. Default false. */
  evict?: boolean;
  /**
   * `null`, `undefined` and booleans cannot stand behind a proxy. With `true` they are returned as-is
   * (and not stored); by default they throw NonProxiableTypeError.
   */
  skipNonProxiable?: boolean;
}

export interface ProxyFromKeyOptions {
  /** Evict the object once resolved. Default false. */
  evict?: boolean;
  /** The value's shape (typeof/instanceof answers before resolution); default: a plain object. */
  shape?: Shape;
}

export interface StoreCloseOptions {
  /** Also delete every object the connector stored (see the connector's `close`). */
  clear?: boolean;
}

const DEFAULT_CACHE_SIZE = 16;
/** `NODE_DEBUG=proxystore` prints what the store does in the background. */
const debug = debuglog('proxystore');

/** A private copy of frames: what the cache holds, so no two gets ever share memory. */
function copyFrames(frames: readonly Uint8Array[]): Uint8Array[] {
  return frames.map((f) => f.slice());
}

export class Store<K extends Key = Key> {
  readonly name: string;
  readonly connector: Connector<K>;
  readonly metrics: StoreMetrics | undefined;
  readonly #cache: LruCache<string, Uint8Array[]>;
  /** Keys read once and not cached yet: an object enters the cache on its second read (see #cacheStore). */
  readonly #seenOnce: LruCache<string, true>;
  readonly #codecs: CodecRegistry | undefined;
  readonly #syncTimeoutMs: number | undefined;
  /** The connector's config, taken once, when the first read goes through the sync bridge. */
  #bridgeConfig: ConnectorConfig | undefined;
  #closed = false;
  #registered = false;

  constructor(name: string, connector: Connector<K>, options: StoreOptions = {}) {
    if (typeof name !== 'string' || name.length === 0) {
      throw new ConfigError(`A store needs a non-empty name, got ${JSON.stringify(name)}`);
    }
    const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
    if (!Number.isInteger(cacheSize) || cacheSize < 0) {
      throw new ConfigError(`cacheSize must be a non-negative integer, got ${cacheSize}`);
    }
    this.name = name;
    this.connector = connector;
    this.#cache = new LruCache(cacheSize);
    this.#seenOnce = new LruCache(cacheSize * 4);
    this.metrics = options.metrics === false ? undefined : new StoreMetrics();
    this.#codecs = options.codecs;
    this.#syncTimeoutMs =
      options.syncTimeoutMs === undefined ? undefined : checkSyncTimeout(options.syncTimeoutMs, 'syncTimeoutMs');
    if (options.register === true) {
      registerStore(this as unknown as Store);
      this.#registered = true;
    }
  }

  /** Re-creates a store from `config()` output, building its connector synchronously. */
  static fromConfig(config: StoreConfig, options: Omit<StoreOptions, 'cacheSize' | 'metrics'> = {}): Store {
    return new Store(config.name, connectorFromConfig(config.connector), storeOptions(config, options));
  }

  /** Like `fromConfig`, importing the connector's package asynchronously when it is not loaded. */
  static async fromConfigAsync(
    config: StoreConfig,
    options: Omit<StoreOptions, 'cacheSize' | 'metrics'> = {},
  ): Promise<Store> {
    const connector = await connectorFromConfigAsync(config.connector);
    return new Store(config.name, connector, storeOptions(config, options));
  }

  config(): StoreConfig {
    return {
      name: this.name,
      connector: this.connector.config(),
      cacheSize: this.#cache.capacity,
      metrics: this.metrics !== undefined,
    };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Serializes `value` and stores it; returns its key. `tags` reach the connector (see PutOptions). */
  async put(value: unknown, options: PutOptions = {}): Promise<K> {
    this.#checkOpen();
    const start = performance.now();
    const frames = serialize(value, this.#serializeOptions());
    const key = await this.connector.put(frames, options);
    this.metrics?.record('put', performance.now() - start, framesByteLength(frames));
    return key;
  }

  /** Like `put` for each value, in one connector batch; keys in input order. */
  async putBatch(values: readonly unknown[], options: PutOptions = {}): Promise<K[]> {
    this.#checkOpen();
    const start = performance.now();
    const items = values.map((v) => serialize(v, this.#serializeOptions()));
    const keys = await this.connector.putBatch(items, options);
    const bytes = items.reduce((sum, frames) => sum + framesByteLength(frames), 0);
    this.metrics?.record('putBatch', performance.now() - start, bytes);
    return keys;
  }

  /** The value stored under `key`, or `options.default` (else `null`) when it is missing. */
  async get<T = unknown, D = null>(key: K, options: GetOptions<D> = {}): Promise<T | D> {
    this.#checkOpen();
    assertKey(key, this.connector.kind);
    const start = performance.now();
    const cacheKey = this.#cacheKeyOf(key);
    const cached = this.#cacheLookup(cacheKey);
    let frames: Uint8Array[] | null;
    if (cached !== undefined) {
      frames = cached;
    } else {
      frames = await this.connector.get(key, options);
      if (frames !== null) this.#cacheStore(cacheKey, frames);
    }
    options.signal?.throwIfAborted();
    if (frames === null) {
      this.metrics?.record('get', performance.now() - start);
      return ('default' in options ? options.default : null) as D;
    }
    const value = deserialize<T>(frames, this.#deserializeOptions());
    this.metrics?.record('get', performance.now() - start, framesByteLength(frames));
    return value;
  }

  /**
   * `get` without yielding: what a proxy's first access uses. The frames come from, in order: the cache,
   * the connector's `getSync`, its `getLocal` (a key this process serves itself), else the sync bridge (a
   * worker thread runs the connector's async `get` while this thread waits, up to `syncTimeoutMs`; then
   * ConnectorError `SYNC_TIMEOUT`). Returns `undefined` when the key is missing (`null` may be a stored value).
   */
  getSync<T = unknown>(key: K): { value: T } | undefined {
    this.#checkOpen();
    assertKey(key, this.connector.kind);
    const start = performance.now();
    const cacheKey = this.#cacheKeyOf(key);
    let frames: Uint8Array[] | null | undefined = this.#cacheLookup(cacheKey);
    if (frames === undefined) {
      frames = this.#readSync(key);
      if (frames !== null) this.#cacheStore(cacheKey, frames);
    }
    if (frames === null) {
      this.metrics?.record('get', performance.now() - start);
      return undefined;
    }
    const value = deserialize<T>(frames, this.#deserializeOptions());
    this.metrics?.record('get', performance.now() - start, framesByteLength(frames));
    return { value };
  }

  /** The connector's own synchronous read, else its local answer, else the sync bridge (DESIGN §3). */
  #readSync(key: K): Uint8Array[] | null {
    const connector = this.connector;
    if (connector.getSync !== undefined) return connector.getSync(key);
    // Before the bridge: a key this thread serves cannot be answered while this thread waits.
    const local = connector.getLocal?.(key);
    if (local !== undefined) return local;
    this.#bridgeConfig ??= connector.config();
    return syncBridgeGet(
      this.#bridgeConfig,
      key,
      this.#syncTimeoutMs === undefined ? {} : { timeoutMs: this.#syncTimeoutMs },
    );
  }

  async exists(key: K, options: IoOptions = {}): Promise<boolean> {
    this.#checkOpen();
    assertKey(key, this.connector.kind);
    const start = performance.now();
    // The connector is asked even on a cache hit: another process may have evicted the object.
    const found = await this.connector.exists(key, options);
    this.metrics?.record('exists', performance.now() - start);
    return found;
  }

  /** Removes the object (and its cache entry). A missing key is not an error. */
  async evict(key: K, options: IoOptions = {}): Promise<void> {
    this.#checkOpen();
    assertKey(key, this.connector.kind);
    const start = performance.now();
    this.#forget(key);
    await this.connector.evict(key, options);
    this.metrics?.record('evict', performance.now() - start);
  }

  /**
   * `evict` without yielding where the connector allows it (`evictSync`); otherwise started in the
   * background on this thread's connector. An evict-on-use proxy resolved through the sync bridge takes
   * the background path too: a second blocking round trip would double the wait at the access site, and
   * an evict through the bridge of a key this process serves would block on itself. The pending evict
   * keeps the event loop alive, so a consumer that ends by itself still completes it (`process.exit()`
   * right after the access does not wait for it).
   */
  evictSoon(key: K): void {
    this.#forget(key);
    if (this.#closed) return;
    if (this.connector.evictSync !== undefined) {
      this.connector.evictSync(key);
    } else {
      this.connector.evict(key).catch((err: unknown) => {
        // Best effort: the object outlives its proxy, as if `evict` had not been asked for.
        debug('store %s: evict-on-use of %j failed: %s', this.name, key, err);
      });
    }
  }

  /**
   * Stores `value` and returns a proxy to it. The proxy is unresolved: its first use reads the object
   * back through this store, in this process or in any other that receives its reference.
   */
  async proxy<T>(value: T, options: ProxyOptions = {}): Promise<T> {
    if (options.skipNonProxiable === true && isNonProxiable(value)) return value;
    const shape = shapeOf(value);
    const key = await this.put(value, options);
    return this.proxyFromKey<T>(key, { shape, evict: options.evict ?? false });
  }

  /** Like `proxy` for each value, stored in one batch. */
  async proxyBatch<T>(values: readonly T[], options: ProxyOptions = {}): Promise<T[]> {
    const skip = options.skipNonProxiable === true;
    const shapes = values.map((v) => (skip && isNonProxiable(v) ? undefined : shapeOf(v)));
    const stored = values.filter((_, i) => shapes[i] !== undefined);
    const keys = await this.putBatch(stored, options);
    let next = 0;
    return values.map((value, i) => {
      const shape = shapes[i];
      if (shape === undefined) return value;
      const key = keys[next++] as K;
      return this.proxyFromKey<T>(key, { shape, evict: options.evict ?? false });
    });
  }

  /** A proxy to an object already stored under `key`. Nothing is read until the proxy is used. */
  proxyFromKey<T>(key: K, options: ProxyFromKeyOptions = {}): T {
    this.#checkOpen();
    assertKey(key, this.connector.kind);
    const shape = options.shape ?? { type: 'object' };
    const factory = new StoreFactory<T>({ store: this as unknown as Store, key, shape, evict: options.evict ?? false });
    return createProxy<T>(factory, { shape });
  }

  /** Closes the connector and leaves the registry. Idempotent. */
  async close(options: StoreCloseOptions = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cache.clear();
    this.#seenOnce.clear();
    if (this.#registered) unregisterStore(this.name, this as unknown as Store);
    await this.connector.close(options);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError(`Store '${this.name}'`);
  }

  /** The cache's key for `key`; undefined when the cache is off, so that path builds no string. */
  #cacheKeyOf(key: K): string | undefined {
    return this.#cache.capacity === 0 ? undefined : keyToString(key);
  }

  #forget(key: K): void {
    const cacheKey = this.#cacheKeyOf(key);
    if (cacheKey === undefined) return;
    this.#cache.delete(cacheKey);
    this.#seenOnce.delete(cacheKey);
  }

  #cacheLookup(cacheKey: string | undefined): Uint8Array[] | undefined {
    if (cacheKey === undefined) return undefined;
    const cached = this.#cache.get(cacheKey);
    if (cached === undefined) {
      this.metrics?.cacheMiss();
      return undefined;
    }
    this.metrics?.cacheHit();
    return copyFrames(cached);
  }

  /**
   * Caching costs a copy of the object (so no two gets share memory), and most objects are read once: a
   * proxy resolves once. So the first read only remembers the key, and the second read caches the object;
   * single-use reads, whatever their size, pay nothing for the cache.
   */
  #cacheStore(cacheKey: string | undefined, frames: readonly Uint8Array[]): void {
    if (cacheKey === undefined) return;
    if (!this.#seenOnce.has(cacheKey)) {
      this.#seenOnce.set(cacheKey, true);
      return;
    }
    this.#seenOnce.delete(cacheKey);
    this.#cache.set(cacheKey, copyFrames(frames));
  }

  #serializeOptions(): { codecs?: CodecRegistry } {
    return this.#codecs === undefined ? {} : { codecs: this.#codecs };
  }

  #deserializeOptions(): { codecs?: CodecRegistry } {
    return this.#serializeOptions();
  }
}

function storeOptions(config: StoreConfig, options: Omit<StoreOptions, 'cacheSize' | 'metrics'>): StoreOptions {
  return { ...options, cacheSize: config.cacheSize, metrics: config.metrics };
}

function isNonProxiable(value: unknown): boolean {
  return value === null || value === undefined || typeof value === 'boolean';
}
