// The daemon-mode put as active messages, two ways.
//
// PUSH (what a producer sends): PUSH_REQUEST carries the object block itself as the message data, in the
// layout of layout.ts (header with the nonce, 64-aligned frames, trailer nonce); the header says which
// server, the token, the object id, the frame lengths and the nonce. The daemon's handler receives the
// data straight into a block of its registration pool (rendezvous for large objects: one wire transfer,
// no copy after it), checks it, keeps that very block, and answers PULL_REPLY. Over tcp an active message
// with rendezvous moves data about twice as fast as the RMA get that UCX emulates there.
//
// PULL (still answered, for producers that stage instead): a producer stages the object in a registered
// block of its own and sends PULL_REQUEST (the staged block's descriptor); the daemon RMA-gets the block
// into one of its own, checks it, stores it, and answers PULL_REPLY with its own descriptor or a typed
// error.
//
// A push either sends the whole block (the producer copied its frames into one registered block: the
// object's layout, nonces included), or, when one frame holds nearly all of the object, sends that frame
// where it lies in the producer's memory (no copy) and the other frames inline in the message header; the
// daemon then writes the block's header, the other frames and the trailer around the frame UCX put in
// place. Either way the daemon's handler slot is 'placed': the message header starts with two u64 (LE),
// the block length to take and the offset the data goes to (0 for a whole block).
//
// FETCH (a get over tcp alone, where UCX emulates an RMA get with messages the owner answers piece by
// piece anyway): the consumer sends FETCH_REQUEST naming the server and the object; the owner sends the
// object's block back as FETCH_REPLY's data (rendezvous for large objects: one put_zcopy over tcp,
// straight into a block of the consumer's pool that becomes the value), or an error and no data. About
// 1.3-2x the speed of the emulated get here (docs/ucx.md).
//
// RESERVED (a producer on the daemon's host, where it can write the daemon's memfd blocks itself): the
// daemon lends blocks ahead of time (GRANT, on PULL_REPLY, after a push or commit that asked for them);
// a put then writes its object into a lent block with peerWrite (one copy, no UCX) and sends COMMIT on
// RESERVE without waiting for any answer: the key is known from the grant. The daemon keeps the block as
// the object when the commit's layout and nonces check out. Unused blocks go back with RETURN (a closing
// connector, or the answer to the daemon's REVOKE of a block left unused). Until its commit arrives an
// object's id is pending at the daemon: exists, evict, stat, gRPC gets and fetches of it wait for the
// commit (server.ts).
//
// Message header layout (little-endian): magic 'PSUP' (4), kind (1), version (1), 2 reserved, sequence
// number (8), length of part A (4), length of part B (4), then part A, then part B.
//   pull request: A = JSON { server, token? }              B = the staged RemoteObject descriptor
//   push request: A = JSON { server, token?, id, frames, inPlace? }
//                 B = the 16-byte nonce, then (inPlace: the index of the frame sent as data) every other
//                 frame's bytes, in order
//   reply ok:     A = empty                                B = the daemon's RemoteObject descriptor
//   reply error:  A = JSON { code, message }               B = empty
//   fetch:        A = JSON { server, id }                  B = empty
//   fetch reply:  ok: A, B empty, the block as data; error: A = JSON { code, message }, no data
//   grant:        A = JSON { server, rid, capacity }        B = the lent block's RemoteObject descriptor
//                 (the object id it will hold; length, frames and nonce to be filled by the producer)
//   commit:       A = JSON { server, rid, frames, reserve? } B = the 16-byte nonce written in the block
//   return:       A = JSON { server, rids }                 B = empty
//   revoke:       A = JSON { server, rid }                  B = empty

/** Active-message ids (UCX AM ids are 16-bit). */
export const AM_PULL_REQUEST = 0x7550;
export const AM_PULL_REPLY = 0x7551;
/** Sent by the producer with the object block as data; answered with AM_PULL_REPLY. */
export const AM_PUSH_REQUEST = 0x7552;
/** A get's request to the owner (FETCH), and its answer: the object's block as the data, or an error. */
export const AM_FETCH_REQUEST = 0x7553;
export const AM_FETCH_REPLY = 0x7554;
/** Producer to daemon: COMMIT and RETURN of lent blocks. */
export const AM_RESERVE = 0x7555;
/** The code of a fetch reply for an object (or a server) that is not there: the get returns null. */
export const FETCH_NOT_FOUND = 'NOT_FOUND';

const MAGIC = 0x50555350; // 'PSUP' read as a little-endian u32
const VERSION = 1;
const FIXED = 24;

export const PullKind = { REQUEST: 1, OK: 2, ERROR: 3, PUSH: 4, FETCH: 5, GRANT: 6, COMMIT: 7, RETURN: 8, REVOKE: 9 } as const;
export type PullKind = (typeof PullKind)[keyof typeof PullKind];

export interface PullMessage {
  kind: PullKind;
  seq: number;
  a: Uint8Array;
  b: Uint8Array;
}

export function encodePull(kind: PullKind, seq: number, a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(FIXED + a.byteLength + b.byteLength);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint8(4, kind);
  dv.setUint8(5, VERSION);
  dv.setBigUint64(8, BigInt(seq), true);
  dv.setUint32(16, a.byteLength, true);
  dv.setUint32(20, b.byteLength, true);
  out.set(a, FIXED);
  out.set(b, FIXED + a.byteLength);
  return out;
}

/** Null for anything that is not a well-formed pull message of this version. */
export function decodePull(buf: ArrayBuffer): PullMessage | null {
  if (buf.byteLength < FIXED) return null;
  const dv = new DataView(buf);
  if (dv.getUint32(0, true) !== MAGIC || dv.getUint8(5) !== VERSION) return null;
  const kind = dv.getUint8(4);
  if (kind < PullKind.REQUEST || kind > PullKind.REVOKE) return null;
  const seq = dv.getBigUint64(8, true);
  const aLen = dv.getUint32(16, true);
  const bLen = dv.getUint32(20, true);
  if (seq > BigInt(Number.MAX_SAFE_INTEGER) || FIXED + aLen + bLen !== buf.byteLength) return null;
  return {
    kind: kind as PullKind,
    seq: Number(seq),
    a: new Uint8Array(buf, FIXED, aLen),
    b: new Uint8Array(buf, FIXED + aLen, bLen),
  };
}

/** Bytes before a push's message: the block length and the data's offset in it (the 'placed' slot's). */
export const PLACEMENT_SIZE = 16;

/** A push header: where the data goes in the daemon's block, then the message. */
export function withPlacement(blockLength: number, offset: number, message: Uint8Array): Uint8Array {
  const out = new Uint8Array(PLACEMENT_SIZE + message.byteLength);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(blockLength), true);
  dv.setBigUint64(8, BigInt(offset), true);
  out.set(message, PLACEMENT_SIZE);
  return out;
}

/** The placement and the message of a push header; null when it is too short. */
export function splitPlacement(header: ArrayBuffer): { blockLength: number; offset: number; message: ArrayBuffer } | null {
  if (header.byteLength < PLACEMENT_SIZE) return null;
  const dv = new DataView(header);
  const blockLength = dv.getBigUint64(0, true);
  const offset = dv.getBigUint64(8, true);
  if (blockLength > BigInt(Number.MAX_SAFE_INTEGER) || offset > blockLength) return null;
  return { blockLength: Number(blockLength), offset: Number(offset), message: header.slice(PLACEMENT_SIZE) };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function jsonBytes(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    return null;
  }
}
