import { describe, expect, it } from 'vitest';
import { FRAME_ALIGN, HEADER_SIZE, TRAILER_SIZE, checkObject, clearNonce, frameCopies, frameViews, layoutOf, newNonce, objectPieces, writeNonce, writeObject } from './layout.js';

function bytes(n: number, fill: number): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

describe('block layout', () => {
  it('puts frames at 64-byte-aligned offsets after the header, and the trailer after them', () => {
    const l = layoutOf([0, 1, 63, 64, 65, 0]);
    expect(l.offsets).toEqual([64, 64, 128, 192, 256, 384]);
    for (const o of l.offsets) expect(o % FRAME_ALIGN).toBe(0);
    expect(l.payload).toBe(193);
    expect(l.trailer % 16).toBe(0);
    expect(l.trailer).toBeGreaterThanOrEqual(384);
    expect(l.length).toBe(l.trailer + TRAILER_SIZE);
    expect(layoutOf([]).length).toBe(HEADER_SIZE + TRAILER_SIZE);
  });

  it('objectPieces leave in a block what writeObject writes, over stale bytes too', () => {
    for (const lengths of [[], [0], [5], [0, 1, 63, 64, 65, 0], [100, 3, 4096]]) {
      const frames = lengths.map((n, i) => bytes(n, i + 1));
      const l = layoutOf(lengths);
      const nonce = newNonce();
      const written = bytes(l.length, 0xee);
      writeObject(written, l, frames, nonce);
      const pieced = bytes(l.length, 0xee);
      for (const [at, piece] of objectPieces(l, frames, nonce)) pieced.set(piece, at);
      expect(Buffer.from(pieced).equals(Buffer.from(written))).toBe(true);
      expect(checkObject(pieced, l, nonce)).toBe(true);
    }
    // The frames go as they are (no copy); the layout and the frames must agree.
    const big = bytes(1000, 9);
    const pieces = objectPieces(layoutOf([1000]), [big], newNonce());
    expect(pieces.some(([, p]) => p === big)).toBe(true);
    expect(() => objectPieces(layoutOf([10]), [bytes(9, 1)], newNonce())).toThrow(RangeError);
    expect(() => objectPieces(layoutOf([10, 1]), [bytes(10, 1)], newNonce())).toThrow(RangeError);
  });

  it('refuses lengths that are not byte counts', () => {
    expect(() => layoutOf([-1])).toThrow(RangeError);
    expect(() => layoutOf([1.5])).toThrow(RangeError);
    expect(() => layoutOf([Number.MAX_SAFE_INTEGER])).toThrow(RangeError);
  });

  it('writes, checks and reads back an object; stale bytes in gaps are zeroed', () => {
    const frames = [bytes(3, 1), bytes(0, 0), bytes(100, 2)];
    const l = layoutOf(frames.map((f) => f.byteLength));
    const block = bytes(l.length + 7, 0xee);
    const nonce = newNonce();
    writeObject(block, l, frames, nonce);
    expect(checkObject(block, l, nonce)).toBe(true);
    expect(frameViews(block, l)).toEqual(frames);
    const copies = frameCopies(block, l);
    expect(copies).toEqual(frames);
    expect(copies[2]?.buffer).not.toBe(block.buffer);
    // The gap between frame 0 (3 bytes at 64) and frame 2 (at 128) holds no stale 0xee.
    expect(block.subarray(67, 128).every((b) => b === 0)).toBe(true);
  });

  it('a cleared, re-stamped or torn block does not check', () => {
    const l = layoutOf([10]);
    const block = new Uint8Array(l.length);
    const nonce = newNonce();
    writeObject(block, l, [bytes(10, 5)], nonce);
    clearNonce(block, l);
    expect(checkObject(block, l, nonce)).toBe(false);
    writeNonce(block, l, nonce);
    expect(checkObject(block, l, nonce)).toBe(true);
    expect(checkObject(block, l, newNonce())).toBe(false);
    // Header from one object, trailer from another (a read torn by a release and reuse).
    block.set(newNonce(), l.trailer);
    expect(checkObject(block, l, nonce)).toBe(false);
    // The same block read with another layout (a lying descriptor) does not check either.
    writeNonce(block, l, nonce);
    expect(checkObject(block, layoutOf([9]), nonce)).toBe(false);
  });

  it('makes random nonces, never all zero', () => {
    const a = newNonce();
    expect(a.byteLength).toBe(16);
    expect(a.some((b) => b !== 0)).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(newNonce()))).toBe(false);
  });
});
