// The control plane's description of a stored object (size, frame layout, dtype, shape, memory type,
// location), as a plain TS object over the flatbuffers ObjectDescriptor table. Lets a consumer allocate
// the right destination (host or GPU, aligned for its dtype) before any data moves.
import { Builder, ByteBuffer, Encoding } from 'flatbuffers';
import { dtypeFromName, dtypeName, isKnownDType, type DTypeName } from './dtype.js';
import { SerializationError } from './errors.js';
import { MemoryType, ObjectDescriptor } from './generated/proxystore_generated.js';
import { verifyRootTable, type FieldSpec } from './verify.js';

/** File identifier of an encoded ObjectDescriptor (the schema's root is the frame header). */
export const OBJECT_DESCRIPTOR_IDENTIFIER = 'PSOD';

/** Where an object's bytes live. */
export type MemoryTypeName = 'host' | 'cuda';

/** A stored object as the control plane describes it. */
export interface ObjectDescriptorInfo {
  /** Total size in bytes. */
  size: number;
  /** Byte length of each frame, in order. */
  frameLengths: number[];
  /** Element type when the object is one typed array; 'bytes' otherwise. */
  dtype: DTypeName;
  /** Dimensions, outermost first; empty when the object has no shape. */
  shape: number[];
  memoryType: MemoryTypeName;
  /** Who holds the bytes (endpoint id, host, worker address); empty when unknown. */
  location: string;
}

const FIELDS: readonly FieldSpec[] = [
  { kind: 'scalar', size: 8 }, // size
  { kind: 'vector', elementSize: 8 }, // frame_lengths
  { kind: 'scalar', size: 1 }, // dtype
  { kind: 'vector', elementSize: 8 }, // shape
  { kind: 'scalar', size: 1 }, // memory_type
  { kind: 'string' }, // location
];

function u64(n: number, what: string): bigint {
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`${what} must be a non-negative safe integer, got ${n}`);
  return BigInt(n);
}

function toNumber(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new SerializationError('SERIALIZE_CORRUPT', `ObjectDescriptor ${what} ${v} is not a safe integer`);
  }
  return Number(v);
}

/** Encodes a descriptor as a flatbuffer with identifier 'PSOD'. */
export function encodeObjectDescriptor(d: ObjectDescriptorInfo): Uint8Array {
  const dtype = dtypeFromName(d.dtype);
  if (dtype === undefined) throw new TypeError(`Unknown dtype '${d.dtype}'`);
  if (d.memoryType !== 'host' && d.memoryType !== 'cuda') {
    throw new TypeError(`Unknown memory type '${String(d.memoryType)}'`);
  }
  const b = new Builder(128 + 8 * (d.frameLengths.length + d.shape.length) + 3 * d.location.length);
  const location = b.createString(d.location);
  const frames = ObjectDescriptor.createFrameLengthsVector(
    b,
    d.frameLengths.map((n, i) => u64(n, `frameLengths[${i}]`)),
  );
  const shape = ObjectDescriptor.createShapeVector(
    b,
    d.shape.map((n, i) => u64(n, `shape[${i}]`)),
  );
  ObjectDescriptor.startObjectDescriptor(b);
  ObjectDescriptor.addSize(b, u64(d.size, 'size'));
  ObjectDescriptor.addFrameLengths(b, frames);
  ObjectDescriptor.addDtype(b, dtype);
  ObjectDescriptor.addShape(b, shape);
  ObjectDescriptor.addMemoryType(b, d.memoryType === 'cuda' ? MemoryType.Cuda : MemoryType.Host);
  ObjectDescriptor.addLocation(b, location);
  b.finish(ObjectDescriptor.endObjectDescriptor(b), OBJECT_DESCRIPTOR_IDENTIFIER);
  return b.asUint8Array();
}

/** Decodes and validates a descriptor; malformed bytes throw SerializationError. */
export function decodeObjectDescriptor(bytes: Uint8Array): ObjectDescriptorInfo {
  verifyRootTable(bytes, OBJECT_DESCRIPTOR_IDENTIFIER, FIELDS, 'ObjectDescriptor');
  const od = ObjectDescriptor.getRootAsObjectDescriptor(new ByteBuffer(bytes));
  const dtype = od.dtype();
  if (!isKnownDType(dtype)) throw new SerializationError('SERIALIZE_CORRUPT', `ObjectDescriptor has unknown dtype ${dtype}`);
  const memory = od.memoryType();
  if (memory !== MemoryType.Host && memory !== MemoryType.Cuda) {
    throw new SerializationError('SERIALIZE_CORRUPT', `ObjectDescriptor has unknown memory type ${memory}`);
  }
  const frameLengths: number[] = [];
  for (let i = 0; i < od.frameLengthsLength(); i++) {
    frameLengths.push(toNumber(od.frameLengths(i) ?? 0n, `frameLengths[${i}]`));
  }
  const shape: number[] = [];
  for (let i = 0; i < od.shapeLength(); i++) shape.push(toNumber(od.shape(i) ?? 0n, `shape[${i}]`));
  let location: string;
  try {
    // Raw bytes and a fatal decoder: the runtime's own decoding would replace invalid UTF-8 silently.
    const raw = od.location(Encoding.UTF8_BYTES);
    location = raw === null ? '' : typeof raw === 'string' ? raw : new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch (err) {
    throw new SerializationError('SERIALIZE_CORRUPT', 'ObjectDescriptor location is not valid UTF-8', { cause: err });
  }
  return {
    size: toNumber(od.size(), 'size'),
    frameLengths,
    dtype: dtypeName(dtype),
    shape,
    memoryType: memory === MemoryType.Cuda ? 'cuda' : 'host',
    location,
  };
}
