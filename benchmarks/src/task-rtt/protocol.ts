// The task service's wire format, shared by the broker, the workers and the client. A frame is a fixed
// 24-byte header, a small JSON meta and a binary payload. The header alone carries every length, so a
// receiver can enforce a size limit on the whole message before it reads (or allocates for) the payload,
// as a serverless service enforces its message limit.
//
//   offset  size  field
//        0     4  magic 'PSTB' (u32, big-endian like every field)
//        4     1  version (1)
//        5     1  kind (FrameKind)
//        6     2  reserved, 0
//        8     4  task id (u32; 0 for frames about no task)
//       12     4  meta length in bytes (UTF-8 JSON object; at most MAX_META_BYTES)
//       16     8  payload length in bytes (u64; below 2^53)
import type { Socket } from 'node:net';
import { BrokerError } from './errors.js';

export const MAGIC = 0x50535442;
export const VERSION = 1;
export const HEADER_BYTES = 24;
/** Meta is routing and bookkeeping, never data: anything larger is a malformed frame. */
export const MAX_META_BYTES = 64 * 1024;

export const FrameKind = {
  /** peer → broker: `{ role: 'client' | 'worker' }`. */
  Hello: 1,
  /** broker → peer, the answer to Hello: `{ limit }`. */
  Welcome: 2,
  /** client → broker → worker: TaskMeta, payload = the packed input (a value or a proxy reference). */
  Task: 3,
  /** worker → broker → client: ResultMeta, payload = the packed output. */
  Result: 4,
  /** Either way: `{ code, message, details }` (BrokerError.toWire); task id 0 for a connection-level error. */
  Error: 5,
  /** broker → client, only when the task asked for it (`notify`): the task went to a worker. */
  Dispatched: 6,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];
const KINDS: ReadonlySet<number> = new Set(Object.values(FrameKind));

export type Meta = Record<string, unknown>;

export interface FrameHeader {
  kind: FrameKind;
  taskId: number;
  metaBytes: number;
  payloadBytes: number;
}

export interface Frame {
  kind: FrameKind;
  taskId: number;
  meta: Meta;
  payload: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** The size of a whole message, the quantity the broker's limit applies to. */
export function messageBytes(metaBytes: number, payloadBytes: number): number {
  return HEADER_BYTES + metaBytes + payloadBytes;
}

function protocolError(message: string): BrokerError {
  return new BrokerError('BROKER_PROTOCOL_ERROR', message);
}

/**
 * A frame as the parts to write: header + meta in one small buffer, and the payload as given (never
 * copied, so a 100 MB payload goes to the socket as is).
 */
export function encodeFrame(kind: FrameKind, taskId: number, meta: Meta = {}, payload: Uint8Array = EMPTY): Uint8Array[] {
  if (!KINDS.has(kind)) throw new RangeError(`Unknown frame kind ${kind}`);
  if (!Number.isInteger(taskId) || taskId < 0 || taskId > 0xffff_ffff) throw new RangeError(`Task id ${taskId} is not a u32`);
  const metaText = Buffer.from(JSON.stringify(meta), 'utf8');
  if (metaText.byteLength > MAX_META_BYTES) {
    throw new RangeError(`Frame meta of ${metaText.byteLength} bytes exceeds ${MAX_META_BYTES} bytes`);
  }
  const head = Buffer.allocUnsafe(HEADER_BYTES + metaText.byteLength);
  head.writeUInt32BE(MAGIC, 0);
  head.writeUInt8(VERSION, 4);
  head.writeUInt8(kind, 5);
  head.writeUInt16BE(0, 6);
  head.writeUInt32BE(taskId, 8);
  head.writeUInt32BE(metaText.byteLength, 12);
  head.writeUInt32BE(Math.floor(payload.byteLength / 0x1_0000_0000), 16);
  head.writeUInt32BE(payload.byteLength % 0x1_0000_0000, 20);
  metaText.copy(head, HEADER_BYTES);
  return payload.byteLength === 0 ? [head] : [head, payload];
}

/** Writes one frame; corked so header and payload leave in as few segments as the kernel allows. */
export function writeFrame(socket: Socket, kind: FrameKind, taskId: number, meta: Meta = {}, payload?: Uint8Array): void {
  const parts = encodeFrame(kind, taskId, meta, payload);
  socket.cork();
  for (const part of parts) socket.write(part);
  // uncork on the next tick would batch more frames; a round trip wants its bytes out now.
  socket.uncork();
}

/** Parses and validates a header. Throws BrokerError BROKER_PROTOCOL_ERROR on anything malformed. */
export function decodeHeader(bytes: Uint8Array): FrameHeader {
  if (bytes.byteLength < HEADER_BYTES) throw protocolError(`A frame header needs ${HEADER_BYTES} bytes, got ${bytes.byteLength}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const magic = view.getUint32(0);
  if (magic !== MAGIC) throw protocolError(`Bad frame magic 0x${magic.toString(16).padStart(8, '0')} (not a task-rtt peer?)`);
  const version = view.getUint8(4);
  if (version !== VERSION) throw protocolError(`Frame version ${version} is not supported (this build speaks ${VERSION})`);
  const kind = view.getUint8(5);
  if (!KINDS.has(kind)) throw protocolError(`Unknown frame kind ${kind}`);
  if (view.getUint16(6) !== 0) throw protocolError('Reserved header bytes are not zero');
  const taskId = view.getUint32(8);
  const metaBytes = view.getUint32(12);
  if (metaBytes > MAX_META_BYTES) throw protocolError(`Frame meta of ${metaBytes} bytes exceeds ${MAX_META_BYTES} bytes`);
  const high = view.getUint32(16);
  if (high >= 0x20_0000) throw protocolError('Frame payload length is 2^53 bytes or more');
  const payloadBytes = high * 0x1_0000_0000 + view.getUint32(20);
  return { kind: kind as FrameKind, taskId, metaBytes, payloadBytes };
}

function parseMeta(bytes: Uint8Array): Meta {
  if (bytes.byteLength === 0) return {};
  let meta: unknown;
  try {
    meta = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (cause) {
    throw new BrokerError('BROKER_PROTOCOL_ERROR', 'Frame meta is not valid JSON', { cause });
  }
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw protocolError('Frame meta is not a JSON object');
  return meta as Meta;
}

export interface DecoderHandlers {
  /** A whole frame within the limit. Its payload is memory the handler owns (64-byte aligned, offset 0). */
  frame(frame: Frame): void;
  /**
   * A frame whose message (header + meta + payload) exceeds the limit, called as soon as its header is
   * read. Its meta and payload are then skipped as they arrive: never buffered, never allocated for.
   */
  oversize?(header: FrameHeader, bytes: number): void;
}

type State = 'header' | 'body' | 'skip';

/**
 * Turns a byte stream into frames. `push` each chunk as it arrives; handlers run synchronously from
 * `push`. A malformed header throws BROKER_PROTOCOL_ERROR: a byte stream cannot be resynchronised after
 * one, so the caller closes the connection. After an oversize frame the stream stays usable.
 */
export class FrameDecoder {
  readonly limit: number;
  readonly #handlers: DecoderHandlers;
  #state: State = 'header';
  readonly #header = Buffer.allocUnsafe(HEADER_BYTES);
  #headerFill = 0;
  #current: FrameHeader | undefined;
  /** Meta then payload of the current frame, filled in place. */
  #meta: Uint8Array = EMPTY;
  #payload: Uint8Array = EMPTY;
  #bodyFill = 0;
  #skipLeft = 0;
  #failed = false;

  constructor(handlers: DecoderHandlers, options: { limit?: number } = {}) {
    this.#handlers = handlers;
    this.limit = options.limit ?? Number.POSITIVE_INFINITY;
  }

  /** Bytes of a frame still expected: 0 between frames (a clean place for the stream to end). */
  get pendingBytes(): number {
    if (this.#state === 'header') return this.#headerFill === 0 ? 0 : HEADER_BYTES - this.#headerFill;
    if (this.#state === 'skip') return this.#skipLeft;
    const h = this.#current as FrameHeader;
    return h.metaBytes + h.payloadBytes - this.#bodyFill;
  }

  push(chunk: Uint8Array): void {
    if (this.#failed) throw protocolError('The decoder already failed on this stream');
    try {
      this.#push(chunk);
    } catch (err) {
      this.#failed = true;
      throw err;
    }
  }

  #push(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.#state === 'header') {
        const take = Math.min(HEADER_BYTES - this.#headerFill, chunk.byteLength - offset);
        this.#header.set(chunk.subarray(offset, offset + take), this.#headerFill);
        this.#headerFill += take;
        offset += take;
        if (this.#headerFill === HEADER_BYTES) this.#startFrame();
      } else if (this.#state === 'skip') {
        const take = Math.min(this.#skipLeft, chunk.byteLength - offset);
        this.#skipLeft -= take;
        offset += take;
        if (this.#skipLeft === 0) this.#state = 'header';
      } else {
        offset += this.#fillBody(chunk, offset);
      }
    }
  }

  #startFrame(): void {
    const header = decodeHeader(this.#header);
    this.#headerFill = 0;
    const bytes = messageBytes(header.metaBytes, header.payloadBytes);
    if (bytes > this.limit) {
      const { oversize } = this.#handlers;
      if (oversize === undefined) {
        throw new BrokerError('BROKER_MESSAGE_TOO_LARGE', `A message of ${bytes} bytes exceeds the limit of ${this.limit} bytes`, {
          details: { bytes, limit: this.limit },
        });
      }
      this.#skipLeft = header.metaBytes + header.payloadBytes;
      this.#state = this.#skipLeft > 0 ? 'skip' : 'header';
      oversize(header, bytes);
      return;
    }
    this.#current = header;
    this.#meta = header.metaBytes === 0 ? EMPTY : new Uint8Array(header.metaBytes);
    // Unpooled memory at offset 0: packed frames inside are 64-byte aligned, so views over them stay
    // zero-copy in the receiver (see @proxystore/serialize unpackFrames).
    if (header.payloadBytes === 0) {
      this.#payload = EMPTY;
    } else {
      const memory = Buffer.allocUnsafeSlow(header.payloadBytes);
      this.#payload = new Uint8Array(memory.buffer, memory.byteOffset, memory.byteLength);
    }
    this.#bodyFill = 0;
    this.#state = 'body';
    if (header.metaBytes + header.payloadBytes === 0) this.#finishFrame();
  }

  /** Copies what `chunk` has of the current body; returns the bytes taken. */
  #fillBody(chunk: Uint8Array, offset: number): number {
    const h = this.#current as FrameHeader;
    let taken = 0;
    if (this.#bodyFill < h.metaBytes) {
      const take = Math.min(h.metaBytes - this.#bodyFill, chunk.byteLength - offset);
      this.#meta.set(chunk.subarray(offset, offset + take), this.#bodyFill);
      this.#bodyFill += take;
      taken += take;
    }
    const payloadFill = this.#bodyFill - h.metaBytes;
    if (payloadFill >= 0 && payloadFill < h.payloadBytes && offset + taken < chunk.byteLength) {
      const take = Math.min(h.payloadBytes - payloadFill, chunk.byteLength - offset - taken);
      this.#payload.set(chunk.subarray(offset + taken, offset + taken + take), payloadFill);
      this.#bodyFill += take;
      taken += take;
    }
    if (this.#bodyFill === h.metaBytes + h.payloadBytes) this.#finishFrame();
    return taken;
  }

  #finishFrame(): void {
    const h = this.#current as FrameHeader;
    const frame: Frame = { kind: h.kind, taskId: h.taskId, meta: parseMeta(this.#meta), payload: this.#payload };
    this.#current = undefined;
    this.#meta = EMPTY;
    this.#payload = EMPTY;
    this.#state = 'header';
    this.#handlers.frame(frame);
  }
}
