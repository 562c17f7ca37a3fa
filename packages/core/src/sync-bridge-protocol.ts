// The wire format between a thread that waits in `syncBridgeGet` and the sync bridge's worker thread:
// the layout of the shared state the caller waits on, the messages, how frames are prepared for transfer,
// and how errors cross the thread boundary keeping their class, code, message and cause chain.
import type { MessagePort } from 'node:worker_threads';
import { NonProxiableTypeError, ProxyStoreError } from '@proxystore/proxy';
import { SerializationError, type SerializationErrorCode } from '@proxystore/serialize';
import type { ConnectorConfig, JsonValue, Key } from './connector.js';
import {
  ClosedError,
  ConfigError,
  ConnectorError,
  InvalidKeyError,
  InvalidReferenceError,
  NotAStoreProxyError,
  ProxyResolveMissingKeyError,
} from './errors.js';

/** Int32 slots of the SharedArrayBuffer both sides hold. */
export const SIGNAL = 0; // bumped (and notified) after every message the worker posts: the caller waits on it
export const STATUS = 1; // ALIVE, or DEAD once the worker thread is exiting
export const RECEIVED = 2; // requests the worker has taken off its port (tells a wedged worker from a slow get)
export const EXIT_CODE = 3;
export const READY = 4; // 1 once the worker listens on its port
export const STATE_SLOTS = 5;
export const ALIVE = 0;
export const DEAD = 1;

/** `Symbol.for` key of the worker module's function that says why it exits (see the bootstrap in sync-bridge.ts). */
export const LAST_WORDS = 'proxystore.syncBridge.lastWords';

/** Marks the bridge's own thread in its `workerData`, so a read there never starts a nested bridge. */
export const BRIDGE_MARK = 'proxystoreSyncBridge';

export interface BridgeWorkerData {
  [BRIDGE_MARK]: true;
  port: MessagePort;
  state: SharedArrayBuffer;
}

export interface BridgeRequest {
  id: number;
  config: ConnectorConfig;
  key: Key;
}

/** Where a failure happened: building the connector from its config, or its `get`. */
export type BridgeStage = 'connect' | 'get';

export type BridgeReply =
  | { type: 'frames'; id: number; frames: Uint8Array[] | null }
  | { type: 'error'; id: number; stage: BridgeStage; error: WireError }
  /** Posted from the worker's `exit` handler: the worker is going away (crash, `process.exit`). */
  | { type: 'dead'; id: 0; code: number; error?: WireError };

// ---------------------------------------------------------------------------------------------------
// Frames

/** Offsets of frames copied into one buffer keep the 64-byte alignment the serializer gives them. */
const ALIGN = 64;

/**
 * The frames to post and the buffers to transfer with them. A buffer is transferred whole when the frames
 * own it: they cover all of it, or (beyond the size of Buffer's shared pool, so never a pool slab) at
 * least half of it, as the file connector's one read holding every frame with alignment padding does.
 * Frames over anything else (a pool slab, a slice of a larger message, shared memory) are copied once,
 * here in the worker, into one fresh buffer: no foreign bytes cross, and the caller never copies.
 */
export function framesForTransfer(frames: readonly Uint8Array[]): { frames: Uint8Array[]; transfer: ArrayBuffer[] } {
  const covered = new Map<ArrayBufferLike, number>();
  for (const f of frames) covered.set(f.buffer, (covered.get(f.buffer) ?? 0) + f.byteLength);
  const transfer = new Set<ArrayBuffer>();
  const toCopy: number[] = [];
  frames.forEach((f, i) => {
    const buffer = f.buffer;
    const bytes = covered.get(buffer) ?? 0;
    const owned =
      buffer instanceof ArrayBuffer &&
      (bytes === buffer.byteLength || (buffer.byteLength > Buffer.poolSize && bytes * 2 >= buffer.byteLength));
    if (owned) transfer.add(buffer);
    else toCopy.push(i);
  });
  const out = frames.slice();
  if (toCopy.length > 0) {
    let size = 0;
    for (const i of toCopy) size = alignUp(size) + (frames[i] as Uint8Array).byteLength;
    const target = new ArrayBuffer(size);
    let offset = 0;
    for (const i of toCopy) {
      const f = frames[i] as Uint8Array;
      offset = alignUp(offset);
      const copy = new Uint8Array(target, offset, f.byteLength);
      copy.set(f);
      out[i] = copy;
      offset += f.byteLength;
    }
    transfer.add(target);
  }
  return { frames: out, transfer: [...transfer] };
}

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

// ---------------------------------------------------------------------------------------------------
// Errors

/** An error as plain data. `classes` is the constructor chain, nearest first (ConnectorError, ProxyStoreError, Error). */
export interface WireError {
  name: string;
  message: string;
  classes: string[];
  code?: string;
  stack?: string;
  /** Other own fields that are JSON data (errno, syscall, path; a missing key's storeName and key). */
  fields?: { [k: string]: JsonValue };
  cause?: WireCause;
}

export type WireCause = { type: 'error'; error: WireError } | { type: 'value'; value: JsonValue };

/** Cause chains longer than this are cut (a cycle, or a chain no one reads). */
const MAX_CAUSE_DEPTH = 8;
const SKIPPED_FIELDS = new Set(['name', 'message', 'stack', 'code', 'cause']);

function asJson(value: unknown): JsonValue | undefined {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined;
  try {
    const text = JSON.stringify(value);
    return text === undefined ? undefined : (JSON.parse(text) as JsonValue);
  } catch {
    return undefined;
  }
}

function constructorChain(err: object): string[] {
  const names: string[] = [];
  for (let proto = Object.getPrototypeOf(err) as object | null; proto !== null; proto = Object.getPrototypeOf(proto) as object | null) {
    const ctor = (proto as { constructor?: unknown }).constructor;
    if (typeof ctor === 'function' && ctor.name !== '' && ctor.name !== 'Object') names.push(ctor.name);
  }
  return names;
}

/** An Error, also one from another realm (a `vm` context), where `instanceof Error` fails. */
function isErrorLike(value: unknown): value is Error {
  if (value instanceof Error) return true;
  const v = value as { name?: unknown; message?: unknown } | null;
  return typeof value === 'object' && v !== null && typeof v.name === 'string' && typeof v.message === 'string';
}

/** Plain data for `err`, whatever was thrown. */
export function serializeError(err: unknown, depth = 0): WireError {
  if (typeof err !== 'object' || err === null) {
    return { name: 'Error', message: String(err), classes: [] };
  }
  const e = err as { name?: unknown; message?: unknown; stack?: unknown; code?: unknown; cause?: unknown };
  const wire: WireError = {
    name: typeof e.name === 'string' ? e.name : 'Error',
    message: typeof e.message === 'string' ? e.message : String(err),
    classes: constructorChain(err),
  };
  if (typeof e.code === 'string') wire.code = e.code;
  if (typeof e.stack === 'string') wire.stack = e.stack;
  const fields: { [k: string]: JsonValue } = {};
  for (const [name, value] of Object.entries(err)) {
    if (SKIPPED_FIELDS.has(name)) continue;
    const json = asJson(value);
    if (json !== undefined) fields[name] = json;
  }
  if (Object.keys(fields).length > 0) wire.fields = fields;
  if ('cause' in e && e.cause !== undefined && depth < MAX_CAUSE_DEPTH) {
    if (isErrorLike(e.cause)) {
      wire.cause = { type: 'error', error: serializeError(e.cause, depth + 1) };
    } else {
      const value = asJson(e.cause);
      wire.cause = value === undefined ? { type: 'value', value: String(e.cause) } : { type: 'value', value };
    }
  }
  return wire;
}

type Options = { cause?: unknown };

/** How to rebuild each ProxyStore error class, by class name. */
const PROXYSTORE_CLASSES: { [name: string]: (w: WireError, o: Options) => ProxyStoreError } = {
  ProxyStoreError: (w, o) => new ProxyStoreError(w.code ?? 'PROXYSTORE_ERROR', w.message, o),
  ConnectorError: (w, o) => new ConnectorError(w.message, { ...o, code: w.code ?? ConnectorError.code }),
  ConfigError: (w, o) => new ConfigError(w.message, { ...o, code: w.code ?? ConfigError.code }),
  ClosedError: () => new ClosedError('(remote)'),
  InvalidKeyError: (w, o) => new InvalidKeyError(w.message, o),
  InvalidReferenceError: (w, o) => new InvalidReferenceError(w.message, o),
  NotAStoreProxyError: (w, o) => new NotAStoreProxyError(w.message, o),
  ProxyResolveMissingKeyError: (w, o) => new ProxyResolveMissingKeyError(String(w.fields?.storeName ?? ''), w.fields?.key, o),
  SerializationError: (w, o) =>
    new SerializationError((w.code ?? 'SERIALIZE_CORRUPT') as SerializationErrorCode, w.message, o),
  NonProxiableTypeError: (w, o) => new NonProxiableTypeError(w.message, o),
};

/** Engine error classes a plain cause may be. */
const BUILTIN_CLASSES: { [name: string]: new (message: string, options?: Options) => Error } = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

function rebuildCause(cause: WireCause | undefined): Options {
  if (cause === undefined) return {};
  return { cause: cause.type === 'error' ? rebuildError(cause.error) : cause.value };
}

/** Message, code and remote stack onto a rebuilt error; its own stack (the waiting thread's) comes first. */
function finish<E extends Error>(err: E, wire: WireError): E {
  const target = err as unknown as { message: string; code?: string; name: string; stack?: string };
  target.message = wire.message;
  if (wire.code !== undefined) target.code = wire.code;
  for (const [name, value] of Object.entries(wire.fields ?? {})) {
    if (!(name in err)) (err as unknown as { [k: string]: unknown })[name] = value;
  }
  // The waiting thread's frames, without the bridge's own (rebuildError, settle, ...): the access site first.
  const frames = (target.stack ?? '')
    .split('\n')
    .filter((line) => line.trimStart().startsWith('at ') && !/sync-bridge(-protocol)?\.[jt]s/.test(line));
  target.stack = `${target.name}: ${wire.message}\n${frames.join('\n')}`;
  if (wire.stack !== undefined) target.stack += `\n    -- in the sync bridge worker --\n${wire.stack}`;
  return err;
}

/**
 * The error `wire` describes, as an instance of its nearest class this side knows: a ProxyStore class
 * (by constructor chain, so a transport's subclass of ConnectorError comes back a ConnectorError), else an
 * engine class with the remote `name` and `code`. The cause chain is rebuilt the same way.
 */
export function rebuildError(wire: WireError): Error {
  const options = rebuildCause(wire.cause);
  for (const name of [...wire.classes, wire.name]) {
    const build = PROXYSTORE_CLASSES[name];
    if (build !== undefined) return finish(build(wire, options), wire);
  }
  const Builtin = [...wire.classes, wire.name].map((n) => BUILTIN_CLASSES[n]).find((c) => c !== undefined) ?? Error;
  const err = new Builtin(wire.message, options);
  // A name without a class here (AbortError, SystemError) is kept as the error's name.
  if (err.name !== wire.name) {
    Object.defineProperty(err, 'name', { value: wire.name, writable: true, configurable: true, enumerable: false });
  }
  return finish(err, wire);
}

/**
 * What the waiting thread throws for an error from the bridge: a ProxyStore error keeps its class and
 * code; anything else (a TypeError from a client library, a thrown string) becomes ConnectorError
 * `SYNC_BRIDGE_REMOTE_ERROR` with the original message, and the original, rebuilt, as its cause.
 */
export function errorFromWire(wire: WireError): Error {
  const rebuilt = rebuildError(wire);
  if (ProxyStoreError.isProxyStoreError(rebuilt)) return rebuilt;
  return new ConnectorError(wire.message, { code: 'SYNC_BRIDGE_REMOTE_ERROR', cause: rebuilt });
}
