// The contract between the Store and a transport. A connector moves frames (serialized bytes) under keys
// it mints; it knows nothing of values, proxies or caching. Every connector package implements this and
// runs the contract test-kit in `@proxystore/core/testing`.

/** JSON data: what keys and configs are made of, so they cross any process boundary unchanged. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

/**
 * A key names one object in one connector. It is plain JSON (never a class instance) so it survives
 * `JSON.stringify`, `postMessage` and IPC; `kind` names the connector kind that minted it.
 */
export interface Key {
  readonly kind: string;
  readonly id: string;
  readonly [field: string]: JsonValue;
}

/** Serialized bytes of one object: frame 0 is the header, the rest are out-of-band buffers. */
export type Frames = readonly Uint8Array[];

/** Options of every I/O call. */
export interface IoOptions {
  /** Aborts the operation; it rejects with the signal's reason and leaves no partial object behind. */
  signal?: AbortSignal;
}

/** Options of the calls that store an object (`put`, `putBatch`, `newKey`, `set`). */
export interface PutOptions extends IoOptions {
  /**
   * Labels for routing: a connector that chooses among several places (MultiConnector) matches them
   * against its policies. Connectors that store in one place ignore them.
   */
  tags?: readonly string[];
}

/** What `config()` returns: enough to build an equivalent connector in another process. */
export interface ConnectorConfig {
  /** The connector kind, as registered with `registerConnector`. */
  kind: string;
  /** The package that registers `kind`, imported by name when a revived reference needs it. */
  package: string;
  /** Constructor options, JSON-safe. */
  options: { [k: string]: JsonValue };
}

export interface CloseOptions {
  /** Also delete every object this connector stored (where the transport can tell which are its own). */
  clear?: boolean;
}

export interface Connector<K extends Key = Key> {
  /** Same as `config().kind`. */
  readonly kind: string;

  /** Stores the frames under a new key. Frames are not retained: the caller may reuse its buffers after. */
  put(frames: Frames, options?: PutOptions): Promise<K>;
  /**
   * The frames stored under `key`, or `null` when there is none. The returned buffers belong to the
   * caller: no other `get` observes them, so the caller may build views over them and mutate them.
   */
  get(key: K, options?: IoOptions): Promise<Uint8Array[] | null>;
  /**
   * `get` without yielding to the event loop, for just-in-time proxy resolution. Optional: without it,
   * `Store.getSync` asks `getLocal`, then reads through the sync bridge (a worker thread runs `get`).
   */
  getSync?(key: K): Uint8Array[] | null;
  /**
   * The frames of `key` when this process itself serves that key (a server or endpoint on this thread's
   * event loop), answered without I/O and without yielding; `null` when it owns the key and the object is
   * gone; `undefined` when it does not own the key. The buffers belong to the caller, as with `get`.
   * Optional, and only for a connector with no `getSync` that also serves data: a synchronous read of a
   * key it serves must not go through the sync bridge, whose worker would ask this thread's server while
   * this thread blocks waiting for it (DESIGN §3).
   */
  getLocal?(key: K): Uint8Array[] | null | undefined;
  exists(key: K, options?: IoOptions): Promise<boolean>;
  /** Removes the object; a missing key is not an error. */
  evict(key: K, options?: IoOptions): Promise<void>;
  /** `evict` without yielding, used after a synchronous resolution of an evict-on-use proxy. Optional. */
  evictSync?(key: K): void;
  /** Like `put` for each item; keys come back in the order of the input. */
  putBatch(items: readonly Frames[], options?: PutOptions): Promise<K[]>;
  /** Like `get` for each key; results come back in the order of the input. */
  getBatch(keys: readonly K[], options?: IoOptions): Promise<(Uint8Array[] | null)[]>;

  /** Mints a key with no object yet (a future); `set` fills it later. Optional. */
  newKey?(options?: PutOptions): Promise<K>;
  /** Stores frames under a key from `newKey`. Optional, present whenever `newKey` is. */
  set?(key: K, frames: Frames, options?: PutOptions): Promise<void>;

  config(): ConnectorConfig;
  /** Releases resources. Idempotent; I/O after close rejects with `ClosedError`. */
  close(options?: CloseOptions): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Builds a connector from the options in its `ConnectorConfig`. */
export type ConnectorFactory = (options: { [k: string]: JsonValue }) => Connector;
