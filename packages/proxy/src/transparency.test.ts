import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { countingFactory, proxyOf } from '../test/counting-factory.js';
import { createProxy, extract, getShape, isResolved, resolve, shapeOf, type BuiltinName } from './index.js';

describe('shape answers without fetching', () => {
  it('typeof is "function" exactly when the shape type is function', () => {
    const cases = [
      [{ type: 'function' }, 'function'],
      [{ type: 'object' }, 'object'],
      [{ type: 'object', builtin: 'Array' }, 'object'],
      [{ type: 'string' }, 'object'],
      [{ type: 'number' }, 'object'],
      [{ type: 'bigint' }, 'object'],
    ] as const;
    for (const [shape, expected] of cases) {
      const factory = countingFactory(() => ({}));
      expect(typeof createProxy(factory, { shape })).toBe(expected);
      expect(factory.syncCalls).toBe(0);
    }
  });

  it('Array.isArray is true for an Array shape only', () => {
    const { p: arr, factory } = proxyOf([1, 2]);
    expect(Array.isArray(arr)).toBe(true);
    expect(Array.isArray(proxyOf({ length: 0 }).p)).toBe(false);
    expect(Array.isArray(createProxy(countingFactory(() => [1])))).toBe(false);
    expect(factory.syncCalls).toBe(0);
  });

  const builtins: [BuiltinName, unknown, Function[]][] = [
    ['Array', [1], [Array, Object]],
    ['Map', new Map(), [Map]],
    ['Set', new Set(), [Set]],
    ['WeakMap', new WeakMap(), [WeakMap]],
    ['WeakSet', new WeakSet(), [WeakSet]],
    ['Date', new Date(0), [Date]],
    ['RegExp', /a/g, [RegExp]],
    ['Error', new RangeError('x'), [Error]],
    ['Promise', Promise.resolve(1), [Promise]],
    ['ArrayBuffer', new ArrayBuffer(8), [ArrayBuffer]],
    ['SharedArrayBuffer', new SharedArrayBuffer(8), [SharedArrayBuffer]],
    ['DataView', new DataView(new ArrayBuffer(4)), [DataView]],
    ['Buffer', Buffer.from('hi'), [Buffer, Uint8Array]],
    ['Int8Array', new Int8Array(2), [Int8Array]],
    ['Uint8Array', new Uint8Array(2), [Uint8Array]],
    ['Uint8ClampedArray', new Uint8ClampedArray(2), [Uint8ClampedArray]],
    ['Int16Array', new Int16Array(2), [Int16Array]],
    ['Uint16Array', new Uint16Array(2), [Uint16Array]],
    ['Int32Array', new Int32Array(2), [Int32Array]],
    ['Uint32Array', new Uint32Array(2), [Uint32Array]],
    ['Float32Array', new Float32Array(2), [Float32Array]],
    ['Float64Array', new Float64Array(2), [Float64Array]],
    ['BigInt64Array', new BigInt64Array(2), [BigInt64Array]],
    ['BigUint64Array', new BigUint64Array(2), [BigUint64Array]],
  ];

  it.each(builtins)('instanceof %s is answered from the shape', (name, value, ctors) => {
    const shape = shapeOf(value);
    expect(shape.builtin).toBe(name);
    const { p, factory } = proxyOf(value, shape);
    for (const ctor of ctors) expect(p instanceof ctor).toBe(true);
    expect(p instanceof Object).toBe(true);
    expect(p instanceof (name === 'Map' ? Set : Map)).toBe(false);
    expect(factory.syncCalls).toBe(0);
  });

  it('a function shape is an instance of Function; primitive shapes of their wrappers, without fetching', () => {
    const { p: fn, factory: f1 } = proxyOf(() => 1);
    const { p: str, factory: f2 } = proxyOf('s');
    expect(fn instanceof Function).toBe(true);
    expect(Object.getPrototypeOf(str)).toBe(String.prototype);
    expect(f1.syncCalls + f2.syncCalls).toBe(0);
  });

  it('a plain-object shape answers getPrototypeOf without fetching', () => {
    const { p, factory } = proxyOf({ a: 1 });
    expect(Object.getPrototypeOf(p)).toBe(Object.prototype);
    expect(factory.syncCalls).toBe(0);
  });

  it('for a user class or an unknown shape, getPrototypeOf fetches to give the true answer', () => {
    class Point {
      x = 1;
    }
    const { p, factory } = proxyOf(new Point());
    expect(p instanceof Point).toBe(true);
    expect(factory.syncCalls).toBe(1);
    const unknown = createProxy(countingFactory(() => new Point()));
    expect(unknown instanceof Point).toBe(true);
  });

  it('after resolution getPrototypeOf returns the real prototype', () => {
    class Base {}
    class Derived extends Base {}
    const { p } = proxyOf(new Derived(), { type: 'object' });
    resolve(p);
    expect(Object.getPrototypeOf(p)).toBe(Derived.prototype);
    expect(p instanceof Base).toBe(true);
    expect(p.constructor).toBe(Derived);
  });
});

describe('objects after resolution', () => {
  it('get, set, delete, in, Object.keys/entries, spread, for-in and hasOwn see the value', () => {
    const value: Record<string, number> = { a: 1, b: 2 };
    const { p } = proxyOf(value);
    expect(p.a).toBe(1);
    p.c = 3;
    delete p.b;
    expect('a' in p).toBe(true);
    expect('b' in p).toBe(false);
    expect(Object.keys(p)).toEqual(['a', 'c']);
    expect(Object.entries(p)).toEqual([
      ['a', 1],
      ['c', 3],
    ]);
    expect({ ...p }).toEqual({ a: 1, c: 3 });
    const seen: string[] = [];
    for (const key in p) seen.push(key);
    expect(seen).toEqual(['a', 'c']);
    expect(Object.hasOwn(p, 'c')).toBe(true);
    expect(Object.assign({}, p)).toEqual({ a: 1, c: 3 });
  });

  it('JSON.stringify gives the same text as for the value, nested too', () => {
    const value = { a: [1, { b: 'x' }], d: new Date(0), n: null };
    const { p } = proxyOf(value);
    expect(JSON.stringify(p)).toBe(JSON.stringify(value));
    expect(JSON.stringify({ outer: p }, null, 2)).toBe(JSON.stringify({ outer: value }, null, 2));
  });

  it('Object.getOwnPropertyDescriptor reports the value’s descriptors, non-configurable ones included', () => {
    const value = { a: 1 };
    Object.defineProperty(value, 'fixed', { value: 2, enumerable: true });
    const { p } = proxyOf(value);
    expect(Object.getOwnPropertyDescriptor(p, 'a')).toEqual({
      value: 1,
      writable: true,
      enumerable: true,
      configurable: true,
    });
    expect(Object.getOwnPropertyDescriptor(p, 'fixed')).toEqual({
      value: 2,
      writable: false,
      enumerable: true,
      configurable: false,
    });
    expect({ ...p }).toEqual({ a: 1, fixed: 2 });
    expect(Object.getOwnPropertyDescriptors(p)).toEqual(Object.getOwnPropertyDescriptors(value));
  });

  it('Object.defineProperty and freeze go to the value and keep the proxy consistent', () => {
    const value: Record<string, number> = { a: 1 };
    const { p } = proxyOf(value);
    Object.defineProperty(p, 'b', { value: 2, configurable: false, enumerable: true });
    expect(Object.getOwnPropertyDescriptor(value, 'b')?.configurable).toBe(false);
    Object.freeze(p);
    expect(Object.isFrozen(value)).toBe(true);
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.keys(p)).toEqual(['a', 'b']);
    expect(Object.getPrototypeOf(p)).toBe(Object.prototype);
  });

  it('a value frozen before proxying reads as frozen', () => {
    const { p } = proxyOf(Object.freeze({ a: 1, nested: { b: 2 } }));
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isExtensible(p)).toBe(false);
    expect(Object.keys(p)).toEqual(['a', 'nested']);
    expect(p.nested.b).toBe(2);
    expect(Object.getOwnPropertyDescriptor(p, 'a')?.writable).toBe(false);
  });

  it('a non-extensible value that loses a property directly still reports consistent keys', () => {
    const value: { a?: number; b?: number } = { a: 1, b: 2 };
    Object.preventExtensions(value);
    const { p } = proxyOf(value);
    expect(Object.isExtensible(p)).toBe(false);
    delete value.b;
    expect(Object.keys(p)).toEqual(['a']);
    expect(Object.getOwnPropertyDescriptor(p, 'b')).toBeUndefined();
    delete p.a;
    expect(Reflect.ownKeys(p)).toEqual([]);
  });

  it('class instances: getters and methods that use #private fields work through the proxy', () => {
    class Counter {
      #count = 0;
      get count(): number {
        return this.#count;
      }
      increment(): number {
        return ++this.#count;
      }
    }
    const { p } = proxyOf(new Counter());
    expect(p.increment()).toBe(1);
    expect(p.count).toBe(1);
    expect(p.increment).toBe(p.increment);
  });

  it('own function properties keep their identity and statics; inherited methods are bound and cached', () => {
    const helper = Object.assign(() => 'h', { version: 3 });
    const { p } = proxyOf({ helper, list: [1] });
    expect(p.helper).toBe(helper);
    expect(p.helper.version).toBe(3);
    expect(p.hasOwnProperty).toBe(p.hasOwnProperty);
    expect(p.hasOwnProperty('helper')).toBe(true);
  });

  it('a replaced method is picked up instead of the cached bound one', () => {
    const map = new Map([[1, 'a']]);
    const { p } = proxyOf(map);
    const first = p.get;
    Object.defineProperty(map, 'get', { value: () => 'patched', configurable: true });
    expect(p.get).not.toBe(first);
    expect(p.get(1)).toBe('patched');
  });
});

describe('arrays', () => {
  it('index, length, push, iteration, spread and JSON', () => {
    const value = [1, 2, 3];
    const { p, factory } = proxyOf(value);
    expect(p.length).toBe(3);
    expect(p[0]).toBe(1);
    p.push(4);
    expect(value).toEqual([1, 2, 3, 4]);
    expect([...p]).toEqual([1, 2, 3, 4]);
    const seen: number[] = [];
    for (const x of p) seen.push(x);
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(JSON.stringify(p)).toBe('[1,2,3,4]');
    expect(Object.keys(p)).toEqual(['0', '1', '2', '3']);
    expect(p.map((x) => x * 2)).toEqual([2, 4, 6, 8]);
    expect(Array.from(p)).toEqual([1, 2, 3, 4]);
    expect(p.includes(4)).toBe(true);
    expect([0].concat(p)).toEqual([0, 1, 2, 3, 4]);
    expect(Object.getOwnPropertyDescriptor(p, 'length')?.value).toBe(4);
    p.length = 1;
    expect(value).toEqual([1]);
    expect(factory.syncCalls).toBe(1);
  });

  it('a frozen array passes the engine’s invariant checks', () => {
    const { p } = proxyOf(Object.freeze([1, 2]));
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.getOwnPropertyDescriptor(p, 'length')).toEqual({
      value: 2,
      writable: false,
      enumerable: false,
      configurable: false,
    });
    expect(Reflect.ownKeys(p)).toEqual(['0', '1', 'length']);
  });

  it('an array proxied with an unknown shape still stringifies, iterates and reports keys', () => {
    const p = createProxy<number[]>(countingFactory(() => [1, 2]));
    expect([...p]).toEqual([1, 2]);
    expect(Reflect.ownKeys(p)).toEqual(['0', '1', 'length']);
    expect(JSON.stringify({ list: p })).toBe('{"list":[1,2]}');
  });

  it("a shape that wrongly says Array still satisfies the engine's checks on the array target", () => {
    const p = createProxy<Record<string, number>>(countingFactory(() => ({ a: 1 })), {
      shape: { type: 'object', builtin: 'Array' },
    });
    expect(Array.isArray(p)).toBe(true);
    expect(Reflect.ownKeys(p)).toEqual(['a', 'length']);
    expect(Object.keys(p)).toEqual(['a']);
    expect(Object.getOwnPropertyDescriptor(p, 'length')?.configurable).toBe(false);
    expect(p.a).toBe(1);
  });

  it('an unknown built-in name in a shape (from a newer producer) is ignored, not fatal', () => {
    const p = createProxy(countingFactory(() => ({ a: 1 })), {
      shape: { type: 'object', builtin: 'Float16Array' as BuiltinName },
    });
    expect(getShape(p)).toEqual({ type: 'object' });
    expect(p.a).toBe(1);
  });
});

describe('functions and classes', () => {
  it('calls a regular function, forwarding this and arguments', () => {
    function add(this: { base: number } | void, a: number, b: number): number {
      return (this?.base ?? 0) + a + b;
    }
    const { p, factory } = proxyOf(add);
    expect(typeof p).toBe('function');
    expect(factory.syncCalls).toBe(0);
    expect(p(1, 2)).toBe(3);
    expect(p.call({ base: 10 }, 1, 2)).toBe(13);
    expect(p.apply({ base: 1 }, [1, 1])).toBe(3);
    expect(p.name).toBe('add');
    expect(p.length).toBe(2);
    expect(p.prototype).toBe(add.prototype);
    expect(Object.getOwnPropertyNames(p).sort()).toEqual(Object.getOwnPropertyNames(add).sort());
    expect(factory.syncCalls).toBe(1);
  });

  it('calls an arrow function; new on it throws TypeError as on the arrow itself', () => {
    const arrow = (x: number) => x * 2;
    const { p } = proxyOf(arrow);
    expect(p(4)).toBe(8);
    expect(Object.getOwnPropertyDescriptor(p, 'prototype')).toBeUndefined();
    expect(() => new (p as unknown as new () => unknown)()).toThrow(TypeError);
  });

  it('new on a class value constructs a real instance; statics and subclassing work', () => {
    class Vec {
      static zero = 0;
      static make(): Vec {
        return new this(0);
      }
      constructor(public x: number) {}
      double(): number {
        return this.x * 2;
      }
    }
    const { p: VecP, factory } = proxyOf(Vec);
    expect(typeof VecP).toBe('function');
    const v = new VecP(3);
    expect(factory.syncCalls).toBe(1);
    expect(v).toBeInstanceOf(Vec);
    expect(v instanceof VecP).toBe(true);
    expect(v.double()).toBe(6);
    expect(VecP.zero).toBe(0);
    expect(VecP.make()).toBeInstanceOf(Vec);
    expect(Object.getOwnPropertyDescriptor(VecP, 'prototype')).toEqual({
      value: Vec.prototype,
      writable: false,
      enumerable: false,
      configurable: false,
    });
    class Vec3 extends VecP {
      z = 1;
    }
    const w = new Vec3(1);
    expect(w).toBeInstanceOf(Vec);
    expect(w.z).toBe(1);
    expect(w.double()).toBe(2);
  });

  it('an async function proxy returns its promise', async () => {
    const { p } = proxyOf(async (x: number) => x + 1);
    await expect(p(1)).resolves.toBe(2);
  });
});

describe('built-ins get their real receiver', () => {
  it('Map: get/set/has/size/iteration, and the same bound method on each access', () => {
    const { p } = proxyOf(new Map<string, number>([['a', 1]]));
    expect(p.get('a')).toBe(1);
    p.set('b', 2);
    expect(p.size).toBe(2);
    expect(p.has('b')).toBe(true);
    expect([...p]).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    expect([...p.keys()]).toEqual(['a', 'b']);
    expect(p.get).toBe(p.get);
    expect(p.constructor).toBe(Map);
    expect(Object.prototype.toString.call(p)).toBe('[object Map]');
  });

  it('Set, WeakMap and WeakSet', () => {
    const key = {};
    const { p: set } = proxyOf(new Set([1]));
    set.add(2);
    expect(set.size).toBe(2);
    expect([...set]).toEqual([1, 2]);
    const { p: wm } = proxyOf(new WeakMap([[key, 'v']]));
    expect(wm.get(key)).toBe('v');
    const { p: ws } = proxyOf(new WeakSet([key]));
    expect(ws.has(key)).toBe(true);
  });

  it('Date: methods, coercion and JSON', () => {
    const date = new Date(Date.UTC(2020, 0, 2));
    const { p } = proxyOf(date);
    expect(p.getTime()).toBe(date.getTime());
    expect(p.toISOString()).toBe('2020-01-02T00:00:00.000Z');
    expect(+p).toBe(date.getTime());
    expect(`${p}`).toBe(String(date));
    expect(JSON.stringify(p)).toBe(JSON.stringify(date));
  });

  it('RegExp: test, exec, flags, and use by String methods', () => {
    const { p } = proxyOf(/b(\d)/g);
    expect(p.source).toBe('b(\\d)');
    expect(p.flags).toBe('g');
    expect(p.test('ab1')).toBe(true);
    p.lastIndex = 0;
    expect(p.exec('ab2')?.[1]).toBe('2');
    expect('b1-b2'.replace(p, 'X')).toBe('X-X');
    expect('a1b2c'.split(proxyOf(/\d/).p)).toEqual(['a', 'b', 'c']);
  });

  it('Error: message, name, stack', () => {
    const { p } = proxyOf(new RangeError('too big'));
    expect(p.message).toBe('too big');
    expect(p.name).toBe('RangeError');
    expect(p.stack).toContain('too big');
    expect(p instanceof RangeError).toBe(true);
  });

  it('typed arrays: length, indexing, getters and methods', () => {
    const { p } = proxyOf(new Float64Array([1.5, 2.5, 3]));
    expect(p.length).toBe(3);
    expect(p.byteLength).toBe(24);
    expect(p[1]).toBe(2.5);
    p[2] = 4;
    expect(p.reduce((a, b) => a + b, 0)).toBe(8);
    expect(Array.from(p.subarray(1))).toEqual([2.5, 4]);
    expect([...p]).toEqual([1.5, 2.5, 4]);
    expect(p.buffer).toBeInstanceOf(ArrayBuffer);
  });

  it('Buffer: toString, length, readers, equals', () => {
    const { p } = proxyOf(Buffer.from('hello'));
    expect(p.toString('hex')).toBe('68656c6c6f');
    expect(p.length).toBe(5);
    expect(p.readUInt8(0)).toBe(0x68);
    expect(p.equals(Buffer.from('hello'))).toBe(true);
    expect(Buffer.concat([extract(p), Buffer.from('!')]).toString()).toBe('hello!');
  });

  it('ArrayBuffer and DataView', () => {
    const { p: ab } = proxyOf(new ArrayBuffer(16));
    expect(ab.byteLength).toBe(16);
    expect(ab.slice(4).byteLength).toBe(12);
    const view = new DataView(new ArrayBuffer(4));
    view.setUint16(0, 513);
    const { p: dv } = proxyOf(view);
    expect(dv.getUint16(0)).toBe(513);
    expect(dv.byteLength).toBe(4);
  });

  it('Promise methods get the real promise', async () => {
    const { p } = proxyOf(Promise.resolve(5));
    await expect(p.then((x) => x + 1)).resolves.toBe(6);
    await expect(p.finally(() => undefined)).resolves.toBe(5);
  });
});

describe('primitives', () => {
  it('strings: concatenation, templates, ==, comparison, methods, length, iteration, JSON', () => {
    const { p, factory } = proxyOf('abc');
    expect(factory.syncCalls).toBe(0);
    expect(p + 1).toBe('abc1');
    expect(`${p}!`).toBe('abc!');
    expect(p == 'abc').toBe(true);
    expect(p < 'abd').toBe(true);
    expect(p.length).toBe(3);
    expect(p.toUpperCase()).toBe('ABC');
    expect(p.slice(1)).toBe('bc');
    expect([...p]).toEqual(['a', 'b', 'c']);
    expect(JSON.stringify(p)).toBe('"abc"');
    expect(JSON.stringify({ s: p })).toBe('{"s":"abc"}');
    expect(String(p)).toBe('abc');
    expect(p.valueOf()).toBe('abc');
    expect(factory.syncCalls).toBe(1);
  });

  it('numbers: arithmetic, ==, comparison, methods, JSON', () => {
    const { p } = proxyOf(2.5);
    expect(p + 1).toBe(3.5);
    expect(p * 2).toBe(5);
    expect(p == 2.5).toBe(true);
    expect(p < 3).toBe(true);
    expect(p.toFixed(2)).toBe('2.50');
    expect(Math.floor(p)).toBe(2);
    expect(JSON.stringify([p])).toBe('[2.5]');
  });

  it('bigints: arithmetic, ==, comparison; JSON.stringify throws as for the bigint itself', () => {
    const { p } = proxyOf(21n);
    expect(p * 2n).toBe(42n);
    expect(p + 1n).toBe(22n);
    expect(p == 21n).toBe(true);
    expect(p > 20n).toBe(true);
    expect(p.toString(16)).toBe('15');
    expect(() => JSON.stringify(p)).toThrow(TypeError);
  });

  it('resolving a primitive proxy does not happen until a conversion needs it', () => {
    const { p } = proxyOf(7);
    expect(isResolved(p)).toBe(false);
    expect(p + 0).toBe(7);
    expect(isResolved(p)).toBe(true);
  });
});
