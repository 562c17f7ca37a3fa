import { afterEach, describe, expect, it } from 'vitest';
import { CodecRegistry, defaultCodecs, registerCodec, type Codec } from './codecs.js';
import { SerializationError } from './errors.js';
import { deserialize, inspectFrames, serialize } from './serialize.js';

/** A class whose prototype matters: v8 alone would flatten it to a plain object. */
class Matrix {
  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly data: Float64Array,
  ) {}

  at(r: number, c: number): number {
    return this.data[r * this.cols + c]!;
  }
}

const matrixCodec: Codec<Matrix, { rows: number; cols: number; data: Float64Array }> = {
  name: 'test.Matrix',
  test: (v): v is Matrix => v instanceof Matrix,
  encode: (m) => ({ rows: m.rows, cols: m.cols, data: m.data }),
  decode: (d) => new Matrix(d.rows, d.cols, d.data),
};

const matrix = (rows: number, cols: number): Matrix =>
  new Matrix(rows, cols, new Float64Array(rows * cols).map((_, i) => i));

afterEach(() => {
  defaultCodecs.unregister(matrixCodec.name);
});

describe('CodecRegistry', () => {
  it('registers, finds by test, gets by name and unregisters', () => {
    const reg = new CodecRegistry();
    reg.register(matrixCodec);
    expect(reg.get('test.Matrix')).toBe(matrixCodec);
    expect(reg.find(matrix(1, 1))).toBe(matrixCodec);
    expect(reg.find({})).toBeUndefined();
    expect(reg.size).toBe(1);
    expect(reg.unregister('test.Matrix')).toBe(true);
    expect(reg.unregister('test.Matrix')).toBe(false);
    expect(reg.get('test.Matrix')).toBeUndefined();
  });

  it('refuses a second codec with the same name, or no name', () => {
    const reg = new CodecRegistry([matrixCodec]);
    expect(() => reg.register(matrixCodec)).toThrow(/already registered/);
    expect(() => reg.register({ ...matrixCodec, name: '' })).toThrow(TypeError);
  });

  it('find returns the first registered codec that accepts the value', () => {
    const first: Codec<object> = { name: 'a', test: (v): v is object => typeof v === 'object', encode: (v) => v, decode: (v) => v as object };
    const reg = new CodecRegistry([first, matrixCodec]);
    expect(reg.find(matrix(1, 1))).toBe(first);
  });
});

describe('codec values', () => {
  it('round-trip at top level; the header names the codec and the data goes out of band', () => {
    const codecs = new CodecRegistry([matrixCodec]);
    const m = matrix(20, 20);
    const frames = serialize(m, { codecs });
    expect(inspectFrames(frames)).toMatchObject({ kind: 'structured', codec: 'test.Matrix' });
    // header, skeleton, the 3200-byte Float64Array as its own frame (a view of the original)
    expect(frames[2]!.buffer).toBe(m.data.buffer);
    const out = deserialize<Matrix>(frames, { codecs });
    expect(out).toBeInstanceOf(Matrix);
    expect(out.at(3, 4)).toBe(64);
    expect(out.data.buffer).toBe(frames[2]!.buffer);
  });

  it('a codec may encode to a top-level typed array', () => {
    class Vec {
      constructor(readonly v: Float32Array) {}
    }
    const codecs = new CodecRegistry([
      { name: 'vec', test: (x: unknown): x is Vec => x instanceof Vec, encode: (x: Vec) => x.v, decode: (d: Float32Array) => new Vec(d) },
    ]);
    const frames = serialize(new Vec(new Float32Array([1, 2])), { codecs });
    expect(inspectFrames(frames)).toMatchObject({ kind: 'typedarray', dtype: 'float32', codec: 'vec' });
    const out = deserialize<Vec>(frames, { codecs });
    expect(out).toBeInstanceOf(Vec);
    expect(out.v).toEqual(new Float32Array([1, 2]));
  });

  it('round-trip nested in objects, arrays, Maps and Sets, keeping identity', () => {
    const codecs = new CodecRegistry([matrixCodec]);
    const m = matrix(2, 3);
    const value = { list: [m, matrix(1, 1)], map: new Map([['m', m]]), set: new Set([m]), again: m };
    const out = deserialize<typeof value>(serialize(value, { codecs }), { codecs });
    expect(out.list[0]).toBeInstanceOf(Matrix);
    expect(out.list[0]!.at(1, 2)).toBe(5);
    expect(out.map.get('m')).toBe(out.list[0]);
    expect([...out.set][0]).toBe(out.list[0]);
    expect(out.again).toBe(out.list[0]);
    expect(out.list[1]).toBeInstanceOf(Matrix);
  });

  it('codec data may hold other codec values', () => {
    class Pair {
      constructor(
        readonly a: Matrix,
        readonly b: Matrix,
      ) {}
    }
    const codecs = new CodecRegistry([
      matrixCodec,
      {
        name: 'pair',
        test: (v: unknown): v is Pair => v instanceof Pair,
        encode: (p: Pair) => [p.a, p.b],
        decode: ([a, b]: [Matrix, Matrix]) => new Pair(a, b),
      },
    ]);
    const out = deserialize<Pair>(serialize(new Pair(matrix(1, 2), matrix(2, 1)), { codecs }), { codecs });
    expect(out).toBeInstanceOf(Pair);
    expect(out.a).toBeInstanceOf(Matrix);
    expect(out.b.at(1, 0)).toBe(1);
  });

  it('uses defaultCodecs when no registry is given (registerCodec)', () => {
    registerCodec(matrixCodec);
    const out = deserialize<{ m: Matrix }>(serialize({ m: matrix(2, 2) }));
    expect(out.m).toBeInstanceOf(Matrix);
  });

  it('an unknown codec on decode is SERIALIZE_UNKNOWN_CODEC, top level or nested', () => {
    const codecs = new CodecRegistry([matrixCodec]);
    for (const value of [matrix(1, 1), { nested: [matrix(1, 1)] }]) {
      const frames = serialize(value, { codecs });
      let caught: unknown;
      try {
        deserialize(frames, { codecs: new CodecRegistry() });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(SerializationError);
      expect((caught as SerializationError).code).toBe('SERIALIZE_UNKNOWN_CODEC');
      expect((caught as Error).message).toContain('test.Matrix');
    }
  });

  it('a codec whose data refers back to the value itself is refused when encoding', () => {
    class Node {
      self: Node = this;
    }
    const codecs = new CodecRegistry([
      { name: 'node', test: (v: unknown): v is Node => v instanceof Node, encode: (n: Node) => ({ self: n.self }), decode: () => new Node() },
    ]);
    expect(() => serialize({ n: new Node() }, { codecs })).toThrow(
      expect.objectContaining({ code: 'SERIALIZE_UNSUPPORTED_VALUE' }),
    );
  });

  it('a decode failure inside a codec becomes SERIALIZE_CORRUPT with the cause kept', () => {
    const enc = new CodecRegistry([matrixCodec]);
    const dec = new CodecRegistry([
      {
        ...matrixCodec,
        decode: () => {
          throw new TypeError('bad data');
        },
      },
    ]);
    for (const value of [matrix(1, 1), [matrix(1, 1)]]) {
      let caught: unknown;
      try {
        deserialize(serialize(value, { codecs: enc }), { codecs: dec });
      } catch (err) {
        caught = err;
      }
      expect((caught as SerializationError).code).toBe('SERIALIZE_CORRUPT');
      expect((caught as Error).cause).toBeInstanceOf(TypeError);
    }
  });
});
