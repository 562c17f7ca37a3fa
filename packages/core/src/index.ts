// @proxystore/core: the Store, the Connector contract, references and the built-in memory and file
// connectors. Transports live in their own packages and register their connector kinds on import.
import { setProxyReviver } from '@proxystore/serialize';
import { registerConnector } from './connector-registry.js';
import { FileConnector } from './connectors/file.js';
import { MemoryConnector } from './connectors/memory.js';
import { MultiConnector } from './connectors/multi.js';
import { fromReference } from './reference.js';

registerConnector('memory', (options) => MemoryConnector.fromConfig(options));
registerConnector('file', (options) => FileConnector.fromConfig(options));
registerConnector('multi', (options) => MultiConnector.fromConfig(options));
// A proxy nested in a deserialized value comes back as a live (unresolved) proxy.
setProxyReviver((reference) => fromReference(reference));

export { Store } from './store.js';
export type {
  GetOptions,
  ProxyFromKeyOptions,
  ProxyOptions,
  StoreCloseOptions,
  StoreConfig,
  StoreOptions,
} from './store.js';
export type {
  CloseOptions,
  Connector,
  ConnectorConfig,
  ConnectorFactory,
  Frames,
  IoOptions,
  JsonValue,
  Key,
  PutOptions,
} from './connector.js';
export {
  connectorFromConfig,
  connectorFromConfigAsync,
  isConnectorRegistered,
  registerConnector,
} from './connector-registry.js';
export { MemoryConnector } from './connectors/memory.js';
export type { MemoryKey } from './connectors/memory.js';
export type { MemoryConnectorOptions } from './connectors/memory.js';
export { FileConnector } from './connectors/file.js';
export type { FileKey } from './connectors/file.js';
export type { FileConnectorOptions } from './connectors/file.js';
export { MultiConnector, MultiPolicyError } from './connectors/multi.js';
export type { MultiChild, MultiConnectorOptions, MultiKey, MultiNewKeyOptions, MultiPolicy } from './connectors/multi.js';
export { assertFrames, assertKey, keyToString, newId } from './key.js';
export { EVICT_ALL_BATCH, evictAll } from './evict.js';
export { StoreMetrics } from './metrics.js';
export type { MetricsSnapshot, OperationStats } from './metrics.js';
export { getOrCreateStore, getStore, registerStore, unregisterStore } from './store-registry.js';
export { REFERENCE_VERSION, StoreFactory, fromReference, toReference } from './reference.js';
export type { ProxyReference } from './reference.js';
export { isProxyStoreMessage, packMessage, unpackMessage } from './message.js';
export type { MessageEncoding, PackMessageOptions, ProxyStoreMessage } from './message.js';
export {
  DEFAULT_SYNC_TIMEOUT_MS,
  getSyncBridgeOptions,
  setSyncBridgeOptions,
  stopSyncBridge,
  syncBridgeGet,
  syncBridgeStats,
} from './sync-bridge.js';
export type { SyncBridgeGetOptions, SyncBridgeOptions, SyncBridgeStats } from './sync-bridge.js';
export {
  ClosedError,
  ConfigError,
  ConnectorError,
  InvalidKeyError,
  InvalidReferenceError,
  NotAStoreProxyError,
  ProxyResolveMissingKeyError,
} from './errors.js';
// Re-exported so users import every error and the proxy helpers they need from one package.
export {
  NonProxiableTypeError,
  ProxyStoreError,
  extract,
  isProxy,
  isResolved,
  resolve,
  resolveAsync,
} from '@proxystore/proxy';
export { SerializationError } from '@proxystore/serialize';
