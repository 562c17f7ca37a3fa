// Errors of the store layer. Every class extends ProxyStoreError (from @proxystore/proxy) and carries a
// stable `code`; re-exported here so users of core import every error from one place.
import { ProxyStoreError, type ProxyStoreErrorOptions } from '@proxystore/proxy';

/**
 * A transport failed: I/O error, server gone, timeout. `cause` holds the underlying error. Codes of core
 * (transports add their own):
 * - `CONNECTOR_ERROR`: the default.
 * - `SYNC_UNSUPPORTED`: a synchronous read that nothing can serve: the connector has no `getSync`, and the
 *   sync bridge cannot build it from its config (its package does not register it in a worker thread).
 * - `SYNC_TIMEOUT`: no answer from the sync bridge within the timeout (`setSyncBridgeOptions`).
 * - `SYNC_BRIDGE_FAILED`: the sync bridge's worker stopped before answering; the next read starts another.
 * - `SYNC_BRIDGE_REMOTE_ERROR`: the connector threw something other than a ProxyStore error in the bridge
 *   worker; the message is the original's, and `cause` the original, rebuilt.
 */
export class ConnectorError extends ProxyStoreError {
  static readonly code = 'CONNECTOR_ERROR';

  constructor(message: string, options?: ProxyStoreErrorOptions & { code?: string }) {
    super(options?.code ?? ConnectorError.code, message, options);
  }
}

/** A key that is not the plain JSON `{ kind, id, ... }` a connector expects. */
export class InvalidKeyError extends ProxyStoreError {
  static readonly code = 'INVALID_KEY';

  constructor(message: string, options?: ProxyStoreErrorOptions) {
    super(InvalidKeyError.code, message, options);
  }
}

/** A proxy's object is gone from its store. Thrown at the access site that needed the value. */
export class ProxyResolveMissingKeyError extends ProxyStoreError {
  static readonly code = 'PROXY_RESOLVE_MISSING_KEY';
  readonly storeName: string;
  readonly key: unknown;

  constructor(storeName: string, key: unknown, options?: ProxyStoreErrorOptions) {
    super(
      ProxyResolveMissingKeyError.code,
      `Proxy cannot resolve: key ${JSON.stringify(key)} is missing from store '${storeName}'`,
      options,
    );
    this.storeName = storeName;
    this.key = key;
  }
}

/** Bad configuration: an unknown connector kind, a store name already taken, an option out of range. */
export class ConfigError extends ProxyStoreError {
  static readonly code = 'CONFIG_ERROR';

  constructor(message: string, options?: ProxyStoreErrorOptions & { code?: string }) {
    super(options?.code ?? ConfigError.code, message, options);
  }
}

/** An operation on a store or connector after `close()`. */
export class ClosedError extends ProxyStoreError {
  static readonly code = 'CLOSED';

  constructor(what: string) {
    super(ClosedError.code, `${what} is closed`);
  }
}

/** Data that claims to be a proxy reference but is not one this build can revive. */
export class InvalidReferenceError extends ProxyStoreError {
  static readonly code = 'INVALID_REFERENCE';

  constructor(message: string, options?: ProxyStoreErrorOptions) {
    super(InvalidReferenceError.code, message, options);
  }
}

/** `toReference` of something that is not a store proxy (a plain value, or a proxy of another factory). */
export class NotAStoreProxyError extends ProxyStoreError {
  static readonly code = 'NOT_A_STORE_PROXY';

  constructor(message: string, options?: ProxyStoreErrorOptions) {
    super(NotAStoreProxyError.code, message, options);
  }
}
