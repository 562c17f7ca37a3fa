// Value <-> frames: the entry points. Frame 0 is the flatbuffers header; the value's bytes follow as
// frames that are views of the caller's memory (no copy on encode) and become views of the received
// memory on decode (no copy when aligned), so a transport can scatter/gather them as they are.
import { types as utilTypes } from 'node:util';
import { isProxy } from '@proxystore/proxy';
import { defaultCodecs, type CodecRegistry } from './codecs.js';
import {
  bytesOf,
  checkFrameFitsDType,
  dtypeName,
  dtypeOf,
  typedArrayFromFrame,
  type DTypeName,
} from './dtype.js';
import { SerializationError } from './errors.js';
import { DType, FrameRole, ValueKind } from './generated/proxystore_generated.js';
import { decodeHeader, encodeHeader, type FrameInfo, type HeaderInfo } from './header.js';
import {
  asDecodeError,
  DEFAULT_OUT_OF_BAND_THRESHOLD,
  newEncodeContext,
  prepareGraph,
  readStructured,
  referenceOf,
  reviveReference,
  writeStructured,
  type EncodeContext,
} from './structured.js';

export interface SerializeOptions {
  /** Codecs to consult; default `defaultCodecs`. */
  codecs?: CodecRegistry;
  /**
   * Typed arrays, Buffers and DataViews nested in a structured value with at least this many bytes are
   * sent as their own out-of-band frame (no copy, zero-copy view on decode); smaller ones are copied
   * inline into the v8 skeleton, where a frame of their own would cost more than the bytes.
   * Default 1024. `0` sends every view out of band; `Infinity` keeps them all inline (up to 4 GiB each).
   * Top-level binary values always travel as their own frame.
   */
  outOfBandThreshold?: number;
}

export interface DeserializeOptions {
  /** Codecs to decode with; default `defaultCodecs`. */
  codecs?: CodecRegistry;
  /** Turns a nested proxy's reference back into a proxy; default the one set by `setProxyReviver`. */
  reviveProxy?: (ref: unknown) => unknown;
}

let defaultReviver: ((ref: unknown) => unknown) | undefined;

/**
 * Sets the reviver `deserialize` uses for proxy references when no `reviveProxy` option is given.
 * `@proxystore/core` sets one when imported. Pass `undefined` to clear it.
 */
export function setProxyReviver(fn: ((ref: unknown) => unknown) | undefined): void {
  defaultReviver = fn;
}

// Lone surrogates have no UTF-8 form; such strings take the structured path, which keeps them exactly.
const LONE_SURROGATE = /\p{Surrogate}/u;
const utf8Encoder = new TextEncoder();
// fatal: a frame that is not UTF-8 is corrupt, not silently replaced; ignoreBOM: a leading U+FEFF is
// part of the value and must survive the round trip.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Encodes `value` as frames: `[header, ...data]`. Binary data is referenced, not copied: the frames
 * alias `value`'s memory, so do not mutate it until the frames have been sent or stored.
 *
 * Throws SerializationError `SERIALIZE_UNSUPPORTED_VALUE` for values that cannot be encoded (functions,
 * symbols, WeakMaps, a proxy whose factory has no `toReference`).
 */
export function serialize(value: unknown, options: SerializeOptions = {}): Uint8Array[] {
  const codecs = options.codecs ?? defaultCodecs;
  const threshold = options.outOfBandThreshold ?? DEFAULT_OUT_OF_BAND_THRESHOLD;
  if (typeof threshold !== 'number' || Number.isNaN(threshold) || threshold < 0) {
    throw new TypeError(`outOfBandThreshold must be a number >= 0, got ${String(threshold)}`);
  }
  const ctx = newEncodeContext(codecs, threshold);

  // A top-level codec value: encode the codec's data, and name the codec in the header.
  if (!isProxy(value) && (typeof value === 'object' || typeof value === 'function') && value !== null) {
    const codec = codecs.size > 0 ? codecs.find(value) : undefined;
    if (codec !== undefined) {
      const data: unknown = codec.encode(value);
      // The data is encoded without a second top-level codec: the header names one codec, so a codec
      // value returned by encode is handled as a nested one, inside a structured value.
      const [header, body] = encodeTop(data, ctx);
      return [encodeHeader({ ...header, codec: codec.name }), ...body];
    }
  }
  const [header, body] = encodeTop(value, ctx);
  return [encodeHeader(header), ...body];
}

function encodeTop(value: unknown, ctx: EncodeContext): [HeaderInfo, Uint8Array[]] {
  // isProxy before anything else: `instanceof` and property reads would run the proxy's traps.
  if (isProxy(value)) {
    // The frames hold the reference itself (plain data); the receiver's reviver makes it a proxy again.
    const skeleton = writeStructured(prepareGraph(referenceOf(value as object), ctx), ctx);
    return structuredResult(ValueKind.Proxy, skeleton, ctx);
  }
  if (ArrayBuffer.isView(value)) {
    const dtype = dtypeOf(value);
    let kind: ValueKind;
    if (value instanceof DataView) kind = ValueKind.DataView;
    else if (Buffer.isBuffer(value)) kind = ValueKind.Buffer;
    else if (dtype === DType.Uint8) kind = ValueKind.Bytes;
    else kind = ValueKind.TypedArray;
    // One frame, a view of the caller's memory.
    return payload(kind, dtype, bytesOf(value));
  }
  if (utilTypes.isArrayBuffer(value)) return payload(ValueKind.ArrayBuffer, DType.Bytes, bytesOf(value));
  if (typeof value === 'string' && !LONE_SURROGATE.test(value)) {
    return payload(ValueKind.String, DType.Bytes, utf8Encoder.encode(value));
  }
  return structuredResult(ValueKind.Structured, writeGraph(value, ctx), ctx);
}

/**
 * Writes a structured value. With no user codecs, only a proxy would need substituting, and v8 refuses
 * a Proxy outright (an exotic object: DataCloneError before any trap runs). So v8 writes the graph
 * directly, and only when it refuses do we pay for the walk that finds proxies and substitutes
 * references; the common graph costs what `v8.serialize` costs. With codecs registered, instances of a
 * class would be written as plain objects without complaint, so the walk must come first.
 */
function writeGraph(value: unknown, ctx: EncodeContext): Uint8Array {
  if (ctx.codecs.size === 0) {
    try {
      return writeStructured(value, ctx);
    } catch (err) {
      if (!(err instanceof SerializationError) || err.code !== 'SERIALIZE_UNSUPPORTED_VALUE') throw err;
      // Forget the frames the failed attempt collected; the second pass collects them again.
      ctx.oob.length = 0;
      ctx.oobInfo.length = 0;
    }
  }
  return writeStructured(prepareGraph(value, ctx), ctx);
}

function payload(kind: ValueKind, dtype: DType, bytes: Uint8Array): [HeaderInfo, Uint8Array[]] {
  return [{ kind, dtype, frames: [{ byteLength: bytes.byteLength, dtype, role: FrameRole.Payload }] }, [bytes]];
}

function structuredResult(kind: ValueKind, skeleton: Uint8Array, ctx: EncodeContext): [HeaderInfo, Uint8Array[]] {
  const frames: FrameInfo[] = [
    { byteLength: skeleton.byteLength, dtype: DType.Bytes, role: FrameRole.Skeleton },
    ...ctx.oobInfo,
  ];
  return [{ kind, dtype: DType.Bytes, frames }, [skeleton, ...ctx.oob]];
}

/**
 * Checks the frames against the header: count, each length, and the roles the kind needs. After this,
 * every frame is known to be exactly as long as the header says.
 */
function checkFrames(frames: readonly Uint8Array[]): HeaderInfo {
  if (!Array.isArray(frames) || frames.length === 0) {
    throw new SerializationError('SERIALIZE_TRUNCATED', 'No frames: at least the header frame is needed');
  }
  for (const f of frames) {
    if (!(f instanceof Uint8Array)) {
      throw new SerializationError('SERIALIZE_CORRUPT', 'Every frame must be a Uint8Array');
    }
  }
  const header = decodeHeader(frames[0]!);
  const declared = header.frames.length;
  const received = frames.length - 1;
  if (received < declared) {
    throw new SerializationError(
      'SERIALIZE_TRUNCATED',
      `The header declares ${declared} data frames but only ${received} were received`,
    );
  }
  if (received > declared) {
    throw new SerializationError(
      'SERIALIZE_CORRUPT',
      `The header declares ${declared} data frames but ${received} were received`,
    );
  }
  header.frames.forEach((info, i) => {
    const actual = frames[i + 1]!.byteLength;
    if (actual < info.byteLength) {
      throw new SerializationError(
        'SERIALIZE_TRUNCATED',
        `Frame ${i + 1} has ${actual} bytes, the header declares ${info.byteLength}`,
      );
    }
    if (actual > info.byteLength) {
      throw new SerializationError(
        'SERIALIZE_CORRUPT',
        `Frame ${i + 1} has ${actual} bytes, the header declares ${info.byteLength}`,
      );
    }
  });
  const structured = header.kind === ValueKind.Structured || header.kind === ValueKind.Proxy;
  if (structured) {
    const [first, ...rest] = header.frames;
    if (first?.role !== FrameRole.Skeleton || rest.some((f) => f.role !== FrameRole.OutOfBand)) {
      throw new SerializationError('SERIALIZE_CORRUPT', 'A structured value needs a skeleton frame, then out-of-band frames');
    }
  } else {
    const only = header.frames[0];
    if (declared !== 1 || only?.role !== FrameRole.Payload) {
      throw new SerializationError('SERIALIZE_CORRUPT', 'A binary or string value needs exactly one payload frame');
    }
    if (only.dtype !== header.dtype || !payloadDTypeFits(header.kind, only.dtype)) {
      throw new SerializationError('SERIALIZE_CORRUPT', 'The payload frame dtype contradicts the value kind');
    }
    checkFrameFitsDType(frames[1]!, only.dtype, 'Payload frame');
  }
  return header;
}

/** Whether a payload kind can carry this dtype, as `serialize` writes them. */
function payloadDTypeFits(kind: ValueKind, dtype: DType): boolean {
  switch (kind) {
    case ValueKind.Bytes:
    case ValueKind.Buffer:
      return dtype === DType.Uint8;
    case ValueKind.TypedArray:
      // Uint8Arrays are written as Bytes; a TypedArray is any other element type.
      return dtype !== DType.Bytes && dtype !== DType.Uint8;
    default:
      return dtype === DType.Bytes;
  }
}

/**
 * Decodes frames produced by `serialize`. Typed arrays, Buffers and DataViews from out-of-band frames
 * are views of the frames' memory when it is aligned for their element type (a copy otherwise), so keep
 * the frames' memory alive and unshared while the value is in use.
 *
 * Any malformed input throws SerializationError (`SERIALIZE_TRUNCATED`, `SERIALIZE_BAD_MAGIC`,
 * `SERIALIZE_BAD_VERSION`, `SERIALIZE_CORRUPT`, `SERIALIZE_UNKNOWN_CODEC`, `SERIALIZE_NO_PROXY_REVIVER`).
 */
export function deserialize<T = unknown>(frames: readonly Uint8Array[], options: DeserializeOptions = {}): T {
  const header = checkFrames(frames);
  const codecs = options.codecs ?? defaultCodecs;
  // Fail on an unknown codec before decoding anything else.
  const codec = header.codec === undefined ? undefined : codecs.require(header.codec);
  const data = decodeTop(header, frames, codecs, options.reviveProxy ?? defaultReviver);
  if (codec === undefined) return data as T;
  try {
    return codec.decode(data) as T;
  } catch (err) {
    throw asDecodeError(err, `Codec '${codec.name}' failed to decode its data`);
  }
}

function decodeTop(
  header: HeaderInfo,
  frames: readonly Uint8Array[],
  codecs: CodecRegistry,
  revive: ((ref: unknown) => unknown) | undefined,
): unknown {
  const frame = frames[1]!;
  switch (header.kind) {
    case ValueKind.Bytes:
      return new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
    case ValueKind.Buffer:
      return Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    case ValueKind.DataView:
      return new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    case ValueKind.TypedArray:
      return typedArrayFromFrame(frame, header.dtype);
    case ValueKind.ArrayBuffer:
      // An ArrayBuffer is its memory: zero copy only when the frame is a whole (non-shared) ArrayBuffer.
      if (frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength && utilTypes.isArrayBuffer(frame.buffer)) {
        return frame.buffer;
      }
      return frame.slice().buffer;
    case ValueKind.String:
      try {
        return utf8Decoder.decode(frame);
      } catch (err) {
        throw new SerializationError('SERIALIZE_CORRUPT', 'String frame is not valid UTF-8', { cause: err });
      }
    case ValueKind.Structured:
    case ValueKind.Proxy: {
      const oob = frames.slice(2);
      const value = readStructured(frame, {
        codecs,
        reviveProxy: revive,
        oob,
        oobInfo: header.frames.slice(1),
        used: new Array<boolean>(oob.length).fill(false),
      });
      // A Proxy frame holds the reference; the reviver turns it into the proxy.
      return header.kind === ValueKind.Proxy ? reviveReference(value, revive) : value;
    }
    default:
      throw new SerializationError('SERIALIZE_CORRUPT', `Unknown value kind ${String(header.kind)}`);
  }
}

/** Names of the top-level value kinds, as `inspectFrames` reports them. */
export type ValueKindName =
  | 'structured'
  | 'bytes'
  | 'buffer'
  | 'arraybuffer'
  | 'typedarray'
  | 'dataview'
  | 'string'
  | 'proxy';

const KIND_NAMES: Record<ValueKind, ValueKindName> = {
  [ValueKind.Structured]: 'structured',
  [ValueKind.Bytes]: 'bytes',
  [ValueKind.Buffer]: 'buffer',
  [ValueKind.ArrayBuffer]: 'arraybuffer',
  [ValueKind.TypedArray]: 'typedarray',
  [ValueKind.DataView]: 'dataview',
  [ValueKind.String]: 'string',
  [ValueKind.Proxy]: 'proxy',
};

export interface FramesInfo {
  kind: ValueKindName;
  /** Element type of a top-level typed array; 'bytes' otherwise. */
  dtype: DTypeName;
  /** The user codec the value went through, if any. */
  codec?: string;
  /** Byte length of every frame, the header (frame 0) included. */
  sizes: number[];
}

/** What the frames hold, from the header alone (validated like `deserialize`, but decoding no value). */
export function inspectFrames(frames: readonly Uint8Array[]): FramesInfo {
  const header = checkFrames(frames);
  const info: FramesInfo = {
    kind: KIND_NAMES[header.kind],
    dtype: dtypeName(header.dtype),
    sizes: frames.map((f) => f.byteLength),
  };
  if (header.codec !== undefined) info.codec = header.codec;
  return info;
}
