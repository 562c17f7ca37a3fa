import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidKeyError } from './errors.js';
import { FileConnector } from './connectors/file.js';
import { MemoryConnector } from './connectors/memory.js';
import { MultiConnector } from './connectors/multi.js';
import { assertFrames, assertKey, keyToString, newId } from './key.js';

function rejection(key: unknown, kind = 'file'): InvalidKeyError {
  try {
    assertKey(key, kind);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidKeyError);
    expect((err as InvalidKeyError).code).toBe('INVALID_KEY');
    return err as InvalidKeyError;
  }
  throw new Error(`assertKey accepted ${String(key)}`);
}

describe('assertKey', () => {
  it('accepts a plain key, with extra JSON fields and nested plain data', () => {
    expect(() => assertKey({ kind: 'file', id: 'a' }, 'file')).not.toThrow();
    expect(() =>
      assertKey({ kind: 'memory', id: 'a', segment: 's', meta: { n: 1, xs: [null, true, 'x'] } }, 'memory'),
    ).not.toThrow();
  });

  it('accepts a null-prototype object (what some parsers produce)', () => {
    const key = Object.assign(Object.create(null) as object, { kind: 'file', id: 'a' });
    expect(() => assertKey(key, 'file')).not.toThrow();
  });

  it('accepts the same object reached twice on different branches (not a cycle)', () => {
    const shared = { a: 1 };
    expect(() => assertKey({ kind: 'file', id: 'a', x: shared, y: shared }, 'file')).not.toThrow();
  });

  it.each([
    ['null', null, /plain object, got null/],
    ['undefined', undefined, /plain object, got undefined/],
    ['a string', 'file:a', /plain object, got a string/],
    ['an array', ['file', 'a'], /plain object, got an array/],
    ['a class instance', new (class FileKey { kind = 'file'; id = 'a' })(), /instance of FileKey/],
    ['a Map', new Map([['kind', 'file']]), /instance of Map/],
  ])('rejects %s', (_name, key, message) => {
    expect(rejection(key).message).toMatch(message);
  });

  it('rejects a missing or non-string kind', () => {
    expect(rejection({ id: 'a' }).message).toMatch(/string 'kind'/);
    expect(rejection({ kind: 1, id: 'a' }).message).toMatch(/string 'kind'/);
  });

  it('rejects a key of another kind, naming both kinds', () => {
    expect(rejection({ kind: 'memory', id: 'a' }, 'file').message).toMatch(/'memory'.*'file'/);
  });

  it('rejects a missing, empty or non-string id', () => {
    expect(rejection({ kind: 'file' }).message).toMatch(/non-empty string 'id', got undefined/);
    expect(rejection({ kind: 'file', id: '' }).message).toMatch(/got an empty string/);
    expect(rejection({ kind: 'file', id: 7 }).message).toMatch(/got 7/);
  });

  it.each([
    ['undefined', undefined, /key\.x is undefined/],
    ['a function', () => 1, /key\.x is a function/],
    ['a symbol', Symbol('s'), /key\.x is a symbol/],
    ['a bigint', 1n, /key\.x is a bigint/],
    ['NaN', Number.NaN, /key\.x is NaN/],
    ['Infinity', Number.POSITIVE_INFINITY, /key\.x is Infinity/],
    ['a Date', new Date(0), /key\.x is an instance of Date/],
    ['a nested class instance', { deep: [new Uint8Array(1)] }, /key\.x\.deep\[0\] is an instance of Uint8Array/],
  ])('rejects a field holding %s, naming the path', (_name, value, message) => {
    expect(rejection({ kind: 'file', id: 'a', x: value }).message).toMatch(message);
  });

  it('rejects a cycle', () => {
    const key: Record<string, unknown> = { kind: 'file', id: 'a' };
    key.self = key;
    expect(rejection(key).message).toMatch(/key\.self is a cycle/);
  });
});

describe('keyToString', () => {
  it('does not depend on field order, at any depth', () => {
    const a = keyToString({ kind: 'm', id: 'x', meta: { b: 1, a: [{ d: 1, c: 2 }] } });
    const b = keyToString({ meta: { a: [{ c: 2, d: 1 }], b: 1 }, id: 'x', kind: 'm' });
    expect(a).toBe(b);
    expect(a).toBe('{"id":"x","kind":"m","meta":{"a":[{"c":2,"d":1}],"b":1}}');
  });

  it('tells different keys apart', () => {
    expect(keyToString({ kind: 'm', id: 'x' })).not.toBe(keyToString({ kind: 'm', id: 'y' }));
    expect(keyToString({ kind: 'm', id: 'x' })).not.toBe(keyToString({ kind: 'f', id: 'x' }));
    expect(keyToString({ kind: 'm', id: 'x', s: '1' })).not.toBe(keyToString({ kind: 'm', id: 'x', s: 1 }));
  });

  it('is unchanged by a JSON round trip', () => {
    const key = { kind: 'm', id: 'x', segment: 's' };
    expect(keyToString(JSON.parse(JSON.stringify(key)) as typeof key)).toBe(keyToString(key));
  });
});

describe('newId', () => {
  it('gives distinct ids that are safe as file names', () => {
    const ids = new Set(Array.from({ length: 1000 }, newId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});

describe('assertFrames', () => {
  it('accepts arrays of Uint8Array (Buffers included), empty ones too', () => {
    expect(() => assertFrames([])).not.toThrow();
    expect(() => assertFrames([new Uint8Array(1), Buffer.from('x')])).not.toThrow();
  });

  it.each([[null], ['bytes'], [new Uint8Array(4)], [[new Uint8Array(1), 'x']], [[new ArrayBuffer(4)]]])(
    'rejects %o with a TypeError',
    (frames) => {
      expect(() => assertFrames(frames)).toThrow(new TypeError('Frames must be an array of Uint8Array'));
    },
  );

  it('is what the built-in connectors check before writing anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ps-frames-'));
    const connectors = [
      new MemoryConnector(),
      new FileConnector({ directory: dir }),
      new MultiConnector({ connectors: { only: { connector: new MemoryConnector(), policy: {} } } }),
    ];
    try {
      for (const c of connectors) {
        await expect(c.put(['not bytes'] as unknown as Uint8Array[])).rejects.toThrow(TypeError);
      }
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      for (const c of connectors) await c.close({ clear: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
