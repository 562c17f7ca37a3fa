// Public surface of @proxystore/serialize: value <-> frames (a flatbuffers header plus out-of-band
// buffers), the packed single-buffer encoding, user codecs, and the control plane's object descriptor.
// Everything a caller may rely on is listed here by name; the rest of src/ is internal.
export {
  deserialize,
  inspectFrames,
  serialize,
  setProxyReviver,
  type DeserializeOptions,
  type FramesInfo,
  type SerializeOptions,
  type ValueKindName,
} from './serialize.js';
export { DEFAULT_OUT_OF_BAND_THRESHOLD } from './structured.js';
export { CodecRegistry, defaultCodecs, registerCodec, type AnyCodec, type Codec } from './codecs.js';
export {
  FRAME_ALIGNMENT,
  alignUp,
  framesByteLength,
  joinFrames,
  packFrames,
  packedByteLength,
  unpackFrames,
} from './frames.js';
export { SerializationError, type SerializationErrorCode } from './errors.js';
export type { DTypeName, TypedArray, TypedArrayConstructor } from './dtype.js';
export { FORMAT_VERSION, HEADER_IDENTIFIER } from './header.js';
// Bounds-checks an untrusted flatbuffer before any accessor reads it (the control plane uses it too).
export { verifyRootTable, type FieldSpec } from './verify.js';
export {
  OBJECT_DESCRIPTOR_IDENTIFIER,
  decodeObjectDescriptor,
  encodeObjectDescriptor,
  type MemoryTypeName,
  type ObjectDescriptorInfo,
} from './descriptor.js';
// The generated flatbuffers types, for the control plane, which builds its own messages from them.
export {
  DType,
  FrameDescriptor,
  FrameRole,
  Header,
  MemoryType,
  ObjectDescriptor,
  ValueKind,
} from './generated/proxystore_generated.js';
