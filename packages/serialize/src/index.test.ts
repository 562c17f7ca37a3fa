import { describe, expect, it } from 'vitest';
import * as api from './index.js';

describe('public barrel', () => {
  it('exports exactly the documented names', () => {
    expect(Object.keys(api).sort()).toEqual(
      [
        'CodecRegistry',
        'DEFAULT_OUT_OF_BAND_THRESHOLD',
        'DType',
        'FORMAT_VERSION',
        'FRAME_ALIGNMENT',
        'FrameDescriptor',
        'FrameRole',
        'HEADER_IDENTIFIER',
        'Header',
        'MemoryType',
        'OBJECT_DESCRIPTOR_IDENTIFIER',
        'ObjectDescriptor',
        'SerializationError',
        'ValueKind',
        'alignUp',
        'decodeObjectDescriptor',
        'defaultCodecs',
        'deserialize',
        'encodeObjectDescriptor',
        'framesByteLength',
        'inspectFrames',
        'joinFrames',
        'packFrames',
        'packedByteLength',
        'registerCodec',
        'serialize',
        'setProxyReviver',
        'unpackFrames',
        'verifyRootTable',
      ].sort(),
    );
  });

  it('SerializationError is a ProxyStoreError with a stable code', () => {
    const err = new api.SerializationError('SERIALIZE_CORRUPT', 'x');
    expect(err.code).toBe('SERIALIZE_CORRUPT');
    expect(err.name).toBe('SerializationError');
    expect(api.SerializationError.isProxyStoreError(err)).toBe(true);
  });
});
