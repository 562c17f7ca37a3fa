// Errors of the serialization layer: every malformed input maps to one stable code, never to a crash or
// an out-of-bounds read.
import { ProxyStoreError, type ProxyStoreErrorOptions } from '@proxystore/proxy';

export type SerializationErrorCode =
  /** Input ends before the lengths it declares. */
  | 'SERIALIZE_TRUNCATED'
  /** Not ProxyStore frames: the magic bytes or flatbuffers identifier do not match. */
  | 'SERIALIZE_BAD_MAGIC'
  /** Written by a format version this build does not read. */
  | 'SERIALIZE_BAD_VERSION'
  /** A header field is out of range or contradicts the frames (lengths, counts, kinds, dtypes). */
  | 'SERIALIZE_CORRUPT'
  /** Encoded with a user codec that is not registered here. */
  | 'SERIALIZE_UNKNOWN_CODEC'
  /** A value this serializer cannot encode (a function, a symbol, a WeakMap, ...). */
  | 'SERIALIZE_UNSUPPORTED_VALUE'
  /** A nested proxy reference was found but nothing is registered to revive it. */
  | 'SERIALIZE_NO_PROXY_REVIVER';

export class SerializationError extends ProxyStoreError {
  declare readonly code: SerializationErrorCode;

  constructor(code: SerializationErrorCode, message: string, options?: ProxyStoreErrorOptions) {
    super(code, message, options);
  }
}
