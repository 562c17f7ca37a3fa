// The process-wide registry of stores by name. A revived reference looks its store up here and, when
// the name is unknown in this process, re-creates the store from the config the reference carries.
import { ConfigError } from './errors.js';
import { Store, type StoreConfig } from './store.js';

const stores = new Map<string, Store>();

/** Registers `store` under its name. Another open store of the same name is a ConfigError. */
export function registerStore(store: Store, options: { replace?: boolean } = {}): void {
  const existing = stores.get(store.name);
  if (existing !== undefined && existing !== store && !existing.closed && options.replace !== true) {
    throw new ConfigError(`A store named '${store.name}' is already registered`, { code: 'STORE_EXISTS' });
  }
  stores.set(store.name, store);
}

/** The open store registered under `name`, if any. */
export function getStore(name: string): Store | undefined {
  const store = stores.get(name);
  if (store?.closed === true) {
    stores.delete(name);
    return undefined;
  }
  return store;
}

/** Removes `name` from the registry (only if it still maps to `store`, when one is given). */
export function unregisterStore(name: string, store?: Store): void {
  if (store === undefined || stores.get(name) === store) stores.delete(name);
}

/**
 * The store named in `config`: the registered one, else a new one built from the config (synchronously,
 * so a proxy can resolve in the middle of a property access) and registered for the next reference.
 */
export function getOrCreateStore(config: StoreConfig): Store {
  const existing = getStore(config.name);
  if (existing !== undefined) return existing;
  const store = Store.fromConfig(config);
  registerStore(store);
  return store;
}
