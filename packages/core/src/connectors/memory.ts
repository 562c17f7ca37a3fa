// The in-process connector: objects live in this process's memory, in a named segment that every
// MemoryConnector built from the same config shares, so a reference revived in this process (a Store
// re-created from its config) reads what the original store put. Nothing leaves the process.
import { joinFrames, unpackFrames } from '@proxystore/serialize';
import type {
  CloseOptions,
  Connector,
  ConnectorConfig,
  Frames,
  IoOptions,
  JsonValue,
  Key,
} from '../connector.js';
import { ClosedError, ConfigError, InvalidKeyError } from '../errors.js';
import { assertFrames, assertKey, newId } from '../key.js';

export interface MemoryConnectorOptions {
  /**
   * The segment to attach to. Connectors with the same segment in one process share their objects.
   * Defaults to a fresh random name, i.e. a private store.
   */
  segment?: string;
}

export interface MemoryKey extends Key {
  readonly kind: 'memory';
  readonly segment: string;
}

interface Segment {
  /** Each object is its packed encoding in one allocation that only this map references. */
  readonly objects: Map<string, Uint8Array>;
  /** Open connectors attached to this segment; at zero the segment and its objects are dropped. */
  attached: number;
}

// Kept on globalThis under a registered symbol so that two copies of this package loaded in one
// process (a bundled and an installed one, say) still share segments.
const SEGMENTS_SYMBOL = Symbol.for('proxystore.memory.segments');
const globalSlot = globalThis as { [SEGMENTS_SYMBOL]?: Map<string, Segment> };
const segments: Map<string, Segment> = (globalSlot[SEGMENTS_SYMBOL] ??= new Map());

/** One copy of the frames into a buffer this connector owns, 64-byte aligned like any packed object. */
function packedCopy(frames: Frames): Uint8Array {
  assertFrames(frames);
  return joinFrames(frames);
}

export class MemoryConnector implements Connector<MemoryKey> {
  static readonly kind = 'memory';
  readonly kind = MemoryConnector.kind;
  readonly segment: string;
  #segment: Segment;
  #closed = false;

  constructor(options: MemoryConnectorOptions = {}) {
    if (options.segment !== undefined && (typeof options.segment !== 'string' || options.segment === '')) {
      throw new ConfigError(`MemoryConnector segment must be a non-empty string`);
    }
    this.segment = options.segment ?? newId();
    let segment = segments.get(this.segment);
    if (segment === undefined) {
      segment = { objects: new Map(), attached: 0 };
      segments.set(this.segment, segment);
    }
    segment.attached++;
    this.#segment = segment;
  }

  /** Attaches to the segment named in `options` (from `config().options`). */
  static fromConfig(options: { [k: string]: JsonValue }): MemoryConnector {
    const { segment } = options;
    if (segment !== undefined && typeof segment !== 'string') {
      throw new ConfigError(`MemoryConnector config: 'segment' must be a string, got ${typeof segment}`);
    }
    return new MemoryConnector(segment === undefined ? {} : { segment });
  }

  #open(options?: IoOptions): void {
    if (this.#closed) throw new ClosedError(`MemoryConnector (segment '${this.segment}')`);
    options?.signal?.throwIfAborted();
  }

  #checkKey(key: unknown): asserts key is MemoryKey {
    assertKey(key, MemoryConnector.kind);
    // A key from another segment is well formed but names an object this connector cannot see; saying
    // so beats answering `null`, which would read as "evicted".
    if (key.segment !== this.segment) {
      throw new InvalidKeyError(
        `Memory key of segment ${JSON.stringify(key.segment)} given to a connector on '${this.segment}'`,
      );
    }
  }

  #key(): MemoryKey {
    return { kind: 'memory', id: newId(), segment: this.segment };
  }

  #read(key: MemoryKey): Uint8Array[] | null {
    const stored = this.#segment.objects.get(key.id);
    // slice() copies into a fresh ArrayBuffer: the caller owns it, and frames stay 64-byte aligned.
    return stored === undefined ? null : unpackFrames(stored.slice());
  }

  async put(frames: Frames, options?: IoOptions): Promise<MemoryKey> {
    this.#open(options);
    const key = this.#key();
    this.#segment.objects.set(key.id, packedCopy(frames));
    return key;
  }

  async get(key: MemoryKey, options?: IoOptions): Promise<Uint8Array[] | null> {
    this.#open(options);
    this.#checkKey(key);
    return this.#read(key);
  }

  getSync(key: MemoryKey): Uint8Array[] | null {
    this.#open();
    this.#checkKey(key);
    return this.#read(key);
  }

  async exists(key: MemoryKey, options?: IoOptions): Promise<boolean> {
    this.#open(options);
    this.#checkKey(key);
    return this.#segment.objects.has(key.id);
  }

  async evict(key: MemoryKey, options?: IoOptions): Promise<void> {
    this.#open(options);
    this.#checkKey(key);
    this.#segment.objects.delete(key.id);
  }

  evictSync(key: MemoryKey): void {
    this.#open();
    this.#checkKey(key);
    this.#segment.objects.delete(key.id);
  }

  async putBatch(items: readonly Frames[], options?: IoOptions): Promise<MemoryKey[]> {
    this.#open(options);
    // Copy everything before storing anything, so a bad item leaves no part of the batch behind.
    const copies = items.map(packedCopy);
    return copies.map((copy) => {
      const key = this.#key();
      this.#segment.objects.set(key.id, copy);
      return key;
    });
  }

  async getBatch(keys: readonly MemoryKey[], options?: IoOptions): Promise<(Uint8Array[] | null)[]> {
    this.#open(options);
    for (const key of keys) this.#checkKey(key);
    return keys.map((key) => this.#read(key));
  }

  async newKey(options?: IoOptions): Promise<MemoryKey> {
    this.#open(options);
    return this.#key();
  }

  async set(key: MemoryKey, frames: Frames, options?: IoOptions): Promise<void> {
    this.#open(options);
    this.#checkKey(key);
    this.#segment.objects.set(key.id, packedCopy(frames));
  }

  config(): ConnectorConfig {
    return { kind: MemoryConnector.kind, package: '@proxystore/core', options: { segment: this.segment } };
  }

  /**
   * Detaches from the segment; the last connector to detach drops it. `clear` drops the segment's
   * objects now, for every connector attached to it.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    if (options.clear === true) this.#segment.objects.clear();
    if (this.#closed) return;
    this.#closed = true;
    this.#segment.attached--;
    // Only remove the map entry if it is still ours: a cleared-and-dropped name may have been reused.
    if (this.#segment.attached === 0 && segments.get(this.segment) === this.#segment) {
      segments.delete(this.segment);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
