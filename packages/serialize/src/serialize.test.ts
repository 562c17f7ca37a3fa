import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SerializationError } from './errors.js';
import { FRAME_ALIGNMENT, joinFrames, unpackFrames } from './frames.js';
import { deserialize, inspectFrames, serialize } from './serialize.js';
import { codeOf } from '../test/error-code.js';

const roundTrip = <T>(value: T, threshold?: number): T =>
  deserialize<T>(serialize(value, threshold === undefined ? {} : { outOfBandThreshold: threshold }));

/** Copies each frame into its own fresh, 64-byte-aligned memory, as a transport that received them would. */
const received = (frames: Uint8Array[]): Uint8Array[] => frames.map((f) => new Uint8Array(f));

const TYPED = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
] as const;

function sample(C: (typeof TYPED)[number], n: number): ArrayBufferView {
  const out = new C(n);
  for (let i = 0; i < n; i++) {
    (out as unknown as unknown[])[i] = out instanceof BigInt64Array || out instanceof BigUint64Array ? BigInt(i * 3) : i * 3;
  }
  return out;
}

describe('top-level binary values', () => {
  it.each(TYPED.map((C) => [C.name, C] as const))('%s round-trips with its type and dtype', (_, C) => {
    const value = sample(C, 37);
    const frames = serialize(value);
    expect(frames).toHaveLength(2);
    const out = deserialize(received(frames));
    expect(out).toBeInstanceOf(C);
    expect(out).toEqual(value);
    const info = inspectFrames(frames);
    expect(info.kind).toBe(C === Uint8Array ? 'bytes' : 'typedarray');
    expect(info.dtype).toBe(C.name.replace(/Array$/, '').toLowerCase());
  });

  it('sends the bytes as a view of the input, not a copy', () => {
    const backing = new ArrayBuffer(1024);
    const value = new Float32Array(backing, 16, 10);
    const frames = serialize(value);
    expect(frames[1]!.buffer).toBe(backing);
    expect(frames[1]!.byteOffset).toBe(16);
    expect(frames[1]!.byteLength).toBe(40);
  });

  it('a Buffer comes back as a Buffer, a Uint8Array as a plain Uint8Array', () => {
    const buf = roundTrip(Buffer.from('hello'));
    expect(Buffer.isBuffer(buf)).toBe(true);
    expect(buf.toString()).toBe('hello');
    const u8 = roundTrip(new Uint8Array([1, 2, 3]));
    expect(Buffer.isBuffer(u8)).toBe(false);
    expect(u8).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('ArrayBuffer and DataView round-trip as themselves', () => {
    const ab = new Uint8Array([1, 2, 3, 4]).buffer;
    const outAb = roundTrip(ab);
    expect(outAb).toBeInstanceOf(ArrayBuffer);
    expect(new Uint8Array(outAb)).toEqual(new Uint8Array([1, 2, 3, 4]));
    const dv = new DataView(new ArrayBuffer(8), 2, 4);
    dv.setUint16(0, 0xbeef);
    const outDv = roundTrip(dv);
    expect(outDv).toBeInstanceOf(DataView);
    expect(outDv.byteLength).toBe(4);
    expect(outDv.getUint16(0)).toBe(0xbeef);
  });

  it('an ArrayBuffer frame that is a whole buffer becomes the value without a copy', () => {
    const frames = received(serialize(new ArrayBuffer(100)));
    expect(deserialize(frames)).toBe(frames[1]!.buffer);
  });

  it('empty views round-trip', () => {
    expect(roundTrip(new Float64Array(0))).toEqual(new Float64Array(0));
    expect(roundTrip(new Uint8Array(0))).toEqual(new Uint8Array(0));
  });
});

describe('zero copy on decode', () => {
  it('a top-level Float64Array is a view over the received frame', () => {
    const frames = received(serialize(new Float64Array([1.5, 2.5, 3.5])));
    const out = deserialize<Float64Array>(frames);
    expect(out.buffer).toBe(frames[1]!.buffer);
    expect(out).toEqual(new Float64Array([1.5, 2.5, 3.5]));
  });

  it('a Float64Array nested in a structured value is a view over its out-of-band frame', () => {
    const data = new Float64Array(512).map((_, i) => i / 2);
    const frames = received(serialize({ name: 'x', data }));
    expect(frames).toHaveLength(3);
    const out = deserialize<{ name: string; data: Float64Array }>(frames);
    expect(out.data.buffer).toBe(frames[2]!.buffer);
    expect(out.data).toEqual(data);
  });

  it('through joinFrames -> unpackFrames, values view the one packed buffer', () => {
    const data = new Float64Array(300).fill(Math.PI);
    const top = new BigInt64Array([1n, -2n]);
    const packed = joinFrames(serialize({ data }));
    const out = deserialize<{ data: Float64Array }>(unpackFrames(packed));
    expect(out.data.buffer).toBe(packed.buffer);
    expect(out.data).toEqual(data);
    const packed2 = joinFrames(serialize(top));
    const out2 = deserialize<BigInt64Array>(unpackFrames(packed2));
    expect(out2.buffer).toBe(packed2.buffer);
    expect(out2).toEqual(top);
  });

  it('copies into aligned memory when the frame is not aligned to the element size', () => {
    const [header, frame] = serialize(new Float64Array([1, 2, 3]));
    const misaligned = new Uint8Array(frame!.byteLength + 3).subarray(3);
    misaligned.set(frame!);
    const out = deserialize<Float64Array>([header!, misaligned]);
    expect(out).toEqual(new Float64Array([1, 2, 3]));
    expect(out.buffer).not.toBe(misaligned.buffer);
  });

  it('serialize does not copy nested out-of-band buffers', () => {
    const big = new Int32Array(1000);
    const frames = serialize([big, { again: new Uint16Array(big.buffer, 8, 600) }]);
    expect(frames[2]!.buffer).toBe(big.buffer);
    expect(frames[3]!.buffer).toBe(big.buffer);
    expect(frames[3]!.byteOffset).toBe(8);
  });
});

describe('out-of-band threshold', () => {
  it('by default sends views of 1024 bytes and more out of band, smaller ones inline', () => {
    const frames = serialize({ small: new Uint8Array(1023), big: new Uint8Array(1024) });
    expect(inspectFrames(frames).sizes.slice(2)).toEqual([1024]);
  });

  it('0 sends every nested view out of band; Infinity keeps them all inline', () => {
    const value = { a: new Uint8Array(3), b: new Float32Array(2), c: Buffer.from('x') };
    expect(serialize(value, { outOfBandThreshold: 0 })).toHaveLength(5);
    expect(serialize(value, { outOfBandThreshold: Infinity })).toHaveLength(2);
    expect(roundTrip(value, 0)).toEqual(value);
    expect(roundTrip(value, Infinity)).toEqual(value);
  });

  it('inline views come back as their own type, in their own memory', () => {
    const value = { f: new Float64Array([1, 2]), b: Buffer.from('ab'), d: new DataView(new ArrayBuffer(4)) };
    const frames = serialize(value);
    const out = deserialize<typeof value>(frames);
    expect(out.f).toBeInstanceOf(Float64Array);
    expect(Buffer.isBuffer(out.b)).toBe(true);
    expect(out.d).toBeInstanceOf(DataView);
    expect(out.f.buffer).not.toBe(frames[1]!.buffer);
  });

  it('rejects a negative or NaN threshold', () => {
    expect(() => serialize({}, { outOfBandThreshold: -1 })).toThrow(TypeError);
    expect(() => serialize({}, { outOfBandThreshold: Number.NaN })).toThrow(TypeError);
  });
});

describe('strings', () => {
  it('a string travels as one UTF-8 frame', () => {
    const s = 'héllo wörld ✓ 🎉';
    const frames = serialize(s);
    expect(inspectFrames(frames).kind).toBe('string');
    expect(Buffer.from(frames[1]!).toString('utf8')).toBe(s);
    expect(roundTrip(s)).toBe(s);
  });

  it('keeps a leading byte-order mark and the empty string', () => {
    expect(roundTrip('\uFEFFx')).toBe('\uFEFFx');
    expect(roundTrip('')).toBe('');
  });

  it('a string with a lone surrogate (no UTF-8 form) survives exactly, via the structured path', () => {
    const s = 'a\uD800b';
    expect(inspectFrames(serialize(s)).kind).toBe('structured');
    expect(roundTrip(s)).toBe(s);
  });
});

describe('structured values', () => {
  it('round-trips objects, arrays, Map, Set, Date, RegExp, BigInt, Error and primitives', () => {
    const value = {
      n: 1.5,
      neg0: -0,
      nan: Number.NaN,
      big: 2n ** 70n,
      s: 'x',
      nil: null,
      undef: undefined,
      bool: true,
      arr: [1, 'two', [3]],
      map: new Map<unknown, unknown>([['k', { v: 1 }], [2, [2]]]),
      set: new Set([1, 'a']),
      date: new Date(1_700_000_000_000),
      re: /a+b/gi,
      err: new RangeError('bad', { cause: { why: 'because' } }),
    };
    const out = roundTrip(value);
    expect(out).toEqual(value);
    expect(out.err).toBeInstanceOf(RangeError);
    expect(out.err.cause).toEqual({ why: 'because' });
    expect(Object.is(out.neg0, -0)).toBe(true);
  });

  it('round-trips top-level primitives', () => {
    for (const v of [0, -1.25, 10n, null, undefined, true, false]) expect(roundTrip(v)).toBe(v);
  });

  it('keeps cycles and shared references, typed arrays included', () => {
    const shared = new Float32Array(400);
    const a: Record<string, unknown> = { shared, again: shared };
    a.self = a;
    const out = roundTrip(a);
    expect(out.self).toBe(out);
    expect(out.again).toBe(out.shared);
  });

  it('sends a typed array referenced twice as one frame', () => {
    const big = new Float64Array(1000);
    expect(serialize([big, big, { big }])).toHaveLength(3);
  });

  it('keeps array holes and class instances become plain objects (as structuredClone does)', () => {
    class Point {
      constructor(
        public x: number,
        public y: number,
      ) {}
    }
    // eslint-disable-next-line no-sparse-arrays
    const out = roundTrip([1, , 3, new Point(1, 2)]);
    expect(1 in out).toBe(false);
    expect(out[3]).toEqual({ x: 1, y: 2 });
    expect(out[3]).not.toBeInstanceOf(Point);
  });

  it('rejects functions, symbols and WeakMaps with SERIALIZE_UNSUPPORTED_VALUE and v8 error as cause', () => {
    for (const bad of [{ f: () => 1 }, Symbol('s'), { w: new WeakMap() }, [new WeakSet()], Promise.resolve(1)]) {
      let caught: unknown;
      try {
        serialize(bad);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(SerializationError);
      expect((caught as SerializationError).code).toBe('SERIALIZE_UNSUPPORTED_VALUE');
      expect((caught as SerializationError).cause).toBeInstanceOf(Error);
    }
  });
});

describe('inspectFrames', () => {
  it('reports kind, dtype and frame sizes without decoding', () => {
    const frames = serialize({ a: new Float64Array(200) });
    const info = inspectFrames(frames);
    expect(info).toEqual({ kind: 'structured', dtype: 'bytes', sizes: frames.map((f) => f.byteLength) });
    expect(info.sizes[2]).toBe(1600);
  });

  it('validates like deserialize', () => {
    const frames = serialize('abc');
    expect(codeOf(() => inspectFrames(frames.slice(0, 1)))).toBe('SERIALIZE_TRUNCATED');
  });
});

describe('header frame', () => {
  it('starts with the flatbuffers identifier PSFH and stays small', () => {
    const [header] = serialize(new Float64Array(10));
    expect(Buffer.from(header!.subarray(4, 8)).toString('latin1')).toBe('PSFH');
    expect(header!.byteLength).toBeLessThan(128);
  });
});

// Arbitrary structured values with typed arrays mixed in, to check the round trip as a whole.
const typedArb = fc.oneof(
  fc.float64Array({ maxLength: 200 }),
  fc.int32Array({ maxLength: 300 }),
  fc.uint8Array({ maxLength: 1500 }),
  fc.int16Array({ maxLength: 20 }),
  fc.bigInt64Array({ maxLength: 150 }),
  fc.uint8Array({ maxLength: 10 }).map((u) => Buffer.from(u)),
);
const leafArb = fc.oneof(
  fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true, withNullPrototype: false }),
  typedArb,
);
const valueArb = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leafArb, fc.array(tie('value'), { maxLength: 5 }), fc.dictionary(fc.string(), tie('value'), { maxKeys: 5 }), fc.array(tie('value'), { maxLength: 4 }).map((a) => new Set(a)), fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((e) => new Map(e))),
})).value;

describe('property', () => {
  it('serialize -> deserialize round-trips arbitrary structured values', () => {
    fc.assert(
      fc.property(valueArb, fc.constantFrom(0, 64, 1024, Infinity), (value, threshold) => {
        const frames = serialize(value, { outOfBandThreshold: threshold });
        expect(deserialize(received(frames))).toEqual(value);
        expect(deserialize(unpackFrames(joinFrames(frames)))).toEqual(value);
      }),
      { numRuns: 300 },
    );
  });

  it('every out-of-band frame decodes as an aligned view after joinFrames -> unpackFrames', () => {
    fc.assert(
      fc.property(fc.array(typedArb, { maxLength: 6 }), (arrays) => {
        const packed = joinFrames(serialize(arrays, { outOfBandThreshold: 0 }));
        const out = deserialize<ArrayBufferView[]>(unpackFrames(packed));
        expect(out).toEqual(arrays);
        for (const a of out) {
          expect(a.buffer).toBe(packed.buffer);
          expect(a.byteOffset % FRAME_ALIGNMENT).toBe(0);
        }
      }),
    );
  });
});
