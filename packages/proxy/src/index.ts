// Public surface of @proxystore/proxy: transparent lazy proxies and the helpers to inspect and resolve
// them. Everything a caller may rely on is listed here by name; the rest of src/ is internal.
export {
  createProxy,
  extract,
  getFactory,
  getShape,
  isProxy,
  isResolved,
  resolve,
  resolveAsync,
  type CreateProxyOptions,
  type ProxyFactory,
} from './proxy.js';
export { shapeOf, type Shape } from './shape.js';
export type { BuiltinName } from './builtins.js';
export { NonProxiableTypeError, ProxyStoreError, type ProxyStoreErrorOptions } from './errors.js';
