// The RemoteObject descriptor (schema/ucx.fbs) as a plain TS object, its flatbuffers encoding, and the key
// that carries it. A descriptor arrives from other processes (inside a key, in a daemon's pull message),
// so decoding verifies every offset first and checks that the fields agree with each other: a garbled
// one fails as UCX_BAD_KEY, never as a read of the wrong remote memory.
import { Builder, ByteBuffer } from 'flatbuffers';
import { MAX_FRAMES } from '@proxystore/control';
import { verifyRootTable, type FieldSpec } from '@proxystore/serialize';
import type { Key } from '@proxystore/core';
import { UcxError, UcxErrorCode } from './errors.js';
import { MemoryType, RemoteObject } from './generated/ucx_generated.js';
import { NONCE_SIZE, layoutOf, type Layout } from './layout.js';

export const DESCRIPTOR_IDENTIFIER = 'PSUX';

export type MemoryTypeName = 'host' | 'cuda';

/** Everything a consumer needs to read one object with one RMA get. */
export interface RemoteObjectInfo {
  id: string;
  /** Id of the serving process's UcxServer. */
  server: string;
  /** host:port of its control plane. */
  control: string;
  workerAddress: Uint8Array;
  /** Address of the block in the serving process. */
  remoteAddress: bigint;
  rkey: Uint8Array;
  /** Bytes of the block (header, frames, trailer). */
  length: number;
  frameLengths: number[];
  memoryType: MemoryTypeName;
  nonce: Uint8Array;
  /** Where a reader on the owner's host can map the block itself (absent: read over UCX only). */
  shm?: SameHostSource;
}

/** The owner's memfd block, for a same-host read (`peerRead`) instead of an RMA get. */
export interface SameHostSource {
  /** The owner's `processIdentity().hostId`: a reader compares it with its own. */
  hostId: string;
  pid: number;
  startTime: bigint;
  fd: number;
  inode: bigint;
  /** The block's offset in the file. */
  offset: number;
}

/** A key of the UCX connector: JSON, and self-contained (a get needs no control-plane call). */
export interface UcxKey extends Key {
  readonly kind: 'ucx';
  /** Id of the serving process (its UcxServer). */
  readonly server: string;
  /** host:port of the serving process's control plane (exists, evict). */
  readonly control: string;
  /** The RemoteObject descriptor, base64. */
  readonly descriptor: string;
}

const str = { kind: 'string' } as const;
const bytes = { kind: 'vector', elementSize: 1 } as const;
const u64 = { kind: 'scalar', size: 8 } as const;
const FIELDS: readonly FieldSpec[] = [
  str, // id
  str, // server
  str, // control
  bytes, // worker_address
  u64, // remote_address
  bytes, // rkey
  u64, // length
  { kind: 'vector', elementSize: 8 }, // frame_lengths
  { kind: 'scalar', size: 1 }, // memory_type
  bytes, // nonce
  str, // host_id
  { kind: 'scalar', size: 4 }, // owner_pid
  u64, // owner_start
  { kind: 'scalar', size: 4 }, // shm_fd
  u64, // shm_inode
  u64, // shm_offset
];

export function encodeRemoteObject(d: RemoteObjectInfo): Uint8Array {
  const b = new Builder(
    256 + d.workerAddress.byteLength + d.rkey.byteLength + 8 * d.frameLengths.length + 3 * (d.id.length + d.server.length + d.control.length),
  );
  const id = b.createString(d.id);
  const server = b.createString(d.server);
  const control = b.createString(d.control);
  const worker = RemoteObject.createWorkerAddressVector(b, d.workerAddress);
  const rkey = RemoteObject.createRkeyVector(b, d.rkey);
  const lengths = RemoteObject.createFrameLengthsVector(b, d.frameLengths.map((n) => BigInt(n)));
  const nonce = RemoteObject.createNonceVector(b, d.nonce);
  const hostId = d.shm === undefined ? 0 : b.createString(d.shm.hostId);
  RemoteObject.startRemoteObject(b);
  RemoteObject.addId(b, id);
  RemoteObject.addServer(b, server);
  RemoteObject.addControl(b, control);
  RemoteObject.addWorkerAddress(b, worker);
  RemoteObject.addRemoteAddress(b, d.remoteAddress);
  RemoteObject.addRkey(b, rkey);
  RemoteObject.addLength(b, BigInt(d.length));
  RemoteObject.addFrameLengths(b, lengths);
  RemoteObject.addMemoryType(b, d.memoryType === 'cuda' ? MemoryType.Cuda : MemoryType.Host);
  RemoteObject.addNonce(b, nonce);
  if (d.shm !== undefined) {
    RemoteObject.addHostId(b, hostId);
    RemoteObject.addOwnerPid(b, d.shm.pid);
    RemoteObject.addOwnerStart(b, d.shm.startTime);
    RemoteObject.addShmFd(b, d.shm.fd);
    RemoteObject.addShmInode(b, d.shm.inode);
    RemoteObject.addShmOffset(b, BigInt(d.shm.offset));
  }
  RemoteObject.finishRemoteObjectBuffer(b, RemoteObject.endRemoteObject(b));
  return b.asUint8Array();
}

function bad(what: string, message: string, cause?: unknown): UcxError {
  return new UcxError(UcxErrorCode.BAD_KEY, `${what}: ${message}`, cause === undefined ? {} : { cause });
}

function safe(v: bigint, what: string, field: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(what, `${field} ${v} is out of range`);
  return Number(v);
}

/**
 * Decodes and checks a descriptor: verified offsets, non-empty worker address, rkey and ids, a 16-byte
 * nonce, a known memory type, and a length that matches the frame layout. Throws UCX_BAD_KEY.
 */
export function decodeRemoteObject(buf: Uint8Array, what = 'UCX descriptor'): RemoteObjectInfo {
  try {
    verifyRootTable(buf, DESCRIPTOR_IDENTIFIER, FIELDS, what);
  } catch (err) {
    throw bad(what, `not a valid descriptor (${(err as Error).message})`, err);
  }
  const t = RemoteObject.getRootAsRemoteObject(new ByteBuffer(buf));
  const count = t.frameLengthsLength();
  if (count > MAX_FRAMES) throw bad(what, `${count} frames (more than ${MAX_FRAMES})`);
  const frameLengths = new Array<number>(count);
  for (let i = 0; i < count; i++) frameLengths[i] = safe(t.frameLengths(i) ?? 0n, what, 'frame length');
  const memoryType = t.memoryType();
  if (memoryType !== MemoryType.Host && memoryType !== MemoryType.Cuda) {
    throw bad(what, `unknown memory type ${String(memoryType)}`);
  }
  const d: RemoteObjectInfo = {
    id: t.id() ?? '',
    server: t.server() ?? '',
    control: t.control() ?? '',
    // Copies: the caller keeps these after the buffer (a decoded key string) is gone.
    workerAddress: (t.workerAddressArray() ?? new Uint8Array(0)).slice(),
    remoteAddress: t.remoteAddress(),
    rkey: (t.rkeyArray() ?? new Uint8Array(0)).slice(),
    length: safe(t.length(), what, 'length'),
    frameLengths,
    memoryType: memoryType === MemoryType.Cuda ? 'cuda' : 'host',
    nonce: (t.nonceArray() ?? new Uint8Array(0)).slice(),
  };
  if (d.id === '' || d.server === '' || d.control === '') throw bad(what, 'id, server and control must be set');
  if (d.workerAddress.byteLength === 0) throw bad(what, 'no worker address');
  if (d.rkey.byteLength === 0) throw bad(what, 'no remote key');
  if (d.nonce.byteLength !== NONCE_SIZE) throw bad(what, `nonce of ${d.nonce.byteLength} bytes, not ${NONCE_SIZE}`);
  let layout: Layout;
  try {
    layout = layoutOf(frameLengths);
  } catch (err) {
    throw bad(what, (err as Error).message, err);
  }
  if (layout.length !== d.length) throw bad(what, `length ${d.length} does not match its frames (${layout.length})`);
  // Same-host fields: all of them or none (an older writer, or an owner without memfd blocks): a partial
  // set only means "no same-host path", the UCX get still works.
  const hostId = t.hostId() ?? '';
  const pid = t.ownerPid();
  const fd = t.shmFd();
  if (hostId !== '' && pid > 0 && pid <= 0x7fffffff && fd >= 0) {
    d.shm = {
      hostId,
      pid,
      startTime: t.ownerStart(),
      fd,
      inode: t.shmInode(),
      offset: safe(t.shmOffset(), what, 'shm offset'),
    };
  }
  return d;
}

export function keyOf(d: RemoteObjectInfo, encoded: Uint8Array = encodeRemoteObject(d)): UcxKey {
  return {
    kind: 'ucx',
    id: d.id,
    server: d.server,
    control: d.control,
    descriptor: Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength).toString('base64'),
  };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The key's descriptor, checked against the key's own id, server and control. Throws UCX_BAD_KEY. */
export function descriptorOfKey(key: UcxKey): RemoteObjectInfo {
  const what = `UCX key ${key.id}`;
  if (typeof key.descriptor !== 'string' || key.descriptor.length % 4 !== 0 || !BASE64.test(key.descriptor)) {
    throw bad(what, 'the descriptor is not base64');
  }
  const buf = Buffer.from(key.descriptor, 'base64');
  const d = decodeRemoteObject(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), what);
  if (d.id !== key.id || d.server !== key.server || d.control !== key.control) {
    throw bad(what, `the descriptor names another object (${d.id} at server ${d.server}, ${d.control})`);
  }
  return d;
}
