import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  OBJECT_DESCRIPTOR_IDENTIFIER,
  decodeObjectDescriptor,
  encodeObjectDescriptor,
  type ObjectDescriptorInfo,
} from './descriptor.js';
import type { DTypeName } from './dtype.js';
import { SerializationError } from './errors.js';

const example: ObjectDescriptorInfo = {
  size: 8_000_128,
  frameLengths: [72, 56, 8_000_000],
  dtype: 'float64',
  shape: [1000, 1000],
  memoryType: 'cuda',
  location: 'endpoint:5f1c…/gpu0',
};

const DTYPES: DTypeName[] = [
  'bytes',
  'int8',
  'uint8',
  'uint8clamped',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'float32',
  'float64',
  'bigint64',
  'biguint64',
];

describe('ObjectDescriptor', () => {
  it('round-trips through encodeObjectDescriptor / decodeObjectDescriptor', () => {
    const bytes = encodeObjectDescriptor(example);
    expect(Buffer.from(bytes.subarray(4, 8)).toString('latin1')).toBe(OBJECT_DESCRIPTOR_IDENTIFIER);
    expect(decodeObjectDescriptor(bytes)).toEqual(example);
  });

  it('round-trips defaults (host memory, bytes, no shape, no location)', () => {
    const d: ObjectDescriptorInfo = { size: 0, frameLengths: [], dtype: 'bytes', shape: [], memoryType: 'host', location: '' };
    expect(decodeObjectDescriptor(encodeObjectDescriptor(d))).toEqual(d);
  });

  it('property: any descriptor round-trips', () => {
    const safe = fc.maxSafeNat();
    fc.assert(
      fc.property(
        fc.record({
          size: safe,
          frameLengths: fc.array(safe, { maxLength: 8 }),
          dtype: fc.constantFrom(...DTYPES),
          shape: fc.array(fc.nat(), { maxLength: 5 }),
          memoryType: fc.constantFrom('host' as const, 'cuda' as const),
          location: fc.string({ unit: 'grapheme' }),
        }),
        (d) => {
          expect(decodeObjectDescriptor(encodeObjectDescriptor(d))).toEqual(d);
        },
      ),
    );
  });

  it('refuses to encode unknown dtypes, memory types or non-integer sizes', () => {
    expect(() => encodeObjectDescriptor({ ...example, dtype: 'float16' as DTypeName })).toThrow(TypeError);
    expect(() => encodeObjectDescriptor({ ...example, memoryType: 'rocm' as 'host' })).toThrow(TypeError);
    expect(() => encodeObjectDescriptor({ ...example, size: 1.5 })).toThrow(TypeError);
    expect(() => encodeObjectDescriptor({ ...example, shape: [-1] })).toThrow(TypeError);
  });

  it('rejects a header frame (another identifier) as SERIALIZE_BAD_MAGIC', () => {
    const bytes = new Uint8Array(encodeObjectDescriptor(example));
    bytes[4] = 0x41;
    expect(() => decodeObjectDescriptor(bytes)).toThrow(expect.objectContaining({ code: 'SERIALIZE_BAD_MAGIC' }));
  });

  it('fuzz: mutated or truncated descriptors only ever throw SerializationError', () => {
    const valid = encodeObjectDescriptor(example);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat(),
        (edits, cut) => {
          const bytes = new Uint8Array(valid);
          for (const [at, v] of edits) bytes[at % bytes.byteLength] = v;
          try {
            decodeObjectDescriptor(bytes.subarray(0, bytes.byteLength - (cut % 8)));
          } catch (err) {
            expect(err).toBeInstanceOf(SerializationError);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
