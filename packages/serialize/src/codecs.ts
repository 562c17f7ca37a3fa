// User codecs: how instances of classes the serializer cannot rebuild on its own (anything with a
// prototype that matters) become plain serializable data and back. Codecs are looked up by `test` when
// encoding and by `name` when decoding, so a name is the wire contract between two processes.
import { SerializationError } from './errors.js';

/**
 * Turns values of one kind into serializable data `D` and back. `D` goes through the serializer
 * itself, so `encode` may return typed arrays (sent out of band), nested objects, even other codec values.
 */
export interface Codec<T, D = unknown> {
  /** Unique, stable name: it is written into the frames and must match on the receiving side. */
  readonly name: string;
  /** True for values this codec encodes. Only consulted for objects (and functions), never primitives. */
  test(value: unknown): value is T;
  encode(value: T): D;
  decode(data: D): T;
}

/** A codec of unknown types, as stored in a registry. */
// `any` here lets a registry hold codecs of unrelated types; each codec is only ever handed its own data.
export type AnyCodec = Codec<any, any>;

/** Codecs by name, consulted in registration order when encoding. */
export class CodecRegistry {
  readonly #byName = new Map<string, AnyCodec>();

  constructor(codecs: Iterable<AnyCodec> = []) {
    for (const c of codecs) this.register(c);
  }

  /** Adds a codec. A second codec with the same name is an error: decoding would be ambiguous. */
  register<T, D>(codec: Codec<T, D>): this {
    if (typeof codec?.name !== 'string' || codec.name.length === 0) {
      throw new TypeError('A codec needs a non-empty string name');
    }
    if (this.#byName.has(codec.name)) {
      throw new TypeError(`A codec named '${codec.name}' is already registered`);
    }
    this.#byName.set(codec.name, codec);
    return this;
  }

  /** Removes the codec of this name; returns whether there was one. */
  unregister(name: string): boolean {
    return this.#byName.delete(name);
  }

  get(name: string): AnyCodec | undefined {
    return this.#byName.get(name);
  }

  /** The first registered codec whose `test` accepts `value`. */
  find(value: unknown): AnyCodec | undefined {
    for (const c of this.#byName.values()) if (c.test(value)) return c;
    return undefined;
  }

  get size(): number {
    return this.#byName.size;
  }

  /** The codec of this name, or SERIALIZE_UNKNOWN_CODEC: what decoding needs. */
  require(name: string): AnyCodec {
    const c = this.#byName.get(name);
    if (c === undefined) {
      throw new SerializationError(
        'SERIALIZE_UNKNOWN_CODEC',
        `The value was encoded with codec '${name}', which is not registered here; register it with ` +
          `registerCodec() or pass it in options.codecs`,
      );
    }
    return c;
  }
}

/** The registry `serialize` and `deserialize` use when no `codecs` option is given. */
export const defaultCodecs = new CodecRegistry();

/** Registers a codec in `defaultCodecs`. */
export function registerCodec<T, D>(codec: Codec<T, D>): void {
  defaultCodecs.register(codec);
}
