import { format, formatWithOptions, inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { countingFactory, deferred, proxyOf } from '../test/counting-factory.js';
import {
  createProxy,
  extract,
  getFactory,
  getShape,
  isProxy,
  isResolved,
  NonProxiableTypeError,
  ProxyStoreError,
  resolve,
  resolveAsync,
  shapeOf,
} from './index.js';

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

describe('laziness', () => {
  it('creating a proxy calls nothing on the factory', () => {
    const factory = countingFactory(() => ({ x: 1 }), { describe: 'd' });
    const p = createProxy(factory, { shape: { type: 'object' } });
    expect(isProxy(p)).toBe(true);
    expect(isResolved(p)).toBe(false);
    expect(factory).toMatchObject({ syncCalls: 0, asyncCalls: 0, describeCalls: 0, referenceCalls: 0 });
  });

  it('the first access resolves synchronously through resolveSync, before any microtask runs', () => {
    const { p, factory } = proxyOf({ x: 41 });
    let microtaskRan = false;
    queueMicrotask(() => {
      microtaskRan = true;
    });
    expect(p.x + 1).toBe(42);
    expect(microtaskRan).toBe(false);
    expect(factory.syncCalls).toBe(1);
    expect(factory.asyncCalls).toBe(0);
    expect(isResolved(p)).toBe(true);
  });

  it('the value is fixed at first resolution: later operations never call the factory', () => {
    const { p, factory } = proxyOf<{ x: number; y?: number; list: number[] }>({ x: 1, list: [1, 2] });
    void p.x;
    p.y = 2;
    void ('x' in p);
    void Object.keys(p);
    void { ...p };
    void JSON.stringify(p);
    delete p.y;
    void Object.getOwnPropertyDescriptor(p, 'x');
    resolve(p);
    void extract(p);
    expect(factory.syncCalls).toBe(1);
    expect(factory.asyncCalls).toBe(0);
  });

  it('resolve(p) forces resolution; extract(p) returns the very value the factory returned', () => {
    const value = { x: 1 };
    const { p, factory } = proxyOf(value);
    resolve(p);
    expect(isResolved(p)).toBe(true);
    expect(factory.syncCalls).toBe(1);
    expect(extract(p)).toBe(value);
    expect(factory.syncCalls).toBe(1);
  });
});

describe('resolveAsync', () => {
  it('prefetches through factory.resolve() without calling resolveSync', async () => {
    const { p, factory } = proxyOf({ x: 1 });
    await resolveAsync(p);
    expect(isResolved(p)).toBe(true);
    expect(factory).toMatchObject({ syncCalls: 0, asyncCalls: 1 });
    expect(p.x).toBe(1);
    expect(factory).toMatchObject({ syncCalls: 0, asyncCalls: 1 });
  });

  it('concurrent calls share one factory.resolve() call and one promise', async () => {
    const gate = deferred<{ x: number }>();
    const factory = countingFactory(() => ({ x: 0 }), { resolve: () => gate.promise });
    const p = createProxy(factory);
    const first = resolveAsync(p);
    const second = resolveAsync(p);
    expect(second).toBe(first);
    gate.resolve({ x: 7 });
    await Promise.all([first, second, resolveAsync(p)]);
    expect(factory.asyncCalls).toBe(1);
    expect(p.x).toBe(7);
  });

  it('a sync access during a pending prefetch wins; the late async result never replaces it', async () => {
    const syncValue = { from: 'sync' };
    const gate = deferred<{ from: string }>();
    const factory = countingFactory(() => syncValue, { resolve: () => gate.promise });
    const p = createProxy(factory);
    const prefetch = resolveAsync(p);
    expect(p.from).toBe('sync');
    gate.resolve({ from: 'async' });
    await prefetch;
    expect(p.from).toBe('sync');
    expect(extract(p)).toBe(syncValue);
    expect(factory).toMatchObject({ syncCalls: 1, asyncCalls: 1 });
  });

  it('is a no-op on a resolved proxy and on a value that is not a proxy', async () => {
    const { p, factory } = proxyOf({ x: 1 });
    resolve(p);
    await resolveAsync(p);
    await resolveAsync({ plain: true });
    expect(factory).toMatchObject({ syncCalls: 1, asyncCalls: 0 });
  });

  it('a failed prefetch rejects, leaves the proxy unresolved, and a later call retries', async () => {
    let attempt = 0;
    const factory = countingFactory(() => ({ x: 1 }), {
      resolve: async () => {
        attempt += 1;
        if (attempt === 1) throw new Error('network down');
        return { x: 2 };
      },
    });
    const p = createProxy(factory);
    await expect(resolveAsync(p)).rejects.toThrow('network down');
    expect(isResolved(p)).toBe(false);
    await resolveAsync(p);
    expect(factory.asyncCalls).toBe(2);
    expect(p.x).toBe(2);
  });
});

describe('factory errors', () => {
  it('propagate at the access site, leave the proxy unresolved, and the next access retries', () => {
    const failure = new Error('missing key');
    let attempt = 0;
    const factory = countingFactory(() => {
      attempt += 1;
      if (attempt === 1) throw failure;
      return { x: 3 };
    });
    const p = createProxy<{ x: number }>(factory);
    let caught: unknown;
    try {
      void p.x;
    } catch (error) {
      caught = error;
    }
    expect(caught).toBe(failure);
    expect(isResolved(p)).toBe(false);
    expect(p.x).toBe(3);
    expect(factory.syncCalls).toBe(2);
  });

  it('a factory that returns null or undefined raises NonProxiableTypeError at access', () => {
    const p = createProxy(countingFactory<{ x: number }>(() => null as never));
    expect(() => p.x).toThrow(NonProxiableTypeError);
    expect(isResolved(p)).toBe(false);
    const q = createProxy(countingFactory<{ x: number }>(() => undefined as never));
    expect(() => q.x).toThrow(/undefined/);
  });
});

describe('helpers', () => {
  it('isProxy is true only for proxies made here, and never runs a trap', () => {
    const { p, factory } = proxyOf({ x: 1 }, { type: 'object' });
    expect(isProxy(p)).toBe(true);
    for (const other of [null, undefined, 1, 'a', {}, [], () => 1, new Proxy({}, {})]) {
      expect(isProxy(other)).toBe(false);
    }
    expect(factory.syncCalls).toBe(0);
  });

  it('getFactory returns the factory; getShape the shape (frozen, default { type: "object" }); neither fetches', () => {
    const factory = countingFactory(() => new Map());
    const p = createProxy(factory, { shape: { type: 'object', builtin: 'Map', ctorName: 'Map' } });
    expect(getFactory(p)).toBe(factory);
    expect(getShape(p)).toEqual({ type: 'object', builtin: 'Map', ctorName: 'Map' });
    expect(Object.isFrozen(getShape(p))).toBe(true);
    expect(getShape(createProxy(factory))).toEqual({ type: 'object' });
    expect(factory.syncCalls).toBe(0);
  });

  it('the shape is copied at creation, so changing the caller object later changes nothing', () => {
    const shape = { type: 'object' as const };
    const p = createProxy(countingFactory(() => ({})), { shape });
    (shape as { type: string }).type = 'function';
    expect(typeof p).toBe('object');
    expect(getShape(p).type).toBe('object');
  });

  it('getFactory and getShape throw ProxyStoreError NOT_A_PROXY for anything else', () => {
    for (const other of [null, 1, {}, new Proxy({}, {})]) {
      for (const fn of [getFactory, getShape]) {
        let caught: unknown;
        try {
          fn(other);
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(ProxyStoreError);
        expect((caught as ProxyStoreError).code).toBe('NOT_A_PROXY');
      }
    }
  });

  it('extract, isResolved and resolve treat a value that is not a proxy as its own resolved value', () => {
    const value = { x: 1 };
    expect(extract(value)).toBe(value);
    expect(extract(5)).toBe(5);
    expect(isResolved(value)).toBe(true);
    expect(() => resolve(value)).not.toThrow();
  });

  it('an unknown shape type is refused with INVALID_SHAPE', () => {
    expect(() => createProxy(countingFactory(() => ({})), { shape: { type: 'boolean' as 'object' } })).toThrow(
      expect.objectContaining({ code: 'INVALID_SHAPE' }),
    );
  });
});

describe('never a thenable', () => {
  it('p.then is undefined and reading it does not fetch', () => {
    const { p, factory } = proxyOf<{ then?: unknown }>({});
    expect(p.then).toBeUndefined();
    expect(factory.syncCalls).toBe(0);
  });

  it('await p yields p itself, unresolved', async () => {
    const { p, factory } = proxyOf({ x: 1 });
    const awaited = await p;
    expect(awaited).toBe(p);
    expect(isResolved(p)).toBe(false);
    expect(factory).toMatchObject({ syncCalls: 0, asyncCalls: 0 });
  });

  it('returning p from an async function neither resolves nor unwraps it', async () => {
    const { p, factory } = proxyOf([1, 2, 3]);
    const produce = async () => p;
    const result = await produce();
    expect(result).toBe(p);
    expect(await Promise.resolve(p)).toBe(p);
    expect(isResolved(p)).toBe(false);
    expect(factory.syncCalls).toBe(0);
  });

  it('a value whose shape says thenable is awaited through its real then (which resolves it)', async () => {
    const thenable = { then: (ok: (v: number) => void) => ok(42) };
    const shape = shapeOf(thenable);
    expect(shape.thenable).toBe(true);
    const { p, factory } = proxyOf(thenable, shape);
    expect(await p).toBe(42);
    expect(factory.syncCalls).toBe(1);
    expect(p.then).toBe(p.then);
  });

  it('without thenable in the shape, then stays undefined even after resolution', () => {
    const thenable = { then: () => undefined };
    const { p } = proxyOf(thenable, { type: 'object' });
    resolve(p);
    expect(p.then).toBeUndefined();
  });

  it('a proxied Promise is answered by instanceof without fetching, and awaits to its result', async () => {
    const { p, factory } = proxyOf(Promise.resolve('done'));
    expect(p instanceof Promise).toBe(true);
    expect(factory.syncCalls).toBe(0);
    expect(await p).toBe('done');
    expect(factory.syncCalls).toBe(1);
  });
});

describe('inspecting does not fetch', () => {
  it('util.inspect of an unresolved proxy prints the factory description', () => {
    const { p, factory } = proxyOf({ secret: 1 });
    expect(inspect(p)).toBe('Proxy<unresolved: test value>');
    expect(factory.syncCalls).toBe(0);
    expect(isResolved(p)).toBe(false);
  });

  it('without describe() the text says "value"; a throwing describe() is ignored', () => {
    const p = createProxy(countingFactory(() => ({})));
    expect(inspect(p)).toBe('Proxy<unresolved: value>');
    const q = createProxy({
      resolveSync: () => ({}),
      resolve: async () => ({}),
      describe: () => {
        throw new Error('boom');
      },
    });
    expect(inspect(q)).toBe('Proxy<unresolved: value>');
  });

  it('console-style formatting (%s, %o, %O, plain, nested, colors) does not resolve', () => {
    for (const value of [{ a: 1 }, [1, 2], new Map([[1, 2]]), () => 1, 'text', 5, new Date(0)]) {
      const { p, factory } = proxyOf<unknown>(value);
      // `%s` of a function is String(fn), its source text: a conversion that needs the value (README).
      if (typeof value !== 'function') format('%s', p);
      format('%o %O', p, p);
      format(p);
      format({ nested: [p] });
      formatWithOptions({ colors: true, depth: 5 }, p);
      inspect(p, { showHidden: true });
      expect(factory.syncCalls).toBe(0);
      expect(isResolved(p)).toBe(false);
    }
  });

  it('nested in another value, the unresolved proxy prints its description', () => {
    const { p } = proxyOf({ a: 1 });
    expect(inspect({ data: p })).toBe('{ data: Proxy<unresolved: test value> }');
  });

  it('after resolution, inspect prints the value itself', () => {
    for (const value of [{ a: 1, b: [1, 2] }, [1, 2, 3], new Map([['k', 1]]), new Set([1]), 'text', 12n]) {
      const { p } = proxyOf<unknown>(value);
      resolve(p);
      expect(inspect(p)).toBe(inspect(value));
    }
  });

  it('the inspect hook on the target is invisible through the proxy', () => {
    const { p } = proxyOf<Record<PropertyKey, unknown>>({ a: 1 });
    expect(Reflect.ownKeys(p)).toEqual(['a']);
    expect(INSPECT in p).toBe(false);
    expect(p[INSPECT]).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(p, INSPECT)).toBeUndefined();
  });

  it("a value's own inspect.custom is forwarded once resolved", () => {
    const custom = () => 'custom!';
    const { p } = proxyOf({ [INSPECT]: custom });
    resolve(p);
    expect(p[INSPECT]).toBe(custom);
    expect(inspect(p)).toBe('custom!');
  });
});

describe('mutations are local', () => {
  it('writing to a resolved proxy changes the local value', () => {
    const value: { x?: number; y?: number } = { y: 1 };
    const { p } = proxyOf(value);
    resolve(p);
    p.x = 1;
    delete p.y;
    expect(extract(p)).toBe(value);
    expect(value).toEqual({ x: 1 });
  });

  it('writing before resolution resolves first, then writes to the fetched value', () => {
    const value: { x?: number; kept: string } = { kept: 'yes' };
    const { p, factory } = proxyOf(value);
    p.x = 5;
    expect(factory.syncCalls).toBe(1);
    expect(extract(p)).toEqual({ x: 5, kept: 'yes' });
  });

  it('a write that the value refuses (frozen) throws in strict mode, as on the value itself', () => {
    const { p } = proxyOf<{ x: number }>(Object.freeze({ x: 1 }));
    expect(() => {
      p.x = 2;
    }).toThrow(TypeError);
    expect(p.x).toBe(1);
  });
});

describe('known limits (documented)', () => {
  it('ArrayBuffer.isView(p) is false; extract(p) gives the real view', () => {
    const { p } = proxyOf(new Float64Array([1, 2]));
    expect(ArrayBuffer.isView(p)).toBe(false);
    expect(ArrayBuffer.isView(extract(p))).toBe(true);
  });

  it('structuredClone(p) throws; structuredClone(extract(p)) works', () => {
    const { p } = proxyOf({ a: [1, 2] });
    expect(() => structuredClone(p)).toThrow();
    expect(structuredClone(extract(p))).toEqual({ a: [1, 2] });
  });

  it('typed-array methods called on p by .call throw; through p or extract(p) they work', () => {
    const { p } = proxyOf(new Float64Array([1, 2]));
    expect(() => Float64Array.prototype.map.call(p, (x: number) => x * 2)).toThrow(TypeError);
    expect(Array.from(p.map((x) => x * 2))).toEqual([2, 4]);
    expect(Array.from(Float64Array.prototype.map.call(extract(p), (x: number) => x * 2))).toEqual([2, 4]);
  });

  it('=== and typeof are not forwarded for primitives', () => {
    const { p } = proxyOf('abc');
    expect(p === 'abc').toBe(false);
    expect(typeof p).toBe('object');
    expect(extract(p) === 'abc').toBe(true);
  });
});
