// Frame 0 of every serialized value: the flatbuffers Header, encoded from and decoded into a plain object.
// Decoding verifies the buffer before any generated accessor runs, and checks every enum and length, so
// the rest of the package can trust what it gets back.
import { Builder, ByteBuffer } from 'flatbuffers';
import { SerializationError } from './errors.js';
import { isKnownDType } from './dtype.js';
import { DType, FrameDescriptor, FrameRole, Header, ValueKind } from './generated/proxystore_generated.js';
import { verifyRootTable, type FieldSpec } from './verify.js';

/** The flatbuffers file identifier of a header: the magic a reader checks first. */
export const HEADER_IDENTIFIER = 'PSFH';
/** Format version this build writes and reads. */
export const FORMAT_VERSION = 1;

export interface FrameInfo {
  byteLength: number;
  dtype: DType;
  role: FrameRole;
}

export interface HeaderInfo {
  kind: ValueKind;
  dtype: DType;
  /** Name of the user codec the top-level value went through, if any. */
  codec?: string;
  /** One entry per frame after the header. */
  frames: FrameInfo[];
}

// Header fields in id order, for the verifier.
const VERSION_ONLY: readonly FieldSpec[] = [{ kind: 'scalar', size: 2 }];
const HEADER_FIELDS: readonly FieldSpec[] = [
  { kind: 'scalar', size: 2 }, // version
  { kind: 'scalar', size: 1 }, // kind
  { kind: 'scalar', size: 1 }, // dtype
  { kind: 'string' }, // codec
  { kind: 'vector', elementSize: FrameDescriptor.sizeOf() }, // frames
];

const KINDS = new Set<number>(Object.values(ValueKind).filter((v) => typeof v === 'number'));
const ROLES = new Set<number>(Object.values(FrameRole).filter((v) => typeof v === 'number'));

export function encodeHeader(info: HeaderInfo): Uint8Array {
  const b = new Builder(64 + 16 * info.frames.length + (info.codec?.length ?? 0) * 3);
  const codec = info.codec === undefined ? 0 : b.createString(info.codec);
  Header.startFramesVector(b, info.frames.length);
  // flatbuffers builds back to front: the last element is written first.
  for (let i = info.frames.length - 1; i >= 0; i--) {
    const f = info.frames[i]!;
    FrameDescriptor.createFrameDescriptor(b, BigInt(f.byteLength), f.dtype, f.role);
  }
  const frames = b.endVector();
  Header.startHeader(b);
  // The version is always written (even though it is not the schema default) so a reader can check it.
  Header.addVersion(b, FORMAT_VERSION);
  Header.addKind(b, info.kind);
  Header.addDtype(b, info.dtype);
  if (codec !== 0) Header.addCodec(b, codec);
  Header.addFrames(b, frames);
  Header.finishHeaderBuffer(b, Header.endHeader(b));
  return b.asUint8Array();
}

/** Reads and validates frame 0. Throws SerializationError for anything malformed. */
export function decodeHeader(bytes: Uint8Array): HeaderInfo {
  // Version first, with only field 0 verified: a newer format may lay out the rest differently, and
  // "unsupported version" is the useful error then, not "corrupt".
  verifyRootTable(bytes, HEADER_IDENTIFIER, VERSION_ONLY, 'Header');
  const header = Header.getRootAsHeader(new ByteBuffer(bytes));
  const version = header.version();
  if (version !== FORMAT_VERSION) {
    throw new SerializationError(
      'SERIALIZE_BAD_VERSION',
      `Header format version ${version} is not supported (this build reads version ${FORMAT_VERSION})`,
    );
  }
  verifyRootTable(bytes, HEADER_IDENTIFIER, HEADER_FIELDS, 'Header');
  const kind = header.kind();
  if (!KINDS.has(kind)) throw new SerializationError('SERIALIZE_CORRUPT', `Header has unknown value kind ${kind}`);
  const dtype = header.dtype();
  if (!isKnownDType(dtype)) throw new SerializationError('SERIALIZE_CORRUPT', `Header has unknown dtype ${dtype}`);
  const count = header.framesLength();
  const frames: FrameInfo[] = [];
  const slot = new FrameDescriptor();
  for (let i = 0; i < count; i++) {
    const f = header.frames(i, slot)!;
    const length = f.byteLength();
    const fdtype = f.dtype();
    const role = f.role();
    if (length > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new SerializationError('SERIALIZE_CORRUPT', `Frame ${i + 1} declares an impossible length ${length}`);
    }
    if (!isKnownDType(fdtype)) {
      throw new SerializationError('SERIALIZE_CORRUPT', `Frame ${i + 1} has unknown dtype ${fdtype}`);
    }
    if (!ROLES.has(role)) throw new SerializationError('SERIALIZE_CORRUPT', `Frame ${i + 1} has unknown role ${role}`);
    frames.push({ byteLength: Number(length), dtype: fdtype, role });
  }
  const codec = header.codec();
  return codec === null ? { kind, dtype, frames } : { kind, dtype, codec, frames };
}
