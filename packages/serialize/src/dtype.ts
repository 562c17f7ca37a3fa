// Element types of binary frames: which typed array a frame becomes, how big an element is, and how a
// receiver builds the view over received memory (a view when the memory is aligned, a copy when not).
import { DType } from './generated/proxystore_generated.js';
import { SerializationError } from './errors.js';

/** A typed array constructor of any element type. */
export type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Uint8ClampedArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

/** Any typed array (not DataView). */
export type TypedArray = InstanceType<TypedArrayConstructor>;

/** Lower-case dtype names used by the plain-TS helpers (`ObjectDescriptorInfo`, `inspectFrames`). */
export type DTypeName =
  | 'bytes'
  | 'int8'
  | 'uint8'
  | 'uint8clamped'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'float32'
  | 'float64'
  | 'bigint64'
  | 'biguint64';

interface DTypeInfo {
  readonly name: DTypeName;
  /** Constructor to rebuild; `undefined` for untyped bytes. */
  readonly ctor: TypedArrayConstructor | undefined;
  readonly size: number;
}

const TABLE: Record<DType, DTypeInfo> = {
  [DType.Bytes]: { name: 'bytes', ctor: undefined, size: 1 },
  [DType.Int8]: { name: 'int8', ctor: Int8Array, size: 1 },
  [DType.Uint8]: { name: 'uint8', ctor: Uint8Array, size: 1 },
  [DType.Uint8Clamped]: { name: 'uint8clamped', ctor: Uint8ClampedArray, size: 1 },
  [DType.Int16]: { name: 'int16', ctor: Int16Array, size: 2 },
  [DType.Uint16]: { name: 'uint16', ctor: Uint16Array, size: 2 },
  [DType.Int32]: { name: 'int32', ctor: Int32Array, size: 4 },
  [DType.Uint32]: { name: 'uint32', ctor: Uint32Array, size: 4 },
  [DType.Float32]: { name: 'float32', ctor: Float32Array, size: 4 },
  [DType.Float64]: { name: 'float64', ctor: Float64Array, size: 8 },
  [DType.BigInt64]: { name: 'bigint64', ctor: BigInt64Array, size: 8 },
  [DType.BigUint64]: { name: 'biguint64', ctor: BigUint64Array, size: 8 },
};

const BY_NAME = new Map<string, DType>(
  (Object.keys(TABLE) as unknown as string[]).map((k) => {
    const d = Number(k) as DType;
    return [TABLE[d].name, d];
  }),
);

/** True when `d` is a dtype this build knows (a header may carry any byte). */
export function isKnownDType(d: number): d is DType {
  return Object.hasOwn(TABLE, d);
}

export function dtypeInfo(d: DType): DTypeInfo {
  return TABLE[d];
}

export function dtypeName(d: DType): DTypeName {
  return TABLE[d].name;
}

export function dtypeFromName(name: string): DType | undefined {
  return BY_NAME.get(name);
}

/**
 * The dtype of a typed array, from its internal slot rather than `constructor`, so subclasses and
 * Buffers (a Uint8Array subclass) are classified by their elements.
 */
export function dtypeOf(view: ArrayBufferView): DType {
  if (view instanceof DataView) return DType.Bytes;
  // Symbol.toStringTag is a getter on %TypedArray%.prototype that reads the internal slot.
  const tag = (Object.getOwnPropertyDescriptor(
    Object.getPrototypeOf(Uint8Array.prototype) as object,
    Symbol.toStringTag,
  )?.get?.call(view) ?? '') as string;
  switch (tag) {
    case 'Int8Array':
      return DType.Int8;
    case 'Uint8Array':
      return DType.Uint8;
    case 'Uint8ClampedArray':
      return DType.Uint8Clamped;
    case 'Int16Array':
      return DType.Int16;
    case 'Uint16Array':
      return DType.Uint16;
    case 'Int32Array':
      return DType.Int32;
    case 'Uint32Array':
      return DType.Uint32;
    case 'Float32Array':
      return DType.Float32;
    case 'Float64Array':
      return DType.Float64;
    case 'BigInt64Array':
      return DType.BigInt64;
    case 'BigUint64Array':
      return DType.BigUint64;
    default:
      return DType.Bytes;
  }
}

/** The bytes of any view, as a Uint8Array over the same memory (no copy). */
export function bytesOf(view: ArrayBufferView | ArrayBufferLike): Uint8Array {
  if (ArrayBuffer.isView(view)) return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  return new Uint8Array(view);
}

/** Throws SERIALIZE_CORRUPT unless `frame` holds a whole number of `dtype` elements. */
export function checkFrameFitsDType(frame: Uint8Array, dtype: DType, what: string): void {
  const { size, name } = TABLE[dtype];
  if (frame.byteLength % size !== 0) {
    throw new SerializationError(
      'SERIALIZE_CORRUPT',
      `${what} has ${frame.byteLength} bytes, not a multiple of the ${size}-byte ${name} element`,
    );
  }
}

/**
 * A typed array of `dtype` over the frame's memory. A view (no copy) when the frame starts at a multiple
 * of the element size, as the 64-byte frame alignment guarantees for memory received whole; otherwise the
 * engine refuses a misaligned view, so the bytes are copied into fresh (aligned) memory.
 */
export function typedArrayFromFrame(frame: Uint8Array, dtype: DType): TypedArray {
  const { ctor, size } = TABLE[dtype];
  // One signature for the union of constructors, which TypeScript cannot call as a union.
  const C = (ctor ?? Uint8Array) as unknown as {
    new (length: number): TypedArray;
    new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray;
  };
  checkFrameFitsDType(frame, dtype, 'Typed-array frame');
  const length = frame.byteLength / size;
  if (frame.byteOffset % size === 0) return new C(frame.buffer, frame.byteOffset, length);
  const out = new C(length);
  new Uint8Array(out.buffer).set(frame);
  return out;
}
