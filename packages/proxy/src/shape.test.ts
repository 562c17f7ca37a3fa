import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { countingFactory } from '../test/counting-factory.js';
import { createProxy, isResolved, NonProxiableTypeError, ProxyStoreError, shapeOf } from './index.js';

describe('shapeOf', () => {
  it('records primitives by type', () => {
    expect(shapeOf('s')).toEqual({ type: 'string' });
    expect(shapeOf(1.5)).toEqual({ type: 'number' });
    expect(shapeOf(1n)).toEqual({ type: 'bigint' });
  });

  it('records objects with their built-in and constructor name', () => {
    expect(shapeOf({})).toEqual({ type: 'object', ctorName: 'Object' });
    expect(shapeOf(Object.create(null))).toEqual({ type: 'object' });
    expect(shapeOf([1])).toEqual({ type: 'object', builtin: 'Array', ctorName: 'Array' });
    expect(shapeOf(new Map())).toEqual({ type: 'object', builtin: 'Map', ctorName: 'Map' });
    class Point {}
    expect(shapeOf(new Point())).toEqual({ type: 'object', ctorName: 'Point' });
    class Registry extends Map {}
    expect(shapeOf(new Registry())).toEqual({ type: 'object', builtin: 'Map', ctorName: 'Registry' });
  });

  it('names Buffer rather than Uint8Array, and each typed array by its own name', () => {
    expect(shapeOf(Buffer.alloc(1)).builtin).toBe('Buffer');
    expect(shapeOf(new Uint8Array(1)).builtin).toBe('Uint8Array');
    expect(shapeOf(new BigUint64Array(1)).builtin).toBe('BigUint64Array');
    expect(shapeOf(new TypeError('x')).builtin).toBe('Error');
  });

  it('records functions and classes as type function', () => {
    expect(shapeOf(() => 1)).toEqual({ type: 'function' });
    expect(shapeOf(class A {})).toEqual({ type: 'function' });
  });

  it('marks a value with a callable then as thenable, and nothing else', () => {
    expect(shapeOf(Promise.resolve()).thenable).toBe(true);
    expect(shapeOf({ then() {} }).thenable).toBe(true);
    expect(shapeOf({ then: 1 }).thenable).toBeUndefined();
    const throwing = {
      get then(): never {
        throw new Error('no');
      },
    };
    expect(shapeOf(throwing).thenable).toBeUndefined();
  });

  it('is JSON-safe', () => {
    const shape = shapeOf(new Float32Array(2));
    expect(JSON.parse(JSON.stringify(shape))).toEqual(shape);
  });

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['true', true],
    ['false', false],
    ['a symbol', Symbol('s')],
  ])('refuses %s with NonProxiableTypeError that mentions skipNonProxiable', (label, value) => {
    let caught: unknown;
    try {
      shapeOf(value);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(NonProxiableTypeError);
    expect(caught).toBeInstanceOf(ProxyStoreError);
    expect((caught as NonProxiableTypeError).code).toBe('NON_PROXIABLE_TYPE');
    expect((caught as Error).message).toContain(label);
    expect((caught as Error).message).toContain('skipNonProxiable');
  });

  it('of a proxy is the shape it was created with, without resolving it', () => {
    const factory = countingFactory(() => 'text');
    const p = createProxy(factory, { shape: { type: 'string' } });
    expect(shapeOf(p)).toEqual({ type: 'string' });
    expect(isResolved(p)).toBe(false);
    expect(factory.syncCalls).toBe(0);
  });
});
