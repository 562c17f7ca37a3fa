// Moving frames as a stream of chunks. A sender cuts the frames, back to back, into pieces of at most the
// chunk size (views: nothing is joined); a receiver knows every frame's length from the first message,
// allocates each frame once and copies each chunk straight to its place.
import { ControlError, ControlErrorCode } from './errors.js';

/** Chunk size when none is given: chosen with the benchmark (docs/endpoints.md, "Chunk size"). */
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
export const MIN_CHUNK_SIZE = 4 * 1024;
/** The largest chunk; every channel accepts messages of this size plus room for the envelope. */
export const MAX_CHUNK_SIZE = 4 * 1024 * 1024;
/** What a channel accepts in one message: the largest chunk plus the flatbuffer around it. */
export const MAX_MESSAGE_SIZE = MAX_CHUNK_SIZE + 64 * 1024;
/** Frames in one object at most (a serialized value has a header plus its out-of-band buffers). */
export const MAX_FRAMES = 1 << 16;

export function checkChunkSize(chunkSize: number, what: string): number {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new RangeError(
      `${what}: chunkSize must be an integer from ${MIN_CHUNK_SIZE} to ${MAX_CHUNK_SIZE} bytes, got ${chunkSize}`,
    );
  }
  return chunkSize;
}

/**
 * The frames as consecutive groups of views, each group at most `chunkSize` bytes in all. Empty frames add
 * nothing; an object with no bytes yields no group.
 */
export function* chunkFrames(frames: readonly Uint8Array[], chunkSize: number): Generator<Uint8Array[]> {
  let group: Uint8Array[] = [];
  let room = chunkSize;
  for (const frame of frames) {
    let at = 0;
    while (at < frame.byteLength) {
      const n = Math.min(room, frame.byteLength - at);
      group.push(frame.subarray(at, at + n));
      at += n;
      room -= n;
      if (room === 0) {
        yield group;
        group = [];
        room = chunkSize;
      }
    }
  }
  if (group.length > 0) yield group;
}

/**
 * Validates a frame layout from the wire: a count and lengths in range, a total no larger than `maxSize`.
 * Returns the total.
 */
export function checkLayout(frameLengths: readonly number[], maxSize: number, what: string): number {
  // No frames at all is a valid object: the Connector contract round-trips `put([])`.
  if (frameLengths.length > MAX_FRAMES) {
    throw new ControlError(
      ControlErrorCode.INVALID_ARGUMENT,
      `${what}: an object has at most ${MAX_FRAMES} frames, got ${frameLengths.length}`,
    );
  }
  let total = 0;
  for (const n of frameLengths) total += n;
  if (!Number.isSafeInteger(total)) {
    throw new ControlError(ControlErrorCode.INVALID_ARGUMENT, `${what}: frame lengths add up past 2^53`);
  }
  if (total > maxSize) {
    throw new ControlError(
      ControlErrorCode.OBJECT_TOO_LARGE,
      `${what}: the object is ${total} bytes, over the maximum object size of ${maxSize} bytes`,
    );
  }
  return total;
}

/** Fills frames of a known layout from chunks that arrive in order. */
export class FrameAssembler {
  readonly frames: Uint8Array[];
  readonly size: number;
  #frame = 0;
  #offset = 0;
  #received = 0;

  constructor(frameLengths: readonly number[], size: number) {
    // One allocation per frame: each starts at its own ArrayBuffer's offset 0, so aligned for any dtype.
    this.frames = frameLengths.map((n) => new Uint8Array(n));
    this.size = size;
    this.#skipFull();
  }

  get received(): number {
    return this.#received;
  }

  get complete(): boolean {
    return this.#received === this.size;
  }

  /** Copies `data` to its place; more bytes than the layout declares is a protocol error. */
  push(data: Uint8Array, what: string): void {
    if (data.byteLength > this.size - this.#received) {
      throw new ControlError(
        ControlErrorCode.PROTOCOL,
        `${what}: received more than the ${this.size} bytes the layout declares`,
      );
    }
    let at = 0;
    while (at < data.byteLength) {
      const frame = this.frames[this.#frame] as Uint8Array;
      const n = Math.min(frame.byteLength - this.#offset, data.byteLength - at);
      frame.set(data.subarray(at, at + n), this.#offset);
      at += n;
      this.#offset += n;
      this.#skipFull();
    }
    this.#received += data.byteLength;
  }

  #skipFull(): void {
    while (this.#frame < this.frames.length && this.#offset === (this.frames[this.#frame] as Uint8Array).byteLength) {
      this.#frame++;
      this.#offset = 0;
    }
  }
}
