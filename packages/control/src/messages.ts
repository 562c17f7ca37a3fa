// Control-plane messages as plain TS objects, and their flatbuffers encoding. Every decoder verifies the
// buffer first (a message arrives from the network: a lying offset must fail as CONTROL_PROTOCOL, never
// read garbage), and the bulk `data` of put and get chunks is written with one copy per piece and read
// back as a view, never element by element.
import { Builder, ByteBuffer } from 'flatbuffers';
import { verifyRootTable, type FieldSpec } from '@proxystore/serialize';
import { ControlError, ControlErrorCode } from './errors.js';
import {
  EvictReply,
  ExistsReply,
  GetChunk,
  Health,
  Identity,
  ObjectRef,
  PeerInfo,
  PeerList,
  PutChunk,
  PutReply,
  StatReply,
} from './generated/control_generated.js';

/** Names one object: its id, and the endpoint that owns it ('' or absent: the endpoint called). */
export interface ObjectRefMessage {
  id: string;
  owner: string;
  /** Set by an endpoint forwarding the call to the owner; the owner never forwards it again. */
  forwarded: boolean;
}

/** One message of a put or get stream: the layout (first message only) and/or the next bytes. */
export interface ChunkMessage {
  /** Put only, first message: the id to store under ('' lets the endpoint mint one). */
  id?: string;
  /** Get only, first message: whether the object exists. */
  found?: boolean;
  /** First message: byte length of each frame. */
  frameLengths?: number[];
  /** The next bytes, as pieces written back to back (a sender never joins them first). */
  data?: readonly Uint8Array[];
}

/** A decoded chunk: `data` is one view into the received message. */
export interface DecodedChunk {
  id: string;
  found: boolean;
  frameLengths: number[] | null;
  data: Uint8Array;
}

export interface PutResult {
  id: string;
  /** Id of the endpoint that stored it. */
  owner: string;
  size: number;
}

/** Who an endpoint is and its load. */
export interface IdentityInfo {
  id: string;
  name: string;
  /** The address clients dial (host:port). */
  address: string;
  version: string;
  startedMs: number;
  objects: number;
  bytesUsed: number;
  bytesLimit: number;
  maxObjectSize: number;
  chunkSize: number;
  persistent: boolean;
  /** The UCX worker address of a UCX server (its data plane); absent for endpoints without one. */
  workerAddress?: Uint8Array;
}

export interface HealthInfo {
  serving: boolean;
  uptimeMs: number;
  objects: number;
  bytesUsed: number;
  activeCalls: number;
}

export interface PeerInfoData {
  id: string;
  name: string;
  address: string;
  /** Last contact in ms since the epoch; 0 when never reached. */
  lastSeenMs: number;
  reachable: boolean;
}

const u8 = { kind: 'scalar', size: 1 } as const;
const u32 = { kind: 'scalar', size: 4 } as const;
const u64 = { kind: 'scalar', size: 8 } as const;
const str = { kind: 'string' } as const;
const bytes = { kind: 'vector', elementSize: 1 } as const;
const u64s = { kind: 'vector', elementSize: 8 } as const;

const OBJECT_REF: readonly FieldSpec[] = [str, str, u8];
const PUT_CHUNK: readonly FieldSpec[] = [str, u64s, bytes];
const PUT_REPLY: readonly FieldSpec[] = [str, str, u64];
const GET_CHUNK: readonly FieldSpec[] = [u8, u64s, bytes];
const BOOL_REPLY: readonly FieldSpec[] = [u8];
const STAT_REPLY: readonly FieldSpec[] = [u8, bytes];
const IDENTITY: readonly FieldSpec[] = [str, str, str, str, u64, u64, u64, u64, u64, u32, u8, bytes];
const HEALTH: readonly FieldSpec[] = [u8, u64, u64, u64, u32];
const PEER_INFO: readonly FieldSpec[] = [str, str, str, u64, u8];
const PEER_LIST: readonly FieldSpec[] = [{ kind: 'tables', fields: PEER_INFO }];

/** Verifies `buf` as a table of `fields`, then reads it; any failure is CONTROL_PROTOCOL. */
function decode<T>(buf: Uint8Array, fields: readonly FieldSpec[], what: string, read: (bb: ByteBuffer) => T): T {
  try {
    verifyRootTable(buf, null, fields, what);
    return read(new ByteBuffer(buf));
  } catch (err) {
    throw new ControlError(ControlErrorCode.PROTOCOL, `Malformed ${what} message: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function finish(b: Builder, root: number): Buffer {
  b.finish(root);
  const out = b.asUint8Array();
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

function toNumber(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`${what} ${v} is not a safe integer`);
  return Number(v);
}

function u64Vector(b: Builder, values: readonly number[]): number {
  b.startVector(8, values.length, 8);
  for (let i = values.length - 1; i >= 0; i--) b.addInt64(BigInt(values[i] as number));
  return b.endVector();
}

// The flatbuffers 2.0.7 runtime writes byte vectors one element at a time; this writes each piece with one
// `set`. It relies on two private Builder fields (`space`, `bb`), stable in the pinned runtime and covered
// by the round-trip tests.
interface BuilderInternals {
  space: number;
  bb: ByteBuffer;
}

function bytesVector(b: Builder, pieces: readonly Uint8Array[], total: number): number {
  b.startVector(1, total, 1);
  const inner = b as unknown as BuilderInternals;
  inner.space -= total;
  const target = inner.bb.bytes();
  let at = inner.space;
  for (const piece of pieces) {
    target.set(piece, at);
    at += piece.byteLength;
  }
  return b.endVector();
}

function piecesLength(pieces: readonly Uint8Array[] | undefined): number {
  let total = 0;
  for (const p of pieces ?? []) total += p.byteLength;
  return total;
}

// ---- ObjectRef --------------------------------------------------------------------------------------

export function encodeObjectRef(ref: ObjectRefMessage): Buffer {
  const b = new Builder(64 + 3 * (ref.id.length + ref.owner.length));
  const id = b.createString(ref.id);
  const owner = b.createString(ref.owner);
  ObjectRef.startObjectRef(b);
  ObjectRef.addId(b, id);
  ObjectRef.addOwner(b, owner);
  if (ref.forwarded) ObjectRef.addForwarded(b, true);
  return finish(b, ObjectRef.endObjectRef(b));
}

export function decodeObjectRef(buf: Uint8Array): ObjectRefMessage {
  return decode(buf, OBJECT_REF, 'ObjectRef', (bb) => {
    const t = ObjectRef.getRootAsObjectRef(bb);
    return { id: t.id() ?? '', owner: t.owner() ?? '', forwarded: t.forwarded() };
  });
}

// ---- PutChunk / GetChunk ----------------------------------------------------------------------------

export function encodePutChunk(chunk: ChunkMessage): Buffer {
  const total = piecesLength(chunk.data);
  const lengths = chunk.frameLengths ?? [];
  const b = new Builder(total + 64 + 8 * lengths.length + 3 * (chunk.id?.length ?? 0));
  const data = chunk.data === undefined ? 0 : bytesVector(b, chunk.data, total);
  const frameLengths = chunk.frameLengths === undefined ? 0 : u64Vector(b, lengths);
  const id = chunk.id ? b.createString(chunk.id) : 0;
  PutChunk.startPutChunk(b);
  if (id) PutChunk.addId(b, id);
  if (frameLengths) PutChunk.addFrameLengths(b, frameLengths);
  if (data) PutChunk.addData(b, data);
  return finish(b, PutChunk.endPutChunk(b));
}

function readLengths(length: number, at: (i: number) => bigint | null, present: boolean): number[] | null {
  if (!present) return null;
  const out = new Array<number>(length);
  for (let i = 0; i < length; i++) out[i] = toNumber(at(i) ?? 0n, 'frame length');
  return out;
}

export function decodePutChunk(buf: Uint8Array): DecodedChunk {
  return decode(buf, PUT_CHUNK, 'PutChunk', (bb) => {
    const t = PutChunk.getRootAsPutChunk(bb);
    // A present-but-empty vector and an absent one differ: only the first message has frame_lengths.
    const present = bb.__offset(t.bb_pos, 6) !== 0;
    return {
      id: t.id() ?? '',
      found: true,
      frameLengths: readLengths(t.frameLengthsLength(), (i) => t.frameLengths(i), present),
      data: t.dataArray() ?? new Uint8Array(0),
    };
  });
}

export function encodeGetChunk(chunk: ChunkMessage): Buffer {
  const total = piecesLength(chunk.data);
  const lengths = chunk.frameLengths ?? [];
  const b = new Builder(total + 64 + 8 * lengths.length);
  const data = chunk.data === undefined ? 0 : bytesVector(b, chunk.data, total);
  const frameLengths = chunk.frameLengths === undefined ? 0 : u64Vector(b, lengths);
  GetChunk.startGetChunk(b);
  if (chunk.found) GetChunk.addFound(b, true);
  if (frameLengths) GetChunk.addFrameLengths(b, frameLengths);
  if (data) GetChunk.addData(b, data);
  return finish(b, GetChunk.endGetChunk(b));
}

export function decodeGetChunk(buf: Uint8Array): DecodedChunk {
  return decode(buf, GET_CHUNK, 'GetChunk', (bb) => {
    const t = GetChunk.getRootAsGetChunk(bb);
    const present = bb.__offset(t.bb_pos, 6) !== 0;
    return {
      id: '',
      found: t.found(),
      frameLengths: readLengths(t.frameLengthsLength(), (i) => t.frameLengths(i), present),
      data: t.dataArray() ?? new Uint8Array(0),
    };
  });
}

// ---- Replies ----------------------------------------------------------------------------------------

export function encodePutReply(r: PutResult): Buffer {
  const b = new Builder(64 + 3 * (r.id.length + r.owner.length));
  const id = b.createString(r.id);
  const owner = b.createString(r.owner);
  PutReply.startPutReply(b);
  PutReply.addId(b, id);
  PutReply.addOwner(b, owner);
  PutReply.addSize(b, BigInt(r.size));
  return finish(b, PutReply.endPutReply(b));
}

export function decodePutReply(buf: Uint8Array): PutResult {
  return decode(buf, PUT_REPLY, 'PutReply', (bb) => {
    const t = PutReply.getRootAsPutReply(bb);
    return { id: t.id() ?? '', owner: t.owner() ?? '', size: toNumber(t.size(), 'size') };
  });
}

export function encodeExistsReply(exists: boolean): Buffer {
  const b = new Builder(32);
  return finish(b, ExistsReply.createExistsReply(b, exists));
}

export function decodeExistsReply(buf: Uint8Array): boolean {
  return decode(buf, BOOL_REPLY, 'ExistsReply', (bb) => ExistsReply.getRootAsExistsReply(bb).exists());
}

export function encodeEvictReply(existed: boolean): Buffer {
  const b = new Builder(32);
  return finish(b, EvictReply.createEvictReply(b, existed));
}

export function decodeEvictReply(buf: Uint8Array): boolean {
  return decode(buf, BOOL_REPLY, 'EvictReply', (bb) => EvictReply.getRootAsEvictReply(bb).existed());
}

/** A stat reply carries the serialize package's ObjectDescriptor bytes, or nothing when not found. */
export function encodeStatReply(descriptor: Uint8Array | null): Buffer {
  const b = new Builder(64 + (descriptor?.byteLength ?? 0));
  const d = descriptor === null ? 0 : bytesVector(b, [descriptor], descriptor.byteLength);
  StatReply.startStatReply(b);
  StatReply.addFound(b, descriptor !== null);
  if (d) StatReply.addDescriptor(b, d);
  return finish(b, StatReply.endStatReply(b));
}

export function decodeStatReply(buf: Uint8Array): Uint8Array | null {
  return decode(buf, STAT_REPLY, 'StatReply', (bb) => {
    const t = StatReply.getRootAsStatReply(bb);
    return t.found() ? (t.descriptorArray() ?? new Uint8Array(0)) : null;
  });
}

export function encodeEmpty(): Buffer {
  // An empty table: root offset, vtable (4 bytes) and a table holding only its vtable offset.
  const b = new Builder(16);
  b.startObject(0);
  return finish(b, b.endObject());
}

export function decodeEmpty(buf: Uint8Array): null {
  return decode(buf, [], 'Empty', () => null);
}

// ---- Identity, health, peers ------------------------------------------------------------------------

export function encodeIdentity(i: IdentityInfo): Buffer {
  const worker = i.workerAddress;
  const b = new Builder(256 + (worker?.byteLength ?? 0));
  const workerAddress = worker === undefined ? 0 : bytesVector(b, [worker], worker.byteLength);
  const id = b.createString(i.id);
  const name = b.createString(i.name);
  const address = b.createString(i.address);
  const version = b.createString(i.version);
  Identity.startIdentity(b);
  Identity.addId(b, id);
  Identity.addName(b, name);
  Identity.addAddress(b, address);
  Identity.addVersion(b, version);
  Identity.addStartedMs(b, BigInt(i.startedMs));
  Identity.addObjects(b, BigInt(i.objects));
  Identity.addBytesUsed(b, BigInt(i.bytesUsed));
  Identity.addBytesLimit(b, BigInt(i.bytesLimit));
  Identity.addMaxObjectSize(b, BigInt(i.maxObjectSize));
  Identity.addChunkSize(b, i.chunkSize);
  Identity.addPersistent(b, i.persistent);
  if (workerAddress) Identity.addWorkerAddress(b, workerAddress);
  return finish(b, Identity.endIdentity(b));
}

export function decodeIdentity(buf: Uint8Array): IdentityInfo {
  return decode(buf, IDENTITY, 'Identity', (bb) => {
    const t = Identity.getRootAsIdentity(bb);
    // A copy: the caller keeps the address after the message buffer goes (grpc-js may reuse it).
    const worker = t.workerAddressArray();
    return {
      id: t.id() ?? '',
      name: t.name() ?? '',
      address: t.address() ?? '',
      version: t.version() ?? '',
      startedMs: toNumber(t.startedMs(), 'started_ms'),
      objects: toNumber(t.objects(), 'objects'),
      bytesUsed: toNumber(t.bytesUsed(), 'bytes_used'),
      bytesLimit: toNumber(t.bytesLimit(), 'bytes_limit'),
      maxObjectSize: toNumber(t.maxObjectSize(), 'max_object_size'),
      chunkSize: t.chunkSize(),
      persistent: t.persistent(),
      ...(worker === null ? {} : { workerAddress: worker.slice() }),
    };
  });
}

export function encodeHealth(h: HealthInfo): Buffer {
  const b = new Builder(64);
  return finish(
    b,
    Health.createHealth(b, h.serving, BigInt(h.uptimeMs), BigInt(h.objects), BigInt(h.bytesUsed), h.activeCalls),
  );
}

export function decodeHealth(buf: Uint8Array): HealthInfo {
  return decode(buf, HEALTH, 'Health', (bb) => {
    const t = Health.getRootAsHealth(bb);
    return {
      serving: t.serving(),
      uptimeMs: toNumber(t.uptimeMs(), 'uptime_ms'),
      objects: toNumber(t.objects(), 'objects'),
      bytesUsed: toNumber(t.bytesUsed(), 'bytes_used'),
      activeCalls: t.activeCalls(),
    };
  });
}

function writePeerInfo(b: Builder, p: PeerInfoData): number {
  const id = b.createString(p.id);
  const name = b.createString(p.name);
  const address = b.createString(p.address);
  return PeerInfo.createPeerInfo(b, id, name, address, BigInt(p.lastSeenMs), p.reachable);
}

function readPeerInfo(t: PeerInfo): PeerInfoData {
  return {
    id: t.id() ?? '',
    name: t.name() ?? '',
    address: t.address() ?? '',
    lastSeenMs: toNumber(t.lastSeenMs(), 'last_seen_ms'),
    reachable: t.reachable(),
  };
}

export function encodePeerInfo(p: PeerInfoData): Buffer {
  const b = new Builder(128);
  return finish(b, writePeerInfo(b, p));
}

export function decodePeerInfo(buf: Uint8Array): PeerInfoData {
  return decode(buf, PEER_INFO, 'PeerInfo', (bb) => readPeerInfo(PeerInfo.getRootAsPeerInfo(bb)));
}

export function encodePeerList(peers: readonly PeerInfoData[]): Buffer {
  const b = new Builder(64 + 128 * peers.length);
  const offsets = peers.map((p) => writePeerInfo(b, p));
  const vector = PeerList.createPeersVector(b, offsets);
  return finish(b, PeerList.createPeerList(b, vector));
}

export function decodePeerList(buf: Uint8Array): PeerInfoData[] {
  return decode(buf, PEER_LIST, 'PeerList', (bb) => {
    const t = PeerList.getRootAsPeerList(bb);
    const out: PeerInfoData[] = [];
    for (let i = 0; i < t.peersLength(); i++) {
      const p = t.peers(i);
      if (p !== null) out.push(readPeerInfo(p));
    }
    return out;
  });
}
