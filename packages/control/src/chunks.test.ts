import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameAssembler, MAX_FRAMES, checkChunkSize, checkLayout, chunkFrames } from './chunks.js';
import { ControlError } from './errors.js';

const frame = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

describe('chunkFrames', () => {
  it('cuts frames back to back into groups of at most the chunk size, as views', () => {
    const frames = [frame(3, 1), frame(10, 2), frame(0, 3), frame(5, 4)];
    const groups = [...chunkFrames(frames, 4)];
    expect(groups.map((g) => g.reduce((n, p) => n + p.byteLength, 0))).toEqual([4, 4, 4, 4, 2]);
    // A group spans frame boundaries; pieces are views of the frames, never copies.
    expect(groups[0]?.map((p) => p.byteLength)).toEqual([3, 1]);
    expect(groups[0]?.[0]?.buffer).toBe(frames[0]?.buffer);
    expect(groups.flat().every((p) => p.byteLength > 0)).toBe(true);
  });

  it('yields nothing for an object of no bytes', () => {
    expect([...chunkFrames([new Uint8Array(0)], 4096)]).toEqual([]);
  });

  it('reassembles any layout at any chunk size (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(300), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 257 }), (lengths, chunk) => {
        const frames = lengths.map((n, i) => frame(n, i));
        const size = checkLayout(lengths, Number.MAX_SAFE_INTEGER, 't');
        const a = new FrameAssembler(lengths, size);
        for (const group of chunkFrames(frames, chunk)) {
          const joined = Buffer.concat(group);
          expect(joined.byteLength).toBeLessThanOrEqual(chunk);
          a.push(joined, 't');
        }
        expect(a.complete).toBe(true);
        expect(a.frames).toEqual(frames);
      }),
    );
  });
});

describe('FrameAssembler', () => {
  it('refuses bytes beyond the declared layout', () => {
    const a = new FrameAssembler([2, 2], 4);
    a.push(new Uint8Array(3), 'get');
    expect(() => a.push(new Uint8Array(2), 'get')).toThrow(/more than the 4 bytes/);
    expect(a.received).toBe(3);
    expect(a.complete).toBe(false);
  });

  it('gives each frame its own allocation, so typed-array views need no copy', () => {
    const a = new FrameAssembler([8, 16], 24);
    a.push(new Uint8Array(24).fill(1), 'get');
    expect(a.frames.map((f) => f.byteOffset)).toEqual([0, 0]);
    expect(new Float64Array(a.frames[1]?.buffer as ArrayBuffer)).toHaveLength(2);
  });
});

describe('checkLayout and checkChunkSize', () => {
  it('refuses layouts out of range with typed codes', () => {
    const code = (fn: () => unknown): string => {
      try {
        fn();
      } catch (err) {
        expect(err).toBeInstanceOf(ControlError);
        return (err as ControlError).code;
      }
      return 'none';
    };
    // An object with no frames is valid (the Connector contract round-trips put([])).
    expect(checkLayout([], 10, 'put')).toBe(0);
    expect(code(() => checkLayout(new Array<number>(MAX_FRAMES + 1).fill(0), 10, 'put'))).toBe('CONTROL_INVALID_ARGUMENT');
    expect(code(() => checkLayout([2 ** 52, 2 ** 52], Number.MAX_SAFE_INTEGER, 'put'))).toBe('CONTROL_INVALID_ARGUMENT');
    expect(code(() => checkLayout([6, 5], 10, 'put'))).toBe('CONTROL_OBJECT_TOO_LARGE');
    expect(checkLayout([6, 4], 10, 'put')).toBe(10);
  });

  it('accepts chunk sizes from 4 KiB to 4 MiB only', () => {
    expect(checkChunkSize(4096, 'x')).toBe(4096);
    expect(checkChunkSize(4 << 20, 'x')).toBe(4 << 20);
    expect(() => checkChunkSize(4095, 'x')).toThrow(RangeError);
    expect(() => checkChunkSize((4 << 20) + 1, 'x')).toThrow(/4096 to 4194304/);
    expect(() => checkChunkSize(1.5e4, 'x')).not.toThrow();
    expect(() => checkChunkSize(Number.NaN, 'x')).toThrow(RangeError);
  });
});
