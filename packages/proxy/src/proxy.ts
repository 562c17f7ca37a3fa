// Transparent lazy proxies: a Proxy whose traps fetch the value through a factory on first real use and
// forward every operation to it afterwards. Answers that the shape already knows (typeof, Array.isArray,
// instanceof for built-ins, `then`, util.inspect) never fetch. No I/O and no store knowledge live here.
import { inspect, type InspectOptions } from 'node:util';
import { builtinPrototype, isBuiltinName } from './builtins.js';
import { NonProxiableTypeError, ProxyStoreError } from './errors.js';
import type { Shape } from './shape.js';

/** How a proxy gets its value. Implemented by the store layer; any object with these methods works. */
export interface ProxyFactory<T = unknown> {
  /** Blocking resolution; the traps call it, because traps cannot await. */
  resolveSync(): T;
  /** Non-blocking resolution; used by resolveAsync to prefetch. */
  resolve(): Promise<T>;
  /** Short text for util.inspect of an unresolved proxy, e.g. "store 'demo', key abc". */
  describe?(): string;
  /** JSON-safe data; serializers use it to encode a nested proxy without resolving it. */
  toReference?(): unknown;
}

export interface CreateProxyOptions {
  /** What the value looks like, recorded by the producer (see shapeOf). Default `{ type: 'object' }`. */
  shape?: Shape;
}

type Primitive = string | number | bigint;

// Which objects are our proxies. A WeakSet, not a WeakMap to the state: a WeakMap's values live until a
// full GC has processed it (ephemeron semantics), which kept every dead proxy's value — megabytes of
// array — alive long enough that each new resolution paid fresh page faults (benchmarked: 16 MiB
// resolutions 1.6x slower). The state is the proxy's handler, so traps reach it as `this`; helpers ask
// the proxy itself for it with a module-private symbol, only after the WeakSet says the proxy is ours, so
// no foreign proxy's trap ever runs.
const proxies = new WeakSet<object>();
const STATE: unique symbol = Symbol('proxystore.proxy.state');

// util.inspect reads a Proxy's target directly, without traps, so a hook on the target is how an
// unresolved proxy prints a description instead of fetching. It sits on the targets' prototypes (one
// shared function, nothing per proxy) and finds the state from `this`, which Node sets to the proxy.
// Symbol.for: the key Node itself uses.
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

function inspectHook(
  this: unknown,
  depth: number | null,
  opts: InspectOptions & { stylize?: (text: string, style: string) => string },
): string {
  const state = lookup(this);
  if (state === undefined) return '[Proxy]';
  if (state.resolved) return inspect(state.value, { ...opts, depth });
  const text = `Proxy<unresolved: ${describe(state.factory)}>`;
  return typeof opts?.stylize === 'function' ? opts.stylize(text, 'special') : text;
}

function withInspectHook(proto: object): object {
  return Object.create(proto, { [INSPECT]: { value: inspectHook, configurable: true, writable: true } });
}

const OBJECT_TARGET_PROTO = withInspectHook(Object.prototype);
const ARRAY_TARGET_PROTO = withInspectHook(Array.prototype);
const FUNCTION_TARGET_PROTO = withInspectHook(Function.prototype);

/** Wraps `factory` in a proxy that fetches on first use. Creating it calls nothing on the factory. */
export function createProxy<T>(factory: ProxyFactory<T>, options?: CreateProxyOptions): T {
  const shape = Object.freeze(validShape(options?.shape));
  const state = new ProxyState(factory, shape, makeTarget(shape));
  const proxy = new Proxy(state.target, state);
  state.proxy = proxy;
  proxies.add(proxy);
  return proxy as T;
}

/** True for a proxy made by createProxy (of this copy of the package). Never runs a trap. */
export function isProxy(value: unknown): boolean {
  return typeof value === 'object' || typeof value === 'function' ? proxies.has(value as object) : false;
}

/** True once the proxy holds its value. A value that is not a proxy is its own value: true. */
export function isResolved(proxy: unknown): boolean {
  const state = lookup(proxy);
  return state === undefined || state.resolved;
}

/** Resolves the proxy now, synchronously. No-op for a resolved proxy or a value that is not a proxy. */
export function resolve(proxy: unknown): void {
  const state = lookup(proxy);
  if (state !== undefined) resolveSync(state);
}

/**
 * Prefetches the value through `factory.resolve()` without blocking. Concurrent calls share one fetch. If
 * a synchronous access resolves the proxy meanwhile, that value stays and the late result is dropped.
 */
export function resolveAsync(proxy: unknown): Promise<void> {
  const state = lookup(proxy);
  if (state === undefined || state.resolved) return Promise.resolve();
  if (state.pending !== undefined) return state.pending;
  const pending = (async () => {
    try {
      settle(state, await state.factory.resolve());
    } finally {
      state.pending = undefined;
    }
  })();
  state.pending = pending;
  return pending;
}

/** The real value behind a proxy (resolving it synchronously if needed); any other value as-is. */
export function extract<T>(proxy: T): T {
  const state = lookup(proxy);
  if (state === undefined) return proxy;
  resolveSync(state);
  return state.value as T;
}

/** The factory a proxy was created with. Throws ProxyStoreError 'NOT_A_PROXY' for anything else. */
export function getFactory<T>(proxy: T): ProxyFactory<T> {
  return stateOrThrow(proxy, 'getFactory').factory as ProxyFactory<T>;
}

/** The shape a proxy was created with (frozen). Throws ProxyStoreError 'NOT_A_PROXY' for anything else. */
export function getShape(proxy: unknown): Shape {
  return stateOrThrow(proxy, 'getShape').shape;
}

function lookup(value: unknown): ProxyState | undefined {
  if (!isProxy(value)) return undefined;
  return (value as { [STATE]: ProxyState })[STATE];
}

function stateOrThrow(value: unknown, caller: string): ProxyState {
  const state = lookup(value);
  if (state === undefined) {
    throw new ProxyStoreError('NOT_A_PROXY', `${caller}() expects a proxy made by createProxy(), got ${kind(value)}`);
  }
  return state;
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object (${Object.prototype.toString.call(value)})`;
  return `a ${typeof value}`;
}

function describe(factory: ProxyFactory<unknown>): string {
  try {
    return factory.describe?.() ?? 'value';
  } catch {
    // Printing must never throw; the description is a courtesy.
    return 'value';
  }
}

function validShape(shape: Shape | undefined): Shape {
  if (shape === undefined) return { type: 'object' };
  const types = ['object', 'function', 'string', 'number', 'bigint'];
  if (!types.includes(shape.type)) {
    throw new ProxyStoreError('INVALID_SHAPE', `Shape type must be one of ${types.join(', ')}; got ${String(shape.type)}`);
  }
  // Copy so the caller's object cannot change what the traps answer later.
  const copy: Shape = { type: shape.type };
  // A built-in this build does not know (from a newer producer) is dropped: the value still resolves.
  if (shape.builtin !== undefined && isBuiltinName(shape.builtin)) copy.builtin = shape.builtin;
  if (typeof shape.ctorName === 'string') copy.ctorName = shape.ctorName;
  if (shape.thenable === true) copy.thenable = true;
  return copy;
}

// The target decides what the engine sees without asking a trap: typeof (callable or not) and
// Array.isArray. A bound function is callable and constructible yet has no own `prototype`, so it holds
// no non-configurable property that a value (an arrow function, a class) would contradict.
function makeTarget(shape: Shape): object {
  if (shape.type === 'function') {
    const target = function target() {}.bind(null);
    Object.setPrototypeOf(target, FUNCTION_TARGET_PROTO);
    return target;
  }
  if (shape.type === 'object' && shape.builtin === 'Array') {
    const target: unknown[] = [];
    Object.setPrototypeOf(target, ARRAY_TARGET_PROTO);
    return target;
  }
  return Object.create(OBJECT_TARGET_PROTO) as object;
}

function resolveSync(state: ProxyState): void {
  if (!state.resolved) settle(state, state.factory.resolveSync());
}

// The first value wins: a late async result must never swap the value under code that already used it.
function settle(state: ProxyState, value: unknown): void {
  if (state.resolved) return;
  if (value === null || (typeof value !== 'object' && typeof value !== 'function' && !isPrimitive(value))) {
    throw new NonProxiableTypeError(
      `The proxy's factory returned ${value === null ? 'null' : typeof value}, which a proxy cannot stand for`,
    );
  }
  state.value = value;
  state.object = Object(value) as object;
  state.resolved = true;
}

function isPrimitive(value: unknown): value is Primitive {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint';
}

// Inherited methods (Map#get, Date#getTime, String#slice, class methods with #private fields) need the
// real value as receiver. Own function properties and `constructor` keep their identity instead.
function forwardedGet(state: ProxyState, key: PropertyKey): unknown {
  const object = state.object;
  const result: unknown = Reflect.get(object, key, object);
  if (typeof result !== 'function' || key === 'constructor' || Object.hasOwn(object, key)) return result;
  state.bound ??= new Map();
  const cached = state.bound.get(key);
  if (cached !== undefined && cached.fn === result) return cached.bound;
  const bound = (result as Function).bind(state.value);
  state.bound.set(key, { fn: result as Function, bound });
  return bound;
}

// A function returning the value itself: ToPrimitive and JSON.stringify unwrap a primitive through it.
function valueHelper(state: ProxyState, key: PropertyKey): Function {
  state.bound ??= new Map();
  const cached = state.bound.get(key);
  if (cached !== undefined) return cached.bound;
  const value = state.value;
  const helper = () => value;
  state.bound.set(key, { fn: helper, bound: helper });
  return helper;
}

// A value that cannot gain properties must be mirrored on the target: the engine checks ownKeys,
// getOwnPropertyDescriptor and getPrototypeOf of a non-extensible proxy against its target.
function mirror(state: ProxyState): void {
  const { target, object } = state;
  if (!Reflect.isExtensible(target)) return;
  const keys = new Set(Reflect.ownKeys(object));
  for (const key of Reflect.ownKeys(target)) if (!keys.has(key)) Reflect.deleteProperty(target, key);
  for (const key of keys) {
    const desc = Reflect.getOwnPropertyDescriptor(object, key);
    if (desc !== undefined) Reflect.defineProperty(target, key, desc);
  }
  Reflect.setPrototypeOf(target, Reflect.getPrototypeOf(object));
  Reflect.preventExtensions(target);
}

/**
 * Drops a property the value no longer has from the target, where the engine would otherwise hold the
 * proxy to it (a mirrored non-extensible target). False when the target must keep it (non-configurable).
 */
function forgetOnTarget(target: object, key: PropertyKey): boolean {
  const own = Reflect.getOwnPropertyDescriptor(target, key);
  if (own === undefined) return true;
  if (own.configurable === false) return false;
  return Reflect.isExtensible(target) ? true : Reflect.deleteProperty(target, key);
}

function unresolvedPrototype(state: ProxyState): object | null | undefined {
  const { shape } = state;
  if (shape.builtin !== undefined) return builtinPrototype(shape.builtin);
  switch (shape.type) {
    case 'function':
      return Function.prototype;
    case 'string':
      return String.prototype;
    case 'number':
      return Number.prototype;
    case 'bigint':
      return BigInt.prototype;
    case 'object':
      // A plain object is known without fetching; a user class or an unknown shape needs the value.
      return shape.ctorName === 'Object' ? Object.prototype : undefined;
  }
}

/**
 * One proxy's state, and its handler: the engine calls each trap with the handler as `this`, so a trap
 * needs no lookup to find the value. Field names must not collide with trap names.
 */
class ProxyState implements ProxyHandler<object> {
  readonly factory: ProxyFactory<unknown>;
  readonly shape: Readonly<Shape>;
  readonly target: object;
  proxy: object;
  resolved = false;
  /** The value as the factory returned it (a primitive stays a primitive, so methods get it as `this`). */
  value: unknown = undefined;
  /** `value` as an object, for reflection: the value itself, or its wrapper for a primitive. */
  object: object;
  pending: Promise<void> | undefined = undefined;
  /** Bound methods by property, so `p.get === p.get`; `fn` detects that the property was replaced. */
  bound: Map<PropertyKey, { fn: Function; bound: Function }> | undefined = undefined;

  constructor(factory: ProxyFactory<unknown>, shape: Readonly<Shape>, target: object) {
    this.factory = factory;
    this.shape = shape;
    this.target = target;
    this.proxy = target;
    this.object = target;
  }

  /** Resolves if needed; returns the value as an object for reflection. */
  materialize(): object {
    if (!this.resolved) settle(this, this.factory.resolveSync());
    return this.object;
  }

  get(_target: object, key: PropertyKey): unknown {
    if (key === STATE) return this;
    // Never a thenable unless the value is one, so `await p` and `return p` neither fetch nor unwrap.
    if (key === 'then' && this.shape.thenable !== true) return undefined;
    const object = this.materialize();
    if (isPrimitive(this.value) && (key === Symbol.toPrimitive || key === 'toJSON')) {
      return valueHelper(this, key);
    }
    // JSON.stringify decides "array or object" from the target; when the shape got that wrong, hand it the
    // value instead so the text still matches the value's.
    if (key === 'toJSON' && Array.isArray(object) !== Array.isArray(this.target) && !(key in object)) {
      return valueHelper(this, key);
    }
    return forwardedGet(this, key);
  }

  set(target: object, key: PropertyKey, value: unknown, receiver: unknown): boolean {
    const object = this.materialize();
    const ok = Reflect.set(object, key, value, receiver === this.proxy ? object : receiver);
    if (ok && !Reflect.isExtensible(target)) {
      const desc = Reflect.getOwnPropertyDescriptor(object, key);
      if (desc !== undefined) Reflect.defineProperty(target, key, desc);
    }
    return ok;
  }

  has(_target: object, key: PropertyKey): boolean {
    return Reflect.has(this.materialize(), key);
  }

  deleteProperty(target: object, key: PropertyKey): boolean {
    if (!Reflect.deleteProperty(this.materialize(), key)) return false;
    // Keep the target in step where the engine compares against it.
    if (Reflect.getOwnPropertyDescriptor(target, key) !== undefined) return Reflect.deleteProperty(target, key);
    return true;
  }

  ownKeys(target: object): ArrayLike<string | symbol> {
    const keys = Reflect.ownKeys(this.materialize());
    for (const key of Reflect.ownKeys(target)) {
      if (keys.includes(key) || forgetOnTarget(target, key)) continue;
      // The engine insists on seeing the target's non-configurable keys (an array target's `length`).
      keys.push(key);
    }
    return keys;
  }

  getOwnPropertyDescriptor(target: object, key: PropertyKey): PropertyDescriptor | undefined {
    const desc = Reflect.getOwnPropertyDescriptor(this.materialize(), key);
    const own = Reflect.getOwnPropertyDescriptor(target, key);
    if (desc === undefined) {
      // A non-configurable leftover (an array target's `length` under a wrong shape) must still be reported.
      return own === undefined || forgetOnTarget(target, key) ? undefined : own;
    }
    // A non-configurable property may only be reported if the target has it too: copy it over.
    if (desc.configurable === false || !Reflect.isExtensible(target)) {
      if (Reflect.defineProperty(target, key, desc)) return desc;
      return own;
    }
    if (own !== undefined && own.configurable === false) return own;
    return desc;
  }

  defineProperty(target: object, key: PropertyKey, desc: PropertyDescriptor): boolean {
    const object = this.materialize();
    if (!Reflect.defineProperty(object, key, desc)) return false;
    if (desc.configurable === false || !Reflect.isExtensible(target)) {
      const actual = Reflect.getOwnPropertyDescriptor(object, key);
      if (actual !== undefined) Reflect.defineProperty(target, key, actual);
    }
    return true;
  }

  getPrototypeOf(target: object): object | null {
    if (!Reflect.isExtensible(target)) return Reflect.getPrototypeOf(target);
    if (!this.resolved) {
      const proto = unresolvedPrototype(this);
      if (proto !== undefined) return proto;
    }
    return Reflect.getPrototypeOf(this.materialize());
  }

  setPrototypeOf(_target: object, proto: object | null): boolean {
    return Reflect.setPrototypeOf(this.materialize(), proto);
  }

  isExtensible(target: object): boolean {
    if (!Reflect.isExtensible(this.materialize())) mirror(this);
    return Reflect.isExtensible(target);
  }

  preventExtensions(_target: object): boolean {
    if (!Reflect.preventExtensions(this.materialize())) return false;
    mirror(this);
    return true;
  }

  apply(_target: object, thisArg: unknown, args: unknown[]): unknown {
    this.materialize();
    return Reflect.apply(this.value as Function, thisArg, args);
  }

  construct(_target: object, args: unknown[], newTarget: Function): object {
    this.materialize();
    const ctor = this.value as Function;
    return Reflect.construct(ctor, args, newTarget === this.proxy ? ctor : newTarget) as object;
  }
}
