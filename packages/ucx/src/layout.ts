// How one object sits in one registered block, so that a single RMA get reads all of it and the reader
// can tell whether what it read is still that object:
//
//   [0, 64)             header: magic 'PSUX', version, memory type, 16-byte nonce, payload and block
//                       lengths, frame count (little-endian)
//   64, then each       frame i at a 64-byte-aligned offset (typed-array views over it need no copy)
//   align16(end) + 16   trailer: the nonce again
//
// A server zeroes both nonces before it gives a block back to its pool, so a reader whose header or trailer
// nonce differs from the key's read a block that no longer holds the object (evicted, reused, or torn by
// a release during the read): the object is gone.
import { randomFillSync } from 'node:crypto';

export const HEADER_SIZE = 64;
export const TRAILER_SIZE = 16;
export const NONCE_SIZE = 16;
/** Frames start at multiples of this (DESIGN §5: receivers build typed-array views in place). */
export const FRAME_ALIGN = 64;
export const LAYOUT_VERSION = 1;

const MAGIC = [0x50, 0x53, 0x55, 0x58]; // 'PSUX'
const NONCE_AT = 8;
const PAYLOAD_AT = 24;
const LENGTH_AT = 32;
const COUNT_AT = 40;
const MEMORY_TYPE_AT = 6;

export interface Layout {
  readonly frameLengths: readonly number[];
  /** Offset of each frame from the block's start. */
  readonly offsets: readonly number[];
  /** Sum of the frame lengths. */
  readonly payload: number;
  /** Offset of the trailer. */
  readonly trailer: number;
  /** Bytes of the whole block: header, frames, trailer. */
  readonly length: number;
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** The layout of an object with these frame lengths. Throws a RangeError beyond safe integers. */
export function layoutOf(frameLengths: readonly number[]): Layout {
  const offsets: number[] = new Array<number>(frameLengths.length);
  let at = HEADER_SIZE;
  let payload = 0;
  for (let i = 0; i < frameLengths.length; i++) {
    const n = frameLengths[i] as number;
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`frame ${i} length ${n} is not a byte count`);
    at = align(at, FRAME_ALIGN);
    offsets[i] = at;
    at += n;
    payload += n;
  }
  const trailer = align(at, 16);
  const length = trailer + TRAILER_SIZE;
  if (!Number.isSafeInteger(length)) throw new RangeError(`an object of ${payload} bytes is too large`);
  return { frameLengths, offsets, payload, trailer, length };
}

/** 16 random bytes, never all zero (all zero marks a released block). */
export function newNonce(): Uint8Array {
  const nonce = new Uint8Array(NONCE_SIZE);
  do randomFillSync(nonce);
  while (nonce.every((b) => b === 0));
  return nonce;
}

function view(block: Uint8Array): DataView {
  return new DataView(block.buffer, block.byteOffset, block.byteLength);
}

/**
 * Writes the header, the frames (the one copy into the block) and the trailer. A null frame is in place
 * already (a pushed frame that UCX received at its offset): it is left as it is, and so are its bytes.
 */
export function writeObject(
  block: Uint8Array,
  layout: Layout,
  frames: readonly (Uint8Array | null)[],
  nonce: Uint8Array,
  memoryType = 0,
): void {
  if (block.byteLength < layout.length) throw new RangeError(`block of ${block.byteLength} bytes < ${layout.length}`);
  writeHeader(block, layout, memoryType);
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i];
    const at = layout.offsets[i] as number;
    // Zero the alignment gap before the frame: the block is pooled memory, and stale bytes of another
    // object must not travel to a reader.
    const gapStart = i === 0 ? HEADER_SIZE : (layout.offsets[i - 1] as number) + (layout.frameLengths[i - 1] as number);
    if (at > gapStart) block.fill(0, gapStart, at);
    if (frame !== null && frame !== undefined) block.set(frame, at);
  }
  const end = frames.length === 0 ? HEADER_SIZE : (layout.offsets.at(-1) as number) + (layout.frameLengths.at(-1) as number);
  if (layout.trailer > end) block.fill(0, end, layout.trailer);
  writeNonce(block, layout, nonce);
}

/** The header without its nonce: magic, version, memory type, lengths, frame count (the rest zero). */
function writeHeader(block: Uint8Array, layout: Layout, memoryType: number): void {
  block.fill(0, 0, HEADER_SIZE);
  block.set(MAGIC, 0);
  const dv = view(block);
  dv.setUint16(4, LAYOUT_VERSION, true);
  dv.setUint8(MEMORY_TYPE_AT, memoryType);
  dv.setBigUint64(PAYLOAD_AT, BigInt(layout.payload), true);
  dv.setBigUint64(LENGTH_AT, BigInt(layout.length), true);
  dv.setUint32(COUNT_AT, layout.frameLengths.length, true);
}

const ZEROS = new Uint8Array(FRAME_ALIGN);

/**
 * The object as `[offset, bytes]` pieces that, copied into a block, leave in it what writeObject would:
 * the header with the nonce, each frame (the caller's own memory, not copied here) after its zeroed
 * alignment gap, and the zeroed tail with the trailer nonce. For a writer that cannot take a view of the
 * block (peerWrite into a block a same-host daemon lent).
 */
export function objectPieces(
  layout: Layout,
  frames: readonly Uint8Array[],
  nonce: Uint8Array,
  memoryType = 0,
): Array<[number, Uint8Array]> {
  if (frames.length !== layout.frameLengths.length) throw new RangeError(`${frames.length} frames for a layout of ${layout.frameLengths.length}`);
  const head = new Uint8Array(HEADER_SIZE);
  writeHeader(head, layout, memoryType);
  head.set(nonce, NONCE_AT);
  const pieces: Array<[number, Uint8Array]> = [[0, head]];
  let end = HEADER_SIZE;
  for (let i = 0; i < frames.length; i++) {
    const at = layout.offsets[i] as number;
    if (at > end) pieces.push([end, ZEROS.subarray(0, at - end)]);
    const frame = frames[i] as Uint8Array;
    if (frame.byteLength !== layout.frameLengths[i]) throw new RangeError(`frame ${i} is ${frame.byteLength} bytes, not ${layout.frameLengths[i]}`);
    if (frame.byteLength > 0) pieces.push([at, frame]);
    end = at + frame.byteLength;
  }
  const tail = new Uint8Array(layout.length - end);
  tail.set(nonce, layout.trailer - end);
  pieces.push([end, tail]);
  return pieces;
}

/** Sets the header and trailer nonces (a daemon re-stamps a block it pulled with its own nonce). */
export function writeNonce(block: Uint8Array, layout: Layout, nonce: Uint8Array): void {
  block.set(nonce, NONCE_AT);
  block.set(nonce, layout.trailer);
}

/** Zeroes the header nonce (the trailer's place needs the layout): no read of the block checks out after. */
export function clearHeaderNonce(block: Uint8Array): void {
  block.fill(0, NONCE_AT, NONCE_AT + NONCE_SIZE);
}

/** Zeroes both nonces: every later read of this block, or one in flight, sees the object as gone. */
export function clearNonce(block: Uint8Array, layout: Layout): void {
  block.fill(0, NONCE_AT, NONCE_AT + NONCE_SIZE);
  block.fill(0, layout.trailer, layout.trailer + TRAILER_SIZE);
}

function sameBytes(a: Uint8Array, at: number, b: Uint8Array): boolean {
  for (let i = 0; i < b.byteLength; i++) if (a[at + i] !== b[i]) return false;
  return true;
}

/**
 * Whether `block` holds the object of this layout and nonce, whole: magic, version, both nonces, and the
 * lengths recorded in the header. False means the object is gone (or the read was torn by its release).
 */
export function checkObject(block: Uint8Array, layout: Layout, nonce: Uint8Array): boolean {
  if (block.byteLength < layout.length || nonce.byteLength !== NONCE_SIZE) return false;
  for (let i = 0; i < 4; i++) if (block[i] !== MAGIC[i]) return false;
  const dv = view(block);
  if (dv.getUint16(4, true) !== LAYOUT_VERSION) return false;
  if (!sameBytes(block, NONCE_AT, nonce) || !sameBytes(block, layout.trailer, nonce)) return false;
  return (
    dv.getBigUint64(PAYLOAD_AT, true) === BigInt(layout.payload) &&
    dv.getBigUint64(LENGTH_AT, true) === BigInt(layout.length) &&
    dv.getUint32(COUNT_AT, true) === layout.frameLengths.length
  );
}

/** Views of the frames inside `block` (no copy). */
export function frameViews(block: Uint8Array, layout: Layout): Uint8Array[] {
  return layout.frameLengths.map(
    (n, i) => new Uint8Array(block.buffer, block.byteOffset + (layout.offsets[i] as number), n),
  );
}

/** Copies of the frames, each in its own buffer (what a caller may keep and mutate). */
export function frameCopies(block: Uint8Array, layout: Layout): Uint8Array[] {
  return layout.frameLengths.map((n, i) => {
    const at = layout.offsets[i] as number;
    return block.slice(at, at + n);
  });
}
