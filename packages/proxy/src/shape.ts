// A shape is what the producer knows about a value when it makes a proxy: enough for a consumer to answer
// `typeof`, `Array.isArray` and `instanceof` for built-ins without fetching. It is JSON-safe because it
// travels inside references to other processes.
import { type BuiltinName, detectBuiltin } from './builtins.js';
import { NonProxiableTypeError } from './errors.js';
import { getShape, isProxy } from './proxy.js';

/** JSON-safe description of the value recorded at creation; travels inside references. */
export interface Shape {
  type: 'object' | 'function' | 'string' | 'number' | 'bigint';
  /** The built-in class the value is an instance of (Buffer wins over Uint8Array). */
  builtin?: BuiltinName;
  /** Name of the value's constructor, for diagnostics; objects only. */
  ctorName?: string;
  /** The value has a callable `then`: only then may a proxy of it act as a thenable. */
  thenable?: boolean;
}

/**
 * Records the shape of `value`. Throws NonProxiableTypeError for null, undefined, booleans and symbols.
 * The shape of a proxy is the shape it was created with, so this never resolves a proxy.
 */
export function shapeOf(value: unknown): Shape {
  if (isProxy(value)) return { ...getShape(value) };
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'bigint':
      return { type: typeof value as 'string' | 'number' | 'bigint' };
    case 'function':
      return withThenable({ type: 'function' }, value);
    case 'object':
      if (value !== null) return shapeOfObject(value);
      break;
  }
  throw new NonProxiableTypeError(
    `Cannot proxy ${describeNonProxiable(value)}: a proxy is always an object to the engine, so it could ` +
      'not pass for this value (`if (p)`, `p === null` and `typeof p` would all lie). Keep the value as-is, ' +
      'or set the store option `skipNonProxiable` to get such values back unproxied.',
  );
}

function shapeOfObject(value: object): Shape {
  const shape: Shape = { type: 'object' };
  const builtin = detectBuiltin(value);
  if (builtin !== undefined) shape.builtin = builtin;
  const ctorName = constructorName(value);
  if (ctorName !== undefined) shape.ctorName = ctorName;
  return withThenable(shape, value);
}

function withThenable(shape: Shape, value: object): Shape {
  let then: unknown;
  try {
    then = (value as { then?: unknown }).then;
  } catch {
    // A throwing `then` getter makes the value unusable as a thenable anyway.
    return shape;
  }
  if (typeof then === 'function') shape.thenable = true;
  return shape;
}

// Reads the descriptor rather than `value.constructor`, so no user getter runs while recording.
function constructorName(value: object): string | undefined {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === null || typeof proto !== 'object') return undefined;
  const ctor: unknown = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value;
  if (typeof ctor !== 'function') return undefined;
  const name: unknown = Object.getOwnPropertyDescriptor(ctor, 'name')?.value;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

function describeNonProxiable(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'boolean') return `a boolean (${String(value)})`;
  return String(value);
}
