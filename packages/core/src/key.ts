// Helpers every connector uses on keys: validation at the boundary (a key may come back from JSON, IPC or
// user code, so a connector trusts nothing about its shape), a canonical string form for maps and caches,
// and fresh ids.
import { randomUUID } from 'node:crypto';
import type { Frames, Key } from './connector.js';
import { InvalidKeyError } from './errors.js';

/** True for `{}`-style objects: no class instances, arrays, Dates or Maps, whose JSON form loses data. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor
      ?.name;
    return typeof name === 'string' && name !== '' ? `an instance of ${name}` : 'a non-plain object';
  }
  if (value === undefined || typeof value === 'number') return String(value);
  return `a ${typeof value}`;
}

/**
 * Returns a description of the first value under `value` that JSON would drop or change (undefined,
 * functions, symbols, bigints, non-finite numbers, class instances, cycles), or null when it is JSON-safe.
 */
function findNonJson(value: unknown, path: string, seen: Set<object>): string | null {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : `${path} is ${value} (not representable in JSON)`;
    case 'object': {
      if (value === null) return null;
      if (seen.has(value)) return `${path} is a cycle`;
      seen.add(value);
      try {
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length; i++) {
            const bad = findNonJson(value[i], `${path}[${i}]`, seen);
            if (bad !== null) return bad;
          }
          return null;
        }
        if (!isPlainObject(value)) return `${path} is ${describeValue(value)}, not plain JSON`;
        for (const [k, v] of Object.entries(value)) {
          const bad = findNonJson(v, `${path}.${k}`, seen);
          if (bad !== null) return bad;
        }
        return null;
      } finally {
        // Only cycles are errors: the same object reached twice on different branches is fine.
        seen.delete(value);
      }
    }
    default:
      return `${path} is ${describeValue(value)}, not JSON`;
  }
}

/**
 * Throws InvalidKeyError unless `key` is a plain JSON object whose `kind` is `kind` and whose `id` is a
 * non-empty string. Connectors call this first in every method that takes a key.
 */
export function assertKey(key: unknown, kind: string): asserts key is Key {
  if (!isPlainObject(key)) {
    throw new InvalidKeyError(`A ${kind} key must be a plain object, got ${describeValue(key)}`);
  }
  if (typeof key.kind !== 'string') {
    throw new InvalidKeyError(`A ${kind} key needs a string 'kind', got ${describeValue(key.kind)}`);
  }
  if (key.kind !== kind) {
    throw new InvalidKeyError(`Key of kind '${key.kind}' given to a '${kind}' connector`);
  }
  if (typeof key.id !== 'string' || key.id === '') {
    const got = typeof key.id === 'string' ? 'an empty string' : describeValue(key.id);
    throw new InvalidKeyError(`A ${kind} key needs a non-empty string 'id', got ${got}`);
  }
  const bad = findNonJson(key, 'key', new Set());
  if (bad !== null) throw new InvalidKeyError(`Malformed ${kind} key: ${bad}`);
}

function sortedJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedJson);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = sortedJson((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

/**
 * A canonical string for a key: JSON with fields sorted at every depth, so two keys equal as data give
 * the same string whatever order their fields were written in (after a JSON round trip, from another
 * language). Use it as a Map or cache key.
 */
export function keyToString(key: Key): string {
  return JSON.stringify(sortedJson(key));
}

/** A fresh random id (a UUID: letters, digits and '-', safe as a file name or Redis key). */
export function newId(): string {
  return randomUUID();
}

/**
 * Checks that a connector was handed frames (an array of Uint8Array) before it writes anything: a
 * TypeError, the same in every connector, rather than a failure half-way through a write.
 */
export function assertFrames(frames: unknown): asserts frames is Frames {
  if (!Array.isArray(frames) || !frames.every((f) => f instanceof Uint8Array)) {
    throw new TypeError('Frames must be an array of Uint8Array');
  }
}
