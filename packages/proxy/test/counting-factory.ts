// A factory that counts every call, so tests can prove when (and how often) a proxy fetched.
import { createProxy, shapeOf, type ProxyFactory, type Shape } from '../src/index.js';

export interface CountingFactory<T> extends ProxyFactory<T> {
  syncCalls: number;
  asyncCalls: number;
  describeCalls: number;
  referenceCalls: number;
}

export interface CountingOptions<T> {
  /** What resolve() yields; defaults to the same value as resolveSync(). */
  resolve?: () => Promise<T>;
  describe?: string;
}

export function countingFactory<T>(resolveSync: () => T, options: CountingOptions<T> = {}): CountingFactory<T> {
  const factory: CountingFactory<T> = {
    syncCalls: 0,
    asyncCalls: 0,
    describeCalls: 0,
    referenceCalls: 0,
    resolveSync() {
      factory.syncCalls += 1;
      return resolveSync();
    },
    resolve() {
      factory.asyncCalls += 1;
      return options.resolve !== undefined ? options.resolve() : Promise.resolve(resolveSync());
    },
    toReference() {
      factory.referenceCalls += 1;
      return { ref: 'test' };
    },
  };
  if (options.describe !== undefined) {
    const text = options.describe;
    factory.describe = () => {
      factory.describeCalls += 1;
      return text;
    };
  }
  return factory;
}

/** A proxy of `value` with the shape its producer would record, and the factory behind it. */
export function proxyOf<T>(value: T, shape: Shape = shapeOf(value)): { p: T; factory: CountingFactory<T> } {
  const factory = countingFactory(() => value, { describe: 'test value' });
  return { p: createProxy(factory, { shape }), factory };
}

/** A promise whose settlement the test controls. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
