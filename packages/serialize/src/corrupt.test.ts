// Malformed input: every way a peer, a disk or a bug can hand us bad frames must end in a
// SerializationError with the right code, never a crash, a hang, or a read outside the frames.
import { createProxy } from '@proxystore/proxy';
import fc from 'fast-check';
import { Builder } from 'flatbuffers';
import { describe, expect, it } from 'vitest';
import { CodecRegistry } from './codecs.js';
import { SerializationError } from './errors.js';
import { DType, FrameDescriptor, FrameRole, Header, ValueKind } from './generated/proxystore_generated.js';
import { decodeHeader, encodeHeader, type HeaderInfo } from './header.js';
import { deserialize, serialize } from './serialize.js';
import { codeOf } from '../test/error-code.js';

/** Frames of `value` with the header replaced by one built from an edited copy of the real header. */
function withHeader(value: unknown, edit: (h: HeaderInfo) => HeaderInfo, options = {}): Uint8Array[] {
  const [header, ...rest] = serialize(value, options);
  return [encodeHeader(edit(decodeHeader(header!))), ...rest];
}

const BIG = new Float64Array(256).fill(1.25);

describe('header frame', () => {
  it('no frames at all is SERIALIZE_TRUNCATED', () => {
    expect(codeOf(() => deserialize([]))).toBe('SERIALIZE_TRUNCATED');
  });

  it('a header too short for a flatbuffer is SERIALIZE_TRUNCATED', () => {
    const [header, ...rest] = serialize('x');
    expect(codeOf(() => deserialize([header!.subarray(0, 7), ...rest]))).toBe('SERIALIZE_TRUNCATED');
  });

  it('a wrong file identifier is SERIALIZE_BAD_MAGIC', () => {
    const frames = serialize('x');
    const header = new Uint8Array(frames[0]!);
    header[5] = 0x00;
    expect(codeOf(() => deserialize([header, ...frames.slice(1)]))).toBe('SERIALIZE_BAD_MAGIC');
    expect(codeOf(() => deserialize([new Uint8Array(64), ...frames.slice(1)]))).toBe('SERIALIZE_BAD_MAGIC');
  });

  it('another format version is SERIALIZE_BAD_VERSION', () => {
    const b = new Builder(64);
    Header.startHeader(b);
    Header.addVersion(b, 2);
    Header.finishHeaderBuffer(b, Header.endHeader(b));
    expect(codeOf(() => deserialize([b.asUint8Array()]))).toBe('SERIALIZE_BAD_VERSION');
  });

  it('a header without a version field is SERIALIZE_BAD_VERSION (version 0 is not ours)', () => {
    const b = new Builder(64);
    Header.startHeader(b);
    Header.addKind(b, ValueKind.String);
    Header.finishHeaderBuffer(b, Header.endHeader(b));
    expect(codeOf(() => deserialize([b.asUint8Array()]))).toBe('SERIALIZE_BAD_VERSION');
  });

  it('a root offset, vtable or vector pointing outside the header is SERIALIZE_CORRUPT', () => {
    const [header, ...rest] = serialize('hello');
    const root = new Uint8Array(header!);
    new DataView(root.buffer).setUint32(0, 10_000, true);
    expect(codeOf(() => deserialize([root, ...rest]))).toBe('SERIALIZE_CORRUPT');

    const table = new DataView(header!.buffer, header!.byteOffset).getUint32(0, true);
    const vtable = new Uint8Array(header!);
    new DataView(vtable.buffer).setInt32(table, -100_000, true);
    expect(codeOf(() => deserialize([vtable, ...rest]))).toBe('SERIALIZE_CORRUPT');
  });

  it('a frames vector that claims more descriptors than the header holds is SERIALIZE_CORRUPT', () => {
    const b = new Builder(64);
    Header.startFramesVector(b, 1);
    FrameDescriptor.createFrameDescriptor(b, 5n, DType.Bytes, FrameRole.Payload);
    const frames = b.endVector();
    Header.startHeader(b);
    Header.addVersion(b, 1);
    Header.addKind(b, ValueKind.String);
    Header.addFrames(b, frames);
    Header.finishHeaderBuffer(b, Header.endHeader(b));
    const bytes = new Uint8Array(b.asUint8Array());
    // The vector's length prefix sits just before its first element; find it by its value (1).
    const view = new DataView(bytes.buffer);
    let patched = false;
    for (let at = 8; at + 4 <= bytes.byteLength; at += 4) {
      if (view.getUint32(at, true) === 1 && view.getBigUint64(at + 4, true) === 5n) {
        view.setUint32(at, 1_000_000, true);
        patched = true;
        break;
      }
    }
    expect(patched).toBe(true);
    expect(codeOf(() => deserialize([bytes, new Uint8Array(5)]))).toBe('SERIALIZE_CORRUPT');
  });

  it('an unknown value kind, dtype or frame role is SERIALIZE_CORRUPT', () => {
    expect(codeOf(() => deserialize(withHeader('abc', (h) => ({ ...h, kind: 99 as ValueKind }))))).toBe('SERIALIZE_CORRUPT');
    expect(codeOf(() => deserialize(withHeader('abc', (h) => ({ ...h, dtype: 42 as DType }))))).toBe('SERIALIZE_CORRUPT');
    expect(
      codeOf(() =>
        deserialize(withHeader('abc', (h) => ({ ...h, frames: h.frames.map((f) => ({ ...f, role: 9 as FrameRole })) }))),
      ),
    ).toBe('SERIALIZE_CORRUPT');
  });
});

describe('frame count and lengths', () => {
  it('fewer frames than the header declares is SERIALIZE_TRUNCATED; more is SERIALIZE_CORRUPT', () => {
    const frames = serialize({ a: BIG });
    expect(codeOf(() => deserialize(frames.slice(0, 2)))).toBe('SERIALIZE_TRUNCATED');
    expect(codeOf(() => deserialize([...frames, new Uint8Array(8)]))).toBe('SERIALIZE_CORRUPT');
  });

  it('a frame shorter than declared is SERIALIZE_TRUNCATED; longer is SERIALIZE_CORRUPT', () => {
    const [h, f] = serialize(new Float64Array(4));
    expect(codeOf(() => deserialize([h!, f!.subarray(0, 31)]))).toBe('SERIALIZE_TRUNCATED');
    expect(codeOf(() => deserialize([h!, new Uint8Array(40)]))).toBe('SERIALIZE_CORRUPT');
  });

  it('a Float64 frame whose length is not a multiple of 8 is SERIALIZE_CORRUPT', () => {
    const frames = withHeader(new Uint8Array(12), (h) => ({
      ...h,
      kind: ValueKind.TypedArray,
      dtype: DType.Float64,
      frames: h.frames.map((f) => ({ ...f, dtype: DType.Float64 })),
    }));
    expect(codeOf(() => deserialize(frames))).toBe('SERIALIZE_CORRUPT');
  });

  it('a payload dtype that contradicts the kind is SERIALIZE_CORRUPT', () => {
    // header dtype and frame dtype disagree
    expect(
      codeOf(() => deserialize(withHeader(new Float32Array(2), (h) => ({ ...h, dtype: DType.Int32 })))),
    ).toBe('SERIALIZE_CORRUPT');
    // a string frame claiming float64
    expect(
      codeOf(() =>
        deserialize(
          withHeader('abcdefgh', (h) => ({
            ...h,
            dtype: DType.Float64,
            frames: h.frames.map((f) => ({ ...f, dtype: DType.Float64 })),
          })),
        ),
      ),
    ).toBe('SERIALIZE_CORRUPT');
  });

  it('a binary kind with a skeleton frame, or a structured kind with a payload frame, is SERIALIZE_CORRUPT', () => {
    expect(
      codeOf(() => deserialize(withHeader('abc', (h) => ({ ...h, frames: h.frames.map((f) => ({ ...f, role: FrameRole.Skeleton })) })))),
    ).toBe('SERIALIZE_CORRUPT');
    expect(
      codeOf(() => deserialize(withHeader({ a: 1 }, (h) => ({ ...h, frames: h.frames.map((f) => ({ ...f, role: FrameRole.Payload })) })))),
    ).toBe('SERIALIZE_CORRUPT');
  });

  it('a string frame that is not UTF-8 is SERIALIZE_CORRUPT', () => {
    const [h] = serialize('ab');
    expect(codeOf(() => deserialize([h!, Uint8Array.from([0xc3, 0x28])]))).toBe('SERIALIZE_CORRUPT');
  });
});

describe('structured frames', () => {
  it('a skeleton that is not a v8 stream is SERIALIZE_CORRUPT', () => {
    const [h, skel] = serialize({ a: 1 });
    expect(codeOf(() => deserialize([h!, new Uint8Array(skel!.byteLength).fill(0xee)]))).toBe('SERIALIZE_CORRUPT');
  });

  it('a skeleton referring to an out-of-band frame that is not there is SERIALIZE_CORRUPT', () => {
    const frames = withHeader({ a: BIG }, (h) => ({ ...h, frames: h.frames.slice(0, 1) }));
    expect(codeOf(() => deserialize(frames.slice(0, 2)))).toBe('SERIALIZE_CORRUPT');
  });

  it('an out-of-band frame the skeleton never uses is SERIALIZE_CORRUPT', () => {
    const extra = { byteLength: 8, dtype: DType.Bytes, role: FrameRole.OutOfBand };
    const frames = withHeader({ a: BIG }, (h) => ({ ...h, frames: [...h.frames, extra] }));
    expect(codeOf(() => deserialize([...frames, new Uint8Array(8)]))).toBe('SERIALIZE_CORRUPT');
  });

  it('an out-of-band frame whose header dtype differs from the skeleton is SERIALIZE_CORRUPT', () => {
    const frames = withHeader({ a: BIG }, (h) => ({
      ...h,
      frames: h.frames.map((f, i) => (i === 1 ? { ...f, dtype: DType.Int32 } : f)),
    }));
    expect(codeOf(() => deserialize(frames))).toBe('SERIALIZE_CORRUPT');
  });

  it('a nested Float64 frame whose length is not a multiple of 8 is SERIALIZE_CORRUPT', () => {
    const [h, skel, oob] = serialize({ a: BIG });
    const header = decodeHeader(h!);
    header.frames[1] = { ...header.frames[1]!, byteLength: 2044 };
    expect(codeOf(() => deserialize([encodeHeader(header), skel!, oob!.subarray(0, 2044)]))).toBe('SERIALIZE_CORRUPT');
  });
});

// Values whose frames the fuzzers start from: every kind and record type.
class Tagged {
  constructor(readonly tag: string) {}
}
const codecs = new CodecRegistry([
  {
    name: 'tagged',
    test: (v: unknown): v is Tagged => v instanceof Tagged,
    encode: (t: Tagged) => t.tag,
    decode: (d: unknown) => {
      if (typeof d !== 'string') throw new TypeError('tagged wants a string');
      return new Tagged(d);
    },
  },
]);
// A proxy that fails loudly if anything resolves it; its reference is what the frames hold.
const proxy = createProxy({
  resolveSync: () => {
    throw new Error('resolved');
  },
  resolve: () => Promise.reject(new Error('resolved')),
  toReference: () => ({ store: 's', key: [1, 2] }),
});
const seeds: unknown[] = [
  proxy,
  { p: proxy, again: [proxy, new Tagged('v')] },
  'hello',
  new Float64Array([1, 2, 3]),
  Buffer.from('buf'),
  new DataView(new ArrayBuffer(4)),
  new ArrayBuffer(9),
  { a: BIG, b: [1, 'x', new Map([[1, new Set([2n])]])], c: new Int16Array([1, 2]) },
  [new Tagged('t'), { t: new Tagged('u') }],
  new Tagged('top'),
  { err: new Error('e'), d: new Date(0), r: /x/g },
];
const seedFrames = seeds.map((v) => serialize(v, { codecs, outOfBandThreshold: 16 }));
const reviveProxy = (ref: unknown): unknown => ({ ref });

/** Deserializes; the only exception allowed out is SerializationError. */
function mustOnlyThrowSerializationError(frames: Uint8Array[]): void {
  try {
    deserialize(frames, { codecs, reviveProxy });
  } catch (err) {
    if (!(err instanceof SerializationError)) {
      throw new Error(`escaped: ${String(err)}`, { cause: err });
    }
  }
}

describe('fuzz', () => {
  it('random frames only ever throw SerializationError', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 4 }), (frames) => {
        mustOnlyThrowSerializationError(frames);
      }),
      { numRuns: 3000 },
    );
  });

  it('valid frames with random byte mutations only ever throw SerializationError', () => {
    const mutation = fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 8,
    });
    fc.assert(
      fc.property(fc.nat(seedFrames.length - 1), mutation, (seed, edits) => {
        const frames = seedFrames[seed]!.map((f) => new Uint8Array(f));
        for (const [frame, at, value] of edits) {
          const target = frames[frame % frames.length]!;
          if (target.byteLength > 0) target[at % target.byteLength] = value;
        }
        mustOnlyThrowSerializationError(frames);
      }),
      { numRuns: 5000 },
    );
  });

  it('valid frames truncated, dropped or duplicated only ever throw SerializationError', () => {
    fc.assert(
      fc.property(
        fc.nat(seedFrames.length - 1),
        fc.nat(),
        fc.nat(),
        fc.constantFrom('cut', 'drop', 'dup'),
        (seed, which, cut, op) => {
          const frames = seedFrames[seed]!.map((f) => new Uint8Array(f));
          const i = which % frames.length;
          if (op === 'cut') frames[i] = frames[i]!.subarray(0, cut % (frames[i]!.byteLength + 1));
          else if (op === 'drop') frames.splice(i, 1);
          else frames.splice(i, 0, frames[i]!);
          mustOnlyThrowSerializationError(frames);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('headers with random bytes after a valid identifier only ever throw SerializationError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 160 }), fc.uint8Array({ maxLength: 64 }), (header, frame) => {
        header.set([0x50, 0x53, 0x46, 0x48], 4); // 'PSFH'
        header[0] = header[0]! % header.byteLength; // a root offset that often lands inside
        header.fill(0, 1, 4);
        mustOnlyThrowSerializationError([header, frame]);
      }),
      { numRuns: 3000 },
    );
  });
});
