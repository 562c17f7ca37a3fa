// Transparency as a property: for any JSON-like value, what a reader observes through the proxy matches
// the value, and the factory runs exactly once.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { proxyOf } from '../test/counting-factory.js';
import { extract, shapeOf } from './index.js';

const proxiable = fc.oneof(
  fc.string(),
  fc.double({ noNaN: true }),
  fc.array(fc.jsonValue()),
  fc.dictionary(fc.string(), fc.jsonValue()),
);

describe('transparency over arbitrary JSON-like values', () => {
  it('JSON.stringify, keys, spread and iteration match the value; one fetch', () => {
    fc.assert(
      fc.property(proxiable, (value) => {
        const { p, factory } = proxyOf<unknown>(value, shapeOf(value));
        expect(JSON.stringify(p)).toBe(JSON.stringify(value));
        if (typeof value === 'object') {
          const obj = p as object;
          expect(Object.keys(obj)).toEqual(Object.keys(value));
          expect(Array.isArray(obj)).toBe(Array.isArray(value));
          expect(Array.isArray(value) ? [...(obj as unknown[])] : { ...obj }).toEqual(
            Array.isArray(value) ? [...value] : { ...value },
          );
        } else {
          expect(String(p)).toBe(String(value));
        }
        expect(extract(p)).toBe(value);
        expect(factory.syncCalls).toBe(1);
      }),
    );
  });
});
