// The one error base class of the project. It lives in the lowest package so that every layer above
// (serialize, core, transports) throws errors a caller can handle by one `instanceof` or by `code`.

/** Options accepted by every ProxyStore error. */
export interface ProxyStoreErrorOptions {
  /** The underlying failure, kept for diagnosis (`err.cause`). */
  cause?: unknown;
}

/**
 * Base class of every error ProxyStore throws. `code` is a stable string a caller may switch on; it does
 * not change between releases even when the message does.
 */
export class ProxyStoreError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: ProxyStoreErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    // Subclasses keep their own name without restating it, so stack traces and `util.inspect` show it.
    this.name = new.target.name;
  }

  /**
   * True for any ProxyStore error, including one from another copy of this package or another realm
   * (a worker thread, a `vm` context), where `instanceof` fails.
   */
  static isProxyStoreError(value: unknown): value is ProxyStoreError {
    if (value instanceof ProxyStoreError) return true;
    return (
      value instanceof Error &&
      typeof (value as { code?: unknown }).code === 'string' &&
      (value as { [PROXYSTORE_ERROR_BRAND]?: unknown })[PROXYSTORE_ERROR_BRAND] === true
    );
  }
}

/** A registered symbol, equal across copies of this package and across realms. */
const PROXYSTORE_ERROR_BRAND = Symbol.for('proxystore.error');
Object.defineProperty(ProxyStoreError.prototype, PROXYSTORE_ERROR_BRAND, { value: true });

/**
 * A value that cannot stand behind a proxy: `null`, `undefined`, booleans and symbols. A proxy must be an
 * object to the engine, and these cannot be faked (`if (p)` is always true for an object).
 */
export class NonProxiableTypeError extends ProxyStoreError {
  static readonly code = 'NON_PROXIABLE_TYPE';

  constructor(message: string, options?: ProxyStoreErrorOptions) {
    super(NonProxiableTypeError.code, message, options);
  }
}
