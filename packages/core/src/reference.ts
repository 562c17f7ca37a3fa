// The factory behind every store proxy: it names an object (store + key) and reads it back on demand.
// Its `toReference()` is what crosses process boundaries; `fromReference` turns that back into a proxy
// whose store is found or re-created lazily, at first use, in the receiving process.
import { createProxy, getFactory, isProxy, type ProxyFactory, type Shape } from '@proxystore/proxy';
import type { Key } from './connector.js';
import { InvalidReferenceError, NotAStoreProxyError, ProxyResolveMissingKeyError } from './errors.js';
import type { Store, StoreConfig } from './store.js';
import { getOrCreateStore } from './store-registry.js';

/** Version of the reference layout; bumped when a field changes meaning. */
export const REFERENCE_VERSION = 1;

/**
 * A proxy in transit: JSON-safe and small (its size does not depend on the value's size). Send it over
 * any channel; `fromReference` in the receiving process gives back an unresolved proxy.
 */
export interface ProxyReference {
  proxystore: typeof REFERENCE_VERSION;
  store: StoreConfig;
  key: Key;
  shape: Shape;
  evict: boolean;
}

interface FactoryInit {
  store?: Store;
  config?: StoreConfig;
  key: Key;
  shape: Shape;
  evict: boolean;
}

export class StoreFactory<T> implements ProxyFactory<T> {
  readonly key: Key;
  readonly shape: Shape;
  readonly evict: boolean;
  #store: Store | undefined;
  // Taken from the store only when needed (a reference, a re-created store): most proxies never leave
  // the process, and building a config per proxy would double the cost of making one.
  #config: StoreConfig | undefined;

  constructor(init: FactoryInit) {
    if (init.store === undefined && init.config === undefined) {
      throw new TypeError('StoreFactory needs a store or a store config');
    }
    this.key = init.key;
    this.shape = init.shape;
    this.evict = init.evict;
    this.#store = init.store;
    this.#config = init.config;
  }

  get storeName(): string {
    return this.#store?.name ?? this.#storeConfig().name;
  }

  #storeConfig(): StoreConfig {
    this.#config ??= (this.#store as Store).config();
    return this.#config;
  }

  /** The store to read from: the one given, else the registered (or re-created) store of that name. */
  store(): Store {
    if (this.#store === undefined || this.#store.closed) this.#store = getOrCreateStore(this.#storeConfig());
    return this.#store;
  }

  resolveSync(): T {
    const store = this.store();
    const found = store.getSync<T>(this.key);
    if (found === undefined) throw new ProxyResolveMissingKeyError(store.name, this.key);
    if (this.evict) store.evictSoon(this.key);
    return found.value;
  }

  async resolve(): Promise<T> {
    const store = this.store();
    const missing = Symbol('missing');
    const value = await store.get<T, typeof missing>(this.key, { default: missing });
    if (value === missing) throw new ProxyResolveMissingKeyError(store.name, this.key);
    if (this.evict) await store.evict(this.key);
    return value;
  }

  describe(): string {
    return `store '${this.storeName}', key ${JSON.stringify(this.key)}`;
  }

  toReference(): ProxyReference {
    return {
      proxystore: REFERENCE_VERSION,
      store: this.#storeConfig(),
      key: this.key,
      shape: this.shape,
      evict: this.evict,
    };
  }
}

/** Checks that `value` is a ProxyReference, naming the first thing wrong. */
export function assertReference(value: unknown): asserts value is ProxyReference {
  const fail = (what: string): never => {
    throw new InvalidReferenceError(`Not a proxy reference: ${what}`);
  };
  if (typeof value !== 'object' || value === null) fail(`expected an object, got ${value === null ? 'null' : typeof value}`);
  const ref = value as Partial<ProxyReference>;
  if (ref.proxystore !== REFERENCE_VERSION) fail(`unsupported version ${JSON.stringify(ref.proxystore)}`);
  const store = ref.store as Partial<StoreConfig> | undefined;
  if (typeof store !== 'object' || store === null || typeof store.name !== 'string') fail('store config missing');
  const connector = store?.connector;
  if (typeof connector !== 'object' || connector === null || typeof connector.kind !== 'string') {
    fail('connector config missing');
  }
  if (typeof ref.key !== 'object' || ref.key === null) fail('key missing');
  if (typeof ref.shape !== 'object' || ref.shape === null || typeof ref.shape.type !== 'string') fail('shape missing');
  if (typeof ref.evict !== 'boolean') fail('evict flag missing');
}

/** An unresolved proxy from a reference. The store is found or re-created only when the proxy is used. */
export function fromReference<T = unknown>(reference: ProxyReference | unknown): T {
  assertReference(reference);
  const factory = new StoreFactory<T>({
    config: reference.store,
    key: reference.key,
    shape: reference.shape,
    evict: reference.evict,
  });
  return createProxy<T>(factory, { shape: reference.shape });
}

/** The reference of a store proxy, for sending it to another thread or process. Never resolves it. */
export function toReference(proxy: unknown): ProxyReference {
  if (!isProxy(proxy)) throw new NotAStoreProxyError('toReference() needs a proxy made by a Store');
  const factory = getFactory(proxy);
  if (!(factory instanceof StoreFactory)) {
    throw new NotAStoreProxyError('toReference() needs a proxy made by a Store, not by a custom factory');
  }
  return factory.toReference();
}
