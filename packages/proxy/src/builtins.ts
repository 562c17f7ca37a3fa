// The built-in classes a shape can name. A proxy answers `instanceof` and `Array.isArray` for these from
// its shape alone, so the table maps each name both to a detector (used when the shape is recorded) and to
// the prototype the getPrototypeOf trap reports before the value is fetched.
import { Buffer } from 'node:buffer';
import { types } from 'node:util';

export type BuiltinName =
  | 'Array'
  | 'Map'
  | 'Set'
  | 'WeakMap'
  | 'WeakSet'
  | 'Date'
  | 'RegExp'
  | 'Error'
  | 'Promise'
  | 'ArrayBuffer'
  | 'SharedArrayBuffer'
  | 'DataView'
  | 'Buffer'
  | 'Int8Array'
  | 'Uint8Array'
  | 'Uint8ClampedArray'
  | 'Int16Array'
  | 'Uint16Array'
  | 'Int32Array'
  | 'Uint32Array'
  | 'Float32Array'
  | 'Float64Array'
  | 'BigInt64Array'
  | 'BigUint64Array';

interface BuiltinEntry {
  readonly name: BuiltinName;
  readonly prototype: object;
  /** Checks the internal slot, not the prototype chain, so values from other realms are recognised. */
  readonly is: (value: object) => boolean;
}

// Order matters: Buffer must be tested before Uint8Array, which it extends.
const TABLE: readonly BuiltinEntry[] = [
  { name: 'Array', prototype: Array.prototype, is: (v) => Array.isArray(v) },
  { name: 'Buffer', prototype: Buffer.prototype, is: (v) => Buffer.isBuffer(v) },
  { name: 'Int8Array', prototype: Int8Array.prototype, is: types.isInt8Array },
  { name: 'Uint8Array', prototype: Uint8Array.prototype, is: types.isUint8Array },
  { name: 'Uint8ClampedArray', prototype: Uint8ClampedArray.prototype, is: types.isUint8ClampedArray },
  { name: 'Int16Array', prototype: Int16Array.prototype, is: types.isInt16Array },
  { name: 'Uint16Array', prototype: Uint16Array.prototype, is: types.isUint16Array },
  { name: 'Int32Array', prototype: Int32Array.prototype, is: types.isInt32Array },
  { name: 'Uint32Array', prototype: Uint32Array.prototype, is: types.isUint32Array },
  { name: 'Float32Array', prototype: Float32Array.prototype, is: types.isFloat32Array },
  { name: 'Float64Array', prototype: Float64Array.prototype, is: types.isFloat64Array },
  { name: 'BigInt64Array', prototype: BigInt64Array.prototype, is: types.isBigInt64Array },
  { name: 'BigUint64Array', prototype: BigUint64Array.prototype, is: types.isBigUint64Array },
  { name: 'Map', prototype: Map.prototype, is: types.isMap },
  { name: 'Set', prototype: Set.prototype, is: types.isSet },
  { name: 'WeakMap', prototype: WeakMap.prototype, is: types.isWeakMap },
  { name: 'WeakSet', prototype: WeakSet.prototype, is: types.isWeakSet },
  { name: 'Date', prototype: Date.prototype, is: types.isDate },
  { name: 'RegExp', prototype: RegExp.prototype, is: types.isRegExp },
  // `instanceof Error` as well: a subclass instance made by a user constructor is still an Error to users.
  { name: 'Error', prototype: Error.prototype, is: (v) => types.isNativeError(v) || v instanceof Error },
  { name: 'Promise', prototype: Promise.prototype, is: types.isPromise },
  { name: 'ArrayBuffer', prototype: ArrayBuffer.prototype, is: types.isArrayBuffer },
  { name: 'SharedArrayBuffer', prototype: SharedArrayBuffer.prototype, is: types.isSharedArrayBuffer },
  { name: 'DataView', prototype: DataView.prototype, is: types.isDataView },
];

const BY_NAME: ReadonlyMap<string, BuiltinEntry> = new Map(TABLE.map((entry) => [entry.name, entry]));

/** The built-in class `value` is an instance of, or undefined for anything else. */
export function detectBuiltin(value: object): BuiltinName | undefined {
  return TABLE.find((entry) => entry.is(value))?.name;
}

/** The prototype of a built-in named in a shape; undefined for a name this build does not know. */
export function builtinPrototype(name: string): object | undefined {
  return BY_NAME.get(name)?.prototype;
}

export function isBuiltinName(name: unknown): name is BuiltinName {
  return typeof name === 'string' && BY_NAME.has(name);
}
