// What the UCX benchmark processes say to each other. The parent (session.ts, no UCX of its own) starts
// an owner (owner.ts: holds the bytes, as a producer or a daemon would) and a client (client.ts: the
// measuring process), both with the transport's UCX_TLS, and passes worker addresses, remote addresses
// and packed rkeys between them over IPC (base64). Between owner and client the raw baselines speak
// active messages with these ids; the connector speaks its own.
import { createHash } from 'node:crypto';
import type { ErrorMode } from '@proxystore/ucx/native';

/** Raw pull-put: the client asks the owner to RMA-get `length` bytes of the client's put source (header: length, u64 LE). */
export const AM_RAW_PULL = 0x6270;
/** The owner's answer once its get completed (empty). */
export const AM_RAW_PULL_DONE = 0x6271;
/** Raw push-put: the client sends its bytes as one active message (data: a registered region, rendezvous
 * for large ones) that lands in a pooled block of the owner, which answers AM_RAW_PULL_DONE. */
export const AM_RAW_PUSH = 0x6272;

/** How a peer reaches registered memory: the worker to connect to, where the bytes are, and the key. */
export interface RemoteBlock {
  /** The peer's UCP worker address, base64. */
  worker: string;
  /** The address of byte 0, decimal (a bigint on the wire as text). */
  address: string;
  /** The packed rkey, base64. */
  rkey: string;
}

/** What the client can time: one call of each, one in flight. */
export type UcxImpl =
  /** Raw addon: `ep.get` of the owner's block into a preallocated registered region. */
  | 'rma-get'
  /** Raw addon: an AM asks the owner to `ep.get` the client's registered bytes; its empty AM answers. */
  | 'pull-put'
  /** Raw addon: `ep.amSend` of a registered region into a pooled block of the owner; its empty AM answers. */
  | 'push-put'
  /** The store over UcxConnector: `store.get(key)` of an object the owner holds. */
  | 'connector-get'
  /** The same, then `releaseValue(value)`: the block goes back at once (both on the clock). */
  | 'connector-get-release'
  /** `store.getSync(key)` (a proxy's just-in-time read), then `releaseValue(value)`. */
  | 'connector-getsync-release'
  /** The store over UcxConnector: `store.put(bytes)`, the object evicted off the clock. */
  | 'connector-put';

export interface RunResult {
  /** Mean milliseconds per call over the timed calls (warm-up excluded). */
  msPerOp: number;
  /** Median of the timed calls. */
  p50Ms: number;
  calls: number;
}

export interface SetupOptions {
  maxBytes: number;
  errorMode: ErrorMode;
}

export function toBase64(bytes: ArrayBuffer | ArrayBufferView): string {
  const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Buffer.from(view).toString('base64');
}

export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** sha256 of the first `bytes` bytes of a buffer, hex: how the processes check they moved the same bytes. */
export function digest(buffer: ArrayBuffer, bytes: number, offset = 0): string {
  return createHash('sha256').update(new Uint8Array(buffer, offset, bytes)).digest('hex');
}

