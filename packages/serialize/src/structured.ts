// Structured values: the object graph is written by node:v8 (which already handles cycles, Map, Set,
// Date, RegExp, BigInt, Error), and our host-object hooks take over the parts v8 must not see inline:
// large binary views go out of band as their own frames, and proxies and codec values, which v8 refuses
// or would flatten, are replaced beforehand by sentinels that the hook writes as references.
import { types as utilTypes } from 'node:util';
import v8 from 'node:v8';
import { getFactory, isProxy, ProxyStoreError } from '@proxystore/proxy';
import type { CodecRegistry } from './codecs.js';
import { dtypeInfo, bytesOf, dtypeOf, isKnownDType, typedArrayFromFrame, checkFrameFitsDType } from './dtype.js';
import { SerializationError } from './errors.js';
import { DType, FrameRole } from './generated/proxystore_generated.js';
import type { FrameInfo } from './header.js';

/** Default of `outOfBandThreshold`: views of at least this many bytes become their own frame. */
export const DEFAULT_OUT_OF_BAND_THRESHOLD = 1024;

// Tags of our host-object records in the v8 stream.
const TAG_INLINE = 1;
const TAG_OUT_OF_BAND = 2;
const TAG_PROXY = 3;
const TAG_CODEC = 4;

/** Which view class a binary record rebuilds. */
export const ViewKind = { TypedArray: 0, Buffer: 1, DataView: 2 } as const;
export type ViewKind = (typeof ViewKind)[keyof typeof ViewKind];

export function viewKindOf(view: ArrayBufferView): ViewKind {
  if (view instanceof DataView) return ViewKind.DataView;
  if (Buffer.isBuffer(view)) return ViewKind.Buffer;
  return ViewKind.TypedArray;
}

/** Builds the view a record describes over `bytes` (no copy when aligned; see typedArrayFromFrame). */
export function viewFromBytes(bytes: Uint8Array, kind: number, dtype: DType, what: string): ArrayBufferView {
  switch (kind) {
    case ViewKind.Buffer:
      if (dtype !== DType.Uint8) throw mismatch(what, 'Buffer', dtype);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    case ViewKind.DataView:
      if (dtype !== DType.Bytes) throw mismatch(what, 'DataView', dtype);
      return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    case ViewKind.TypedArray:
      if (dtype === DType.Bytes) throw mismatch(what, 'typed array', dtype);
      return typedArrayFromFrame(bytes, dtype);
    default:
      throw new SerializationError('SERIALIZE_CORRUPT', `${what} has unknown view kind ${kind}`);
  }
}

function mismatch(what: string, view: string, dtype: DType): SerializationError {
  return new SerializationError('SERIALIZE_CORRUPT', `${what}: a ${view} cannot have dtype ${dtypeInfo(dtype).name}`);
}

/** Wraps a failure from user code (codec, reviver) met while decoding, keeping ProxyStore errors as they are. */
export function asDecodeError(err: unknown, message: string): ProxyStoreError {
  if (ProxyStoreError.isProxyStoreError(err)) return err;
  return new SerializationError('SERIALIZE_CORRUPT', message, { cause: err });
}

// ---------------------------------------------------------------------------------------------------
// Encoding

type Substitution =
  | { readonly kind: 'proxy'; readonly ref: unknown }
  | { readonly kind: 'codec'; readonly name: string; data: unknown };

/** State of one `serialize` call, shared by the graph preparation and the v8 hooks. */
export interface EncodeContext {
  readonly codecs: CodecRegistry;
  readonly threshold: number;
  /** Out-of-band frames in order, each a view of the caller's memory. */
  readonly oob: Uint8Array[];
  readonly oobInfo: FrameInfo[];
  /** Sentinel -> what it stands for. */
  readonly sentinels: Map<object, Substitution>;
  /** Original object -> its replacement (a sentinel, or a copy with substituted members). */
  readonly memo: Map<object, unknown>;
  /** Sentinels of codec values whose data is being prepared: a reference back to one cannot be decoded. */
  readonly inProgress: Set<object>;
}

export function newEncodeContext(codecs: CodecRegistry, threshold: number): EncodeContext {
  return {
    codecs,
    threshold,
    oob: [],
    oobInfo: [],
    sentinels: new Map(),
    memo: new Map(),
    inProgress: new Set(),
  };
}

function isObjectLike(v: unknown): v is object {
  return (typeof v === 'object' && v !== null) || typeof v === 'function';
}

/** Objects v8 writes without looking at members that could hold a proxy: never descended into. */
function isLeaf(v: object): boolean {
  return (
    typeof v === 'function' ||
    ArrayBuffer.isView(v) ||
    utilTypes.isAnyArrayBuffer(v) ||
    utilTypes.isDate(v) ||
    utilTypes.isRegExp(v) ||
    utilTypes.isBoxedPrimitive(v) ||
    // Not cloneable: v8 rejects them whatever they hold, so leave them for v8 to report.
    utilTypes.isProxy(v) ||
    utilTypes.isWeakMap(v) ||
    utilTypes.isWeakSet(v) ||
    utilTypes.isPromise(v) ||
    utilTypes.isGeneratorObject(v) ||
    utilTypes.isModuleNamespaceObject(v) ||
    utilTypes.isMapIterator(v) ||
    utilTypes.isSetIterator(v) ||
    utilTypes.isExternal(v) ||
    v instanceof WeakRef
  );
}

/**
 * Calls `visit` on each member of `v` that v8 would serialize and that could hold a proxy. Arrays are
 * walked by index, not Object.keys (which builds a string per element and is 100x slower on large
 * arrays); non-index properties of arrays are therefore not searched (see README).
 */
function forEachMember(v: object, visit: (member: unknown) => void): void {
  if (Array.isArray(v)) {
    const a = v as unknown[];
    // Huge sparse arrays (length in the billions, few elements) are walked by their actual keys.
    if (a.length > 1 << 24) {
      for (const k of Object.keys(a)) visit(a[k as unknown as number]);
    } else {
      for (let i = 0; i < a.length; i++) visit(a[i]);
    }
  } else if (utilTypes.isMap(v)) {
    (v as Map<unknown, unknown>).forEach((value, key) => {
      visit(key);
      visit(value);
    });
  } else if (utilTypes.isSet(v)) {
    (v as Set<unknown>).forEach(visit);
  } else if (utilTypes.isNativeError(v)) {
    // v8 writes an error's name, message and stack as strings; only `cause` can hold an object.
    visit(Object.getOwnPropertyDescriptor(v, 'cause')?.value);
  } else {
    for (const k of Object.keys(v)) visit((v as Record<string, unknown>)[k]);
  }
}

/** True when `v` itself must be replaced: a proxy or a value a user codec claims. */
function isTarget(v: object, ctx: EncodeContext): boolean {
  // isProxy first: anything else (instanceof, a codec's test) could run the proxy's traps.
  return isProxy(v) || (ctx.codecs.size > 0 && ctx.codecs.find(v) !== undefined);
}

/**
 * The cheap pass every structured value gets: does the graph contain anything to replace? Stops at the
 * first hit; visits each object once (cycle-safe) and never looks inside binary data. Plain objects and
 * arrays, nearly all of a typical graph, take an inlined path without closures or type probes.
 */
function containsTarget(root: unknown, ctx: EncodeContext): boolean {
  if (!isObjectLike(root)) return false;
  const seen = new Set<object>([root]);
  const stack: object[] = [root];
  const push = (m: unknown): void => {
    if (isObjectLike(m) && !seen.has(m)) {
      seen.add(m);
      stack.push(m);
    }
  };
  const checkMemo = ctx.memo.size > 0;
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (isTarget(v, ctx) || (checkMemo && ctx.memo.has(v))) return true;
    // Foreign (non-ProxyStore) Proxies are left to v8, which rejects them; probing them could throw.
    if (utilTypes.isProxy(v)) continue;
    if (Array.isArray(v) && v.length <= 1 << 24) {
      const a = v as unknown[];
      for (let i = 0; i < a.length; i++) {
        const m = a[i];
        if (((typeof m === 'object' && m !== null) || typeof m === 'function') && !seen.has(m)) {
          seen.add(m);
          stack.push(m);
        }
      }
      continue;
    }
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        const m = o[k];
        if (((typeof m === 'object' && m !== null) || typeof m === 'function') && !seen.has(m)) {
          seen.add(m);
          stack.push(m);
        }
      }
      continue;
    }
    if (!isLeaf(v)) forEachMember(v, push);
  }
  return false;
}

/**
 * The objects through which a target can be reached: exactly those that need a substituted copy. Records
 * the reverse edges of the graph, then walks back from every target (cycles are fine both ways).
 */
function objectsLeadingToTargets(root: object, ctx: EncodeContext): Set<object> {
  const parents = new Map<object, object[]>();
  const targets: object[] = [];
  const seen = new Set<object>([root]);
  const stack: object[] = [root];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (ctx.memo.has(v) || isTarget(v, ctx)) {
      targets.push(v);
      continue;
    }
    if (isLeaf(v)) continue;
    forEachMember(v, (m) => {
      if (!isObjectLike(m)) return;
      const list = parents.get(m);
      if (list === undefined) parents.set(m, [v]);
      else list.push(v);
      if (!seen.has(m)) {
        seen.add(m);
        stack.push(m);
      }
    });
  }
  const marked = new Set<object>(targets);
  const queue = [...targets];
  while (queue.length > 0) {
    for (const p of parents.get(queue.pop()!) ?? []) {
      if (!marked.has(p)) {
        marked.add(p);
        queue.push(p);
      }
    }
  }
  return marked;
}

export function referenceOf(proxy: object): unknown {
  const factory = getFactory(proxy) as { toReference?: () => unknown };
  if (typeof factory.toReference !== 'function') {
    throw new SerializationError(
      'SERIALIZE_UNSUPPORTED_VALUE',
      'Cannot serialize a proxy whose factory has no toReference(): it cannot travel without its data. ' +
        'Create the proxy through a Store (whose factories are references), or resolve it and pass ' +
        'extract(proxy) instead',
    );
  }
  return factory.toReference();
}

/**
 * The graph v8 should write for `value`: `value` itself when it holds no proxy or codec value (the common
 * case costs one walk), else a copy of just the objects that lead to one, with each proxy or codec value
 * replaced by its sentinel. Identity and cycles are kept: every object maps to one replacement.
 */
export function prepareGraph(value: unknown, ctx: EncodeContext): unknown {
  if (!containsTarget(value, ctx)) return value;
  const marked = objectsLeadingToTargets(value as object, ctx);
  return substitute(value, marked, ctx);
}

function substitute(root: unknown, marked: Set<object>, ctx: EncodeContext): unknown {
  // Recursive, like v8's own writer: a graph deep enough to overflow here would overflow v8 too.
  const sub = (v: unknown): unknown => {
    if (!isObjectLike(v)) return v;
    const known = ctx.memo.get(v);
    if (known !== undefined) {
      if (ctx.inProgress.has(known as object)) {
        throw new SerializationError(
          'SERIALIZE_UNSUPPORTED_VALUE',
          "A codec's encoded data refers back to the value being encoded; the codec must return data " +
            'that does not contain the value itself',
        );
      }
      return known;
    }
    if (!marked.has(v)) return v;
    if (isProxy(v)) {
      const sentinel = new Uint8Array(0);
      ctx.sentinels.set(sentinel, { kind: 'proxy', ref: referenceOf(v) });
      ctx.memo.set(v, sentinel);
      return sentinel;
    }
    const codec = ctx.codecs.size > 0 ? ctx.codecs.find(v) : undefined;
    if (codec !== undefined) {
      const sentinel = new Uint8Array(0);
      const entry: Substitution = { kind: 'codec', name: codec.name, data: undefined };
      ctx.sentinels.set(sentinel, entry);
      ctx.memo.set(v, sentinel);
      ctx.inProgress.add(sentinel);
      // The codec's data may itself hold proxies, codec values or large buffers: prepare it the same way.
      entry.data = prepareGraph(codec.encode(v), ctx);
      ctx.inProgress.delete(sentinel);
      return sentinel;
    }
    return copyWith(v, sub, ctx);
  };
  return sub(root);
}

/** A copy of container `v` with members passed through `sub`, registered in the memo before filling. */
function copyWith(v: object, sub: (m: unknown) => unknown, ctx: EncodeContext): unknown {
  if (Array.isArray(v)) {
    const src = v as unknown[];
    const out: unknown[] = new Array(src.length);
    ctx.memo.set(v, out);
    if (src.length > 1 << 24) {
      for (const k of Object.keys(src)) out[k as unknown as number] = sub(src[k as unknown as number]);
    } else {
      // `in` keeps holes as holes, as v8 would write them.
      for (let i = 0; i < src.length; i++) if (i in src) out[i] = sub(src[i]);
    }
    return out;
  }
  if (utilTypes.isMap(v)) {
    const out = new Map<unknown, unknown>();
    ctx.memo.set(v, out);
    (v as Map<unknown, unknown>).forEach((value, key) => out.set(sub(key), sub(value)));
    return out;
  }
  if (utilTypes.isSet(v)) {
    const out = new Set<unknown>();
    ctx.memo.set(v, out);
    (v as Set<unknown>).forEach((value) => out.add(sub(value)));
    return out;
  }
  if (utilTypes.isNativeError(v)) {
    // A real Error (v8 checks the internal slot) with the same prototype, message, stack and new cause.
    const err = v as Error;
    const out = new Error(err.message);
    Object.setPrototypeOf(out, Object.getPrototypeOf(err) as object);
    ctx.memo.set(v, out);
    Object.defineProperty(out, 'stack', { value: err.stack, configurable: true, writable: true });
    const cause = Object.getOwnPropertyDescriptor(err, 'cause');
    if (cause !== undefined) {
      Object.defineProperty(out, 'cause', { value: sub(cause.value), configurable: true, writable: true });
    }
    return out;
  }
  // Any other object: v8 writes its own enumerable string-keyed properties as a plain object, so a plain
  // object with the same properties serializes identically.
  const out: Record<string, unknown> = {};
  ctx.memo.set(v, out);
  for (const k of Object.keys(v)) out[k] = sub((v as Record<string, unknown>)[k]);
  return out;
}

/** Documented in node:v8 (`serializer._setTreatArrayBufferViewsAsHostObjects`) but missing from @types/node. */
interface HostObjectHooks {
  _setTreatArrayBufferViewsAsHostObjects(flag: boolean): void;
}

/** node:v8 writer with our host-object records. */
class Writer extends v8.Serializer {
  readonly #ctx: EncodeContext;

  constructor(ctx: EncodeContext) {
    super();
    this.#ctx = ctx;
    // Node's hook for typed arrays, Buffers and DataViews: they reach _writeHostObject instead of being
    // copied inline with their whole backing ArrayBuffer.
    (this as unknown as HostObjectHooks)._setTreatArrayBufferViewsAsHostObjects(true);
  }

  // Called by Node (documented in node:v8, absent from @types/node, hence no `override`).
  _writeHostObject(object: object): void {
    const ctx = this.#ctx;
    const entry = ctx.sentinels.get(object);
    if (entry !== undefined) {
      if (entry.kind === 'proxy') {
        this.writeUint32(TAG_PROXY);
        this.writeValue(entry.ref);
      } else {
        this.writeUint32(TAG_CODEC);
        this.writeValue(entry.name);
        this.writeValue(entry.data);
      }
      return;
    }
    if (!ArrayBuffer.isView(object)) {
      throw new SerializationError(
        'SERIALIZE_UNSUPPORTED_VALUE',
        `Cannot serialize a host object (${Object.prototype.toString.call(object)})`,
      );
    }
    const kind = viewKindOf(object);
    const dtype = dtypeOf(object);
    // A record's inline length is a u32; anything larger goes out of band whatever the threshold.
    if (object.byteLength >= ctx.threshold || object.byteLength > 0xffffffff) {
      this.writeUint32(TAG_OUT_OF_BAND);
      this.writeUint32(kind);
      this.writeUint32(dtype);
      this.writeUint32(ctx.oob.length);
      ctx.oob.push(bytesOf(object));
      ctx.oobInfo.push({ byteLength: object.byteLength, dtype, role: FrameRole.OutOfBand });
    } else {
      this.writeUint32(TAG_INLINE);
      this.writeUint32(kind);
      this.writeUint32(dtype);
      this.writeUint32(object.byteLength);
      this.writeRawBytes(bytesOf(object));
    }
  }
}

/**
 * Writes `value` (already prepared) as a v8 stream. v8's DataCloneError for values it cannot write
 * (functions, symbols, WeakMap...) becomes SERIALIZE_UNSUPPORTED_VALUE with v8's error as the cause.
 */
export function writeStructured(value: unknown, ctx: EncodeContext): Uint8Array {
  const w = new Writer(ctx);
  w.writeHeader();
  try {
    w.writeValue(value);
  } catch (err) {
    if (err instanceof SerializationError) throw err;
    const detail = err instanceof Error ? err.message : String(err);
    throw new SerializationError('SERIALIZE_UNSUPPORTED_VALUE', `Cannot serialize value: ${detail}`, { cause: err });
  }
  return w.releaseBuffer();
}

// ---------------------------------------------------------------------------------------------------
// Decoding

export interface DecodeContext {
  readonly codecs: CodecRegistry;
  readonly reviveProxy: ((ref: unknown) => unknown) | undefined;
  /** The out-of-band frames (after header and skeleton) and their descriptors. */
  readonly oob: readonly Uint8Array[];
  readonly oobInfo: readonly FrameInfo[];
  /** Which out-of-band frames a record has claimed: each is used once. */
  readonly used: boolean[];
}

class Reader extends v8.Deserializer {
  readonly #ctx: DecodeContext;

  constructor(skeleton: Uint8Array, ctx: DecodeContext) {
    super(skeleton);
    this.#ctx = ctx;
  }

  // Called by Node for each host-object record (documented in node:v8, absent from @types/node).
  _readHostObject(): unknown {
    const ctx = this.#ctx;
    const tag = this.readUint32();
    switch (tag) {
      case TAG_INLINE: {
        const kind = this.readUint32();
        const dtype = this.#readDType();
        const length = this.readUint32();
        const raw = this.readRawBytes(length);
        // Copied out of the skeleton: small, and the skeleton gives no alignment.
        checkFrameFitsDType(raw, dtype, 'Inline buffer');
        const copy = new Uint8Array(new ArrayBuffer(length));
        copy.set(raw);
        return viewFromBytes(copy, kind, dtype, 'Inline buffer');
      }
      case TAG_OUT_OF_BAND: {
        const kind = this.readUint32();
        const dtype = this.#readDType();
        const index = this.readUint32();
        const frame = ctx.oob[index];
        const info = ctx.oobInfo[index];
        if (frame === undefined || info === undefined) {
          throw new SerializationError(
            'SERIALIZE_CORRUPT',
            `Skeleton refers to out-of-band frame ${index}, but there are ${ctx.oob.length}`,
          );
        }
        if (ctx.used[index] === true) {
          throw new SerializationError('SERIALIZE_CORRUPT', `Out-of-band frame ${index} is referenced twice`);
        }
        if (info.dtype !== dtype || info.role !== FrameRole.OutOfBand) {
          throw new SerializationError(
            'SERIALIZE_CORRUPT',
            `Out-of-band frame ${index}: the header says dtype ${info.dtype}, role ${info.role}; ` +
              `the skeleton expects dtype ${dtype}`,
          );
        }
        ctx.used[index] = true;
        return viewFromBytes(frame, kind, dtype, `Out-of-band frame ${index}`);
      }
      case TAG_PROXY: {
        const ref = this.readValue();
        return reviveReference(ref, ctx.reviveProxy);
      }
      case TAG_CODEC: {
        const name = this.readValue();
        if (typeof name !== 'string') throw new SerializationError('SERIALIZE_CORRUPT', 'Codec record without a name');
        const codec = ctx.codecs.require(name);
        const data = this.readValue();
        try {
          return codec.decode(data);
        } catch (err) {
          throw asDecodeError(err, `Codec '${name}' failed to decode its data`);
        }
      }
      default:
        throw new SerializationError('SERIALIZE_CORRUPT', `Unknown host-object record tag ${tag}`);
    }
  }

  #readDType(): DType {
    const d = this.readUint32();
    if (!isKnownDType(d)) throw new SerializationError('SERIALIZE_CORRUPT', `Unknown dtype ${d} in skeleton`);
    return d;
  }
}

/** Turns a reference back into a proxy with the given reviver, or explains that none is set. */
export function reviveReference(ref: unknown, revive: ((ref: unknown) => unknown) | undefined): unknown {
  if (revive === undefined) {
    throw new SerializationError(
      'SERIALIZE_NO_PROXY_REVIVER',
      'The value contains a proxy reference but no reviver is set: import @proxystore/core (which ' +
        'registers one), call setProxyReviver(), or pass options.reviveProxy',
    );
  }
  try {
    return revive(ref);
  } catch (err) {
    throw asDecodeError(err, 'The proxy reviver rejected a reference');
  }
}

/**
 * Reads a v8 skeleton. Anything v8 or our hooks reject becomes SerializationError: SERIALIZE_CORRUPT
 * unless a more precise code was raised.
 */
export function readStructured(skeleton: Uint8Array, ctx: DecodeContext): unknown {
  let value: unknown;
  try {
    const r = new Reader(skeleton, ctx);
    r.readHeader();
    value = r.readValue();
  } catch (err) {
    if (ProxyStoreError.isProxyStoreError(err)) throw err;
    const detail = err instanceof Error ? err.message : String(err);
    throw new SerializationError('SERIALIZE_CORRUPT', `Malformed structured frame: ${detail}`, { cause: err });
  }
  const missing = ctx.oob.findIndex((_, i) => ctx.used[i] !== true);
  if (missing !== -1) {
    throw new SerializationError(
      'SERIALIZE_CORRUPT',
      `Out-of-band frame ${missing} is not referenced by the skeleton (the header lists too many frames)`,
    );
  }
  return value;
}
