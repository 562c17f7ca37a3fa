import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SerializationError } from './errors.js';
import {
  FRAME_ALIGNMENT,
  alignUp,
  framesByteLength,
  joinFrames,
  packFrames,
  packedByteLength,
  unpackFrames,
} from './frames.js';
import { codeOf } from '../test/error-code.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

/** A packed buffer whose table we can edit with a DataView. */
function packedOf(frames: Uint8Array[]): { packed: Uint8Array; view: DataView } {
  const packed = joinFrames(frames);
  return { packed, view: new DataView(packed.buffer, packed.byteOffset, packed.byteLength) };
}

describe('alignUp and lengths', () => {
  it('rounds up to the next multiple of 64 and leaves multiples alone', () => {
    expect(FRAME_ALIGNMENT).toBe(64);
    expect([0, 1, 63, 64, 65, 128, 129].map(alignUp)).toEqual([0, 64, 64, 64, 128, 128, 192]);
  });

  it('framesByteLength sums the frames; packedByteLength adds the table and the padding', () => {
    const frames = [bytes(1, 2, 3), new Uint8Array(64), new Uint8Array(0)];
    expect(framesByteLength(frames)).toBe(67);
    // table: 16 + 3 * 8 = 40 -> 64; frames: 64 + 64 + 0
    expect(packedByteLength(frames)).toBe(192);
    expect(joinFrames(frames).byteLength).toBe(packedByteLength(frames));
  });
});

describe('packFrames', () => {
  it('references the frame bytes instead of copying them', () => {
    const frame = new Uint8Array(100).fill(7);
    const parts = packFrames([frame]);
    expect(parts).toContain(frame);
    expect(parts.reduce((n, p) => n + p.byteLength, 0)).toBe(packedByteLength([frame]));
  });

  it('writes the same bytes as joinFrames', () => {
    const frames = [bytes(9), new Uint8Array(70).fill(1), new Uint8Array(0), bytes(4, 5)];
    expect(Buffer.concat(packFrames(frames))).toEqual(Buffer.from(joinFrames(frames)));
  });
});

describe('unpackFrames', () => {
  it('round-trips frames as views into the packed buffer, each at a 64-byte-aligned offset', () => {
    const frames = [bytes(1, 2, 3), new Uint8Array(0), new Uint8Array(130).fill(5), bytes(255)];
    const packed = joinFrames(frames);
    const out = unpackFrames(packed);
    expect(out).toEqual(frames);
    for (const f of out) {
      expect(f.buffer).toBe(packed.buffer);
      expect(f.byteOffset % FRAME_ALIGNMENT).toBe(0);
    }
  });

  it('round-trips no frames at all', () => {
    expect(unpackFrames(joinFrames([]))).toEqual([]);
  });

  it('keeps offsets relative to the view when the packed bytes sit inside a larger buffer', () => {
    const frames = [bytes(1, 2), bytes(3)];
    const packed = joinFrames(frames);
    const outer = new Uint8Array(packed.byteLength + 128);
    outer.set(packed, 64);
    const out = unpackFrames(outer.subarray(64, 64 + packed.byteLength));
    expect(out).toEqual(frames);
    expect(out[0]!.byteOffset % FRAME_ALIGNMENT).toBe(0);
  });

  it('property: any list of frames round-trips, every frame aligned', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (frames) => {
        const packed = joinFrames(frames);
        const out = unpackFrames(packed);
        expect(out).toEqual(frames);
        for (const f of out) expect(f.byteOffset % FRAME_ALIGNMENT).toBe(0);
      }),
    );
  });

  it('rejects input shorter than the fixed prefix as SERIALIZE_TRUNCATED', () => {
    expect(codeOf(() => unpackFrames(new Uint8Array(0)))).toBe('SERIALIZE_TRUNCATED');
    expect(codeOf(() => unpackFrames(joinFrames([]).subarray(0, 15)))).toBe('SERIALIZE_TRUNCATED');
  });

  it('rejects a wrong magic as SERIALIZE_BAD_MAGIC', () => {
    const { packed } = packedOf([bytes(1)]);
    packed[0] = 0x58;
    expect(codeOf(() => unpackFrames(packed))).toBe('SERIALIZE_BAD_MAGIC');
  });

  it('rejects another version as SERIALIZE_BAD_VERSION', () => {
    const { packed, view } = packedOf([bytes(1)]);
    view.setUint16(4, 2, true);
    expect(codeOf(() => unpackFrames(packed))).toBe('SERIALIZE_BAD_VERSION');
  });

  it('rejects a frame count whose table does not fit as SERIALIZE_TRUNCATED', () => {
    const { packed, view } = packedOf([bytes(1)]);
    view.setUint32(8, 0xffffffff, true);
    expect(codeOf(() => unpackFrames(packed))).toBe('SERIALIZE_TRUNCATED');
  });

  it('rejects a frame length past the end as SERIALIZE_TRUNCATED (including lengths beyond 2^53)', () => {
    const { packed, view } = packedOf([bytes(1), bytes(2)]);
    view.setBigUint64(16, BigInt(packed.byteLength), true);
    expect(codeOf(() => unpackFrames(packed))).toBe('SERIALIZE_TRUNCATED');
    view.setBigUint64(16, 2n ** 64n - 1n, true);
    expect(codeOf(() => unpackFrames(packed))).toBe('SERIALIZE_TRUNCATED');
  });

  it('rejects a packed buffer cut inside its last frame as SERIALIZE_TRUNCATED', () => {
    const { packed } = packedOf([bytes(1), new Uint8Array(100)]);
    expect(codeOf(() => unpackFrames(packed.subarray(0, packed.byteLength - 40)))).toBe('SERIALIZE_TRUNCATED');
  });

  it('fuzz: random bytes only ever throw SerializationError, and views stay inside the input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (input) => {
        checkUnpack(input);
      }),
      { numRuns: 2000 },
    );
  });

  it('fuzz: valid packed buffers with mutated or truncated bytes behave the same', () => {
    const packedArb = fc
      .array(fc.uint8Array({ maxLength: 200 }), { maxLength: 5 })
      .map((frames) => joinFrames(frames));
    const mutation = fc.record({
      edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
    });
    fc.assert(
      fc.property(packedArb, mutation, (packed, { edits, cut }) => {
        // Mutations land mostly in the table, where they matter.
        for (const [at, value] of edits) packed[at % Math.min(packed.byteLength, 64)] = value;
        const input = cut === undefined ? packed : packed.subarray(0, cut % (packed.byteLength + 1));
        checkUnpack(input);
      }),
      { numRuns: 2000 },
    );
  });
});

function checkUnpack(input: Uint8Array): void {
  let out: Uint8Array[];
  try {
    out = unpackFrames(input);
  } catch (err) {
    expect(err).toBeInstanceOf(SerializationError);
    return;
  }
  for (const f of out) {
    expect(f.buffer).toBe(input.buffer);
    expect(f.byteOffset).toBeGreaterThanOrEqual(input.byteOffset);
    expect(f.byteOffset + f.byteLength).toBeLessThanOrEqual(input.byteOffset + input.byteLength);
  }
}
