// The contiguous encoding of frames, for transports that store one blob per object (files, Redis values,
// a single RMA region). Each frame starts at a 64-byte-aligned offset, so a receiver that reads the blob
// into aligned memory can build typed-array views over every frame without copying.
//
//   offset 0   'PSFP'            magic
//          4   u16 version (1)   6   u16 reserved (0)
//          8   u32 frame count   12  u32 reserved (0)
//         16   u64 length of each frame, little-endian
//   then each frame at the next multiple of 64, zero padding between.
import { SerializationError } from './errors.js';

/** Alignment of every out-of-band frame, in bytes: a cache line, and enough for any typed array. */
export const FRAME_ALIGNMENT = 64;

const MAGIC = 0x50465350; // 'PSFP' read as a little-endian u32
const VERSION = 1;
const PREFIX_BYTES = 16;
const ZEROS = new Uint8Array(FRAME_ALIGNMENT);

/** Rounds `n` up to the next multiple of FRAME_ALIGNMENT. */
export function alignUp(n: number): number {
  return Math.ceil(n / FRAME_ALIGNMENT) * FRAME_ALIGNMENT;
}

/** Sum of the frames' byte lengths. */
export function framesByteLength(frames: readonly Uint8Array[]): number {
  let total = 0;
  for (const f of frames) total += f.byteLength;
  return total;
}

/** Size of `packFrames(frames)` once joined. */
export function packedByteLength(frames: readonly Uint8Array[]): number {
  let total = alignUp(PREFIX_BYTES + 8 * frames.length);
  for (const f of frames) total += alignUp(f.byteLength);
  return total;
}

/**
 * The contiguous encoding as a list of buffers to write in order (`writev`, a pipeline, iov): the table,
 * then each frame followed by its padding. Frame bytes are referenced, not copied.
 */
export function packFrames(frames: readonly Uint8Array[]): Uint8Array[] {
  const tableBytes = alignUp(PREFIX_BYTES + 8 * frames.length);
  const table = new Uint8Array(tableBytes);
  const view = new DataView(table.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint16(4, VERSION, true);
  view.setUint32(8, frames.length, true);
  frames.forEach((f, i) => view.setBigUint64(PREFIX_BYTES + 8 * i, BigInt(f.byteLength), true));
  const out: Uint8Array[] = [table];
  for (const f of frames) {
    if (f.byteLength > 0) out.push(f);
    const pad = alignUp(f.byteLength) - f.byteLength;
    if (pad > 0) out.push(ZEROS.subarray(0, pad));
  }
  return out;
}

/** The contiguous encoding in one new buffer (one copy of the frame bytes). */
export function joinFrames(frames: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(packedByteLength(frames));
  let offset = 0;
  for (const part of packFrames(frames)) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/**
 * Frames back from the contiguous encoding, as views into `packed` (no copy). Validates every length
 * against the buffer before making a view; malformed input throws SerializationError.
 */
export function unpackFrames(packed: Uint8Array): Uint8Array[] {
  if (packed.byteLength < PREFIX_BYTES) {
    throw new SerializationError(
      'SERIALIZE_TRUNCATED',
      `Packed frames need at least ${PREFIX_BYTES} bytes, got ${packed.byteLength}`,
    );
  }
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  if (view.getUint32(0, true) !== MAGIC) {
    throw new SerializationError('SERIALIZE_BAD_MAGIC', 'Not packed ProxyStore frames (bad magic)');
  }
  const version = view.getUint16(4, true);
  if (version !== VERSION) {
    throw new SerializationError(
      'SERIALIZE_BAD_VERSION',
      `Packed frames version ${version} is not supported (this build reads version ${VERSION})`,
    );
  }
  const count = view.getUint32(8, true);
  // Each frame needs an 8-byte length in the table: bound the count by the bytes present before looping.
  if (PREFIX_BYTES + 8 * count > packed.byteLength) {
    throw new SerializationError(
      'SERIALIZE_TRUNCATED',
      `Packed frames declare ${count} frames but the table does not fit in ${packed.byteLength} bytes`,
    );
  }
  const frames: Uint8Array[] = [];
  let offset = alignUp(PREFIX_BYTES + 8 * count);
  for (let i = 0; i < count; i++) {
    // Two u32 halves, not getBigUint64: BigInt arithmetic was most of the cost of unpacking a small object.
    // Any length with a non-zero high half (>= 4 GiB) is checked exactly against the buffer, like the rest.
    const low = view.getUint32(PREFIX_BYTES + 8 * i, true);
    const high = view.getUint32(PREFIX_BYTES + 8 * i + 4, true);
    const length = high * 0x1_0000_0000 + low;
    if (high >= 0x20_0000 || offset + length > packed.byteLength) {
      throw new SerializationError(
        'SERIALIZE_TRUNCATED',
        `Frame ${i} of ${count} declares ${high >= 0x20_0000 ? 'over 2^53' : length} bytes at offset ${offset}, ` +
          `past the end (${packed.byteLength} bytes)`,
      );
    }
    frames.push(packed.subarray(offset, offset + length));
    offset += alignUp(length);
  }
  return frames;
}
