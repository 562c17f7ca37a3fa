import { createProxy, getFactory, isProxy, isResolved, type ProxyFactory } from '@proxystore/proxy';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CodecRegistry } from './codecs.js';
import { SerializationError } from './errors.js';
import { deserialize, inspectFrames, serialize, setProxyReviver } from './serialize.js';

interface Ref {
  key: string;
}

/** A factory that counts every call, as a store-backed one would fetch on each. */
function countingFactory(key: string, value: unknown, withReference = true) {
  const calls = { resolveSync: 0, resolve: 0, toReference: 0 };
  const factory: ProxyFactory<unknown> = {
    resolveSync: () => {
      calls.resolveSync++;
      return value;
    },
    resolve: async () => {
      calls.resolve++;
      return value;
    },
  };
  if (withReference) {
    factory.toReference = () => {
      calls.toReference++;
      return { key } satisfies Ref;
    };
  }
  return { factory, calls };
}

/** A reviver that makes a new (unresolved) proxy from a reference, as core's does. */
function reviver(values: Record<string, unknown>) {
  return vi.fn((ref: unknown) => {
    const { key } = ref as Ref;
    const { factory } = countingFactory(key, values[key]);
    return createProxy(factory);
  });
}

afterEach(() => setProxyReviver(undefined));

describe('nested proxies', () => {
  it('a proxy met after large buffers leaves no stray frames from the first (v8-only) attempt', () => {
    const a = countingFactory('a', { big: 'data' });
    const before = new Float64Array(4096).fill(1.5);
    const after = new Uint8Array(8192).fill(9);
    const value = { before, proxy: createProxy(a.factory), after };
    const frames = serialize(value);
    expect(a.calls.resolveSync + a.calls.resolve).toBe(0);
    // header + skeleton + exactly one frame per large buffer
    expect(frames).toHaveLength(4);
    expect(frames.slice(2).map((f) => f.byteLength)).toEqual([before.byteLength, after.byteLength]);
    setProxyReviver(reviver({ a: { big: 'data' } }));
    const back = deserialize<typeof value>(frames);
    expect(back.before).toEqual(before);
    expect(back.after).toEqual(after);
    expect(isProxy(back.proxy)).toBe(true);
  });

  it('encodes proxies anywhere in a value as references without resolving them', () => {
    const a = countingFactory('a', { big: 'data' });
    const b = countingFactory('b', [1, 2, 3], true);
    const pa = createProxy(a.factory);
    const pb = createProxy(b.factory, { shape: { type: 'object', builtin: 'Array' } });
    const value = {
      top: pa,
      list: [pa, pb],
      map: new Map<unknown, unknown>([[pb, pa]]),
      set: new Set([pb]),
      nested: { deeper: { pa } },
      err: new Error('x', { cause: pb }),
    };
    const frames = serialize(value);
    expect(a.calls.resolveSync + a.calls.resolve + b.calls.resolveSync + b.calls.resolve).toBe(0);
    expect(isResolved(pa)).toBe(false);
    expect(isResolved(pb)).toBe(false);
    // One reference per proxy, however often it appears.
    expect(a.calls.toReference).toBe(1);
    expect(b.calls.toReference).toBe(1);
    // The original value is not modified by the substitution.
    expect(value.list[0]).toBe(pa);
    expect(value.map.get(pb)).toBe(pa);

    const revive = reviver({ a: { big: 'data' }, b: [1, 2, 3] });
    const out = deserialize<typeof value>(frames, { reviveProxy: revive });
    expect(revive).toHaveBeenCalledTimes(2);
    expect(revive.mock.calls.map(([r]) => r)).toEqual(expect.arrayContaining([{ key: 'a' }, { key: 'b' }]));
    expect(isProxy(out.top)).toBe(true);
    // Identity survives: the same proxy revives to the same object wherever it appeared.
    expect(out.list[0]).toBe(out.top);
    expect(out.nested.deeper.pa).toBe(out.top);
    expect([...out.set][0]).toBe(out.list[1]);
    expect(out.map.get(out.list[1])).toBe(out.top);
    expect(out.err.cause).toBe(out.list[1]);
    expect((getFactory(out.top).toReference?.() as Ref).key).toBe('a');
  });

  it('encodes a top-level proxy as its reference, kind "proxy"', () => {
    const { factory, calls } = countingFactory('top', 'value');
    const frames = serialize(createProxy(factory, { shape: { type: 'string' } }));
    expect(inspectFrames(frames).kind).toBe('proxy');
    expect(calls.resolveSync + calls.resolve).toBe(0);
    const revive = vi.fn((ref: unknown) => ({ revived: ref }));
    expect(deserialize(frames, { reviveProxy: revive })).toEqual({ revived: { key: 'top' } });
    expect(revive).toHaveBeenCalledOnce();
  });

  it('encodes a proxy of a typed array or function by reference, never by its value', () => {
    const arr = countingFactory('arr', new Float64Array(10));
    const fn = countingFactory('fn', () => 1);
    const parr = createProxy(arr.factory, { shape: { type: 'object', builtin: 'Float64Array' } });
    const pfn = createProxy(fn.factory, { shape: { type: 'function' } });
    const frames = serialize({ parr, pfn });
    expect(arr.calls.resolveSync + fn.calls.resolveSync).toBe(0);
    const out = deserialize<{ parr: unknown; pfn: unknown }>(frames, { reviveProxy: (r) => r });
    expect(out).toEqual({ parr: { key: 'arr' }, pfn: { key: 'fn' } });
  });

  it('encodes a resolved proxy as a reference too, without calling the factory again', () => {
    const { factory, calls } = countingFactory('r', { x: 1 });
    const p = createProxy<{ x: number }>(factory as ProxyFactory<{ x: number }>);
    expect(p.x).toBe(1);
    serialize([p]);
    expect(calls.resolveSync).toBe(1);
  });

  it('uses the module reviver set with setProxyReviver, and the option over it', () => {
    const frames = serialize({ p: createProxy(countingFactory('m', 1).factory) });
    setProxyReviver((ref) => ['module', ref]);
    expect(deserialize(frames)).toEqual({ p: ['module', { key: 'm' }] });
    expect(deserialize(frames, { reviveProxy: (ref) => ['option', ref] })).toEqual({ p: ['option', { key: 'm' }] });
  });

  it('without a reviver throws SERIALIZE_NO_PROXY_REVIVER', () => {
    const frames = serialize([createProxy(countingFactory('x', 1).factory)]);
    expect(() => deserialize(frames)).toThrow(expect.objectContaining({ code: 'SERIALIZE_NO_PROXY_REVIVER' }));
    const top = serialize(createProxy(countingFactory('y', 1).factory));
    expect(() => deserialize(top)).toThrow(expect.objectContaining({ code: 'SERIALIZE_NO_PROXY_REVIVER' }));
  });

  it('a proxy whose factory has no toReference is SERIALIZE_UNSUPPORTED_VALUE, and is not resolved', () => {
    const { factory, calls } = countingFactory('n', 1, false);
    const p = createProxy(factory);
    for (const value of [p, { p }, [1, [p]]]) {
      let caught: unknown;
      try {
        serialize(value);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(SerializationError);
      expect((caught as SerializationError).code).toBe('SERIALIZE_UNSUPPORTED_VALUE');
      expect((caught as Error).message).toMatch(/toReference/);
    }
    expect(calls.resolveSync + calls.resolve).toBe(0);
  });

  it('keeps cycles that pass through an object holding a proxy', () => {
    const p = createProxy(countingFactory('c', 1).factory);
    const a: Record<string, unknown> = { p };
    const b: Record<string, unknown> = { a };
    a.b = b;
    a.self = a;
    const out = deserialize<typeof a>(serialize(a), { reviveProxy: (r) => r });
    expect(out.self).toBe(out);
    expect((out.b as typeof b).a).toBe(out);
    expect(out.p).toEqual({ key: 'c' });
  });

  it('leaves subgraphs without proxies as they are (shared typed arrays still go out of band once)', () => {
    const data = new Float64Array(1000);
    const p = createProxy(countingFactory('s', 1).factory);
    const value = { p, x: { data }, y: { data } };
    const frames = serialize(value);
    expect(frames).toHaveLength(3);
    expect(frames[2]!.buffer).toBe(data.buffer);
    const out = deserialize<typeof value>(frames, { reviveProxy: (r) => r });
    expect(out.x.data).toBe(out.y.data);
  });

  it('finds proxies held by codec data', () => {
    class Box {
      constructor(readonly inner: unknown) {}
    }
    const codecs = new CodecRegistry([
      {
        name: 'box',
        test: (v: unknown): v is Box => v instanceof Box,
        encode: (b: Box) => ({ inner: b.inner }),
        decode: (d: { inner: unknown }) => new Box(d.inner),
      },
    ]);
    const { factory, calls } = countingFactory('in-box', 1);
    const p = createProxy(factory);
    const out = deserialize<{ box: Box; p: unknown }>(serialize({ box: new Box(p), p }, { codecs }), {
      codecs,
      reviveProxy: (r) => ({ r }),
    });
    expect(calls.resolveSync).toBe(0);
    expect(out.box).toBeInstanceOf(Box);
    expect(out.box.inner).toBe(out.p);
  });

  it('a class instance holding a proxy comes back as a plain object, as v8 writes class instances', () => {
    class Holder {
      constructor(readonly p: unknown) {}
    }
    const p = createProxy(countingFactory('h', 1).factory);
    const out = deserialize<{ h: { p: unknown } }>(serialize({ h: new Holder(p) }), { reviveProxy: (r) => r });
    expect(out.h).toEqual({ p: { key: 'h' } });
    expect(out.h).not.toBeInstanceOf(Holder);
  });

  it('a foreign (non-ProxyStore) Proxy is SERIALIZE_UNSUPPORTED_VALUE, as v8 refuses it', () => {
    expect(() => serialize({ x: new Proxy({}, {}) })).toThrow(
      expect.objectContaining({ code: 'SERIALIZE_UNSUPPORTED_VALUE' }),
    );
  });
});
