import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRemoteObject, descriptorOfKey, encodeRemoteObject, keyOf, type RemoteObjectInfo } from './descriptor.js';
import { layoutOf, newNonce } from './layout.js';
import { defaultErrorMode, pushErrorMode } from './native-loader.js';

const frameLengths = [5, 0, 4097];
const example: RemoteObjectInfo = {
  id: 'obj-1',
  server: 'server_1',
  control: '127.0.0.1:7000',
  workerAddress: new Uint8Array([1, 2, 3, 4]),
  remoteAddress: 0x7f00_1234_5678n,
  rkey: new Uint8Array(40).fill(9),
  length: layoutOf(frameLengths).length,
  frameLengths,
  memoryType: 'host',
  nonce: newNonce(),
};

function badKey(fn: () => unknown): void {
  expect(fn).toThrow(expect.objectContaining({ code: 'UCX_BAD_KEY' }));
}

describe('RemoteObject descriptor', () => {
  it('round-trips, alone and inside a JSON key', () => {
    expect(decodeRemoteObject(encodeRemoteObject(example))).toEqual(example);
    const key = keyOf(example);
    expect(key).toMatchObject({ kind: 'ucx', id: 'obj-1', server: 'server_1', control: '127.0.0.1:7000' });
    expect(descriptorOfKey(JSON.parse(JSON.stringify(key)))).toEqual(example);
    expect(decodeRemoteObject(encodeRemoteObject({ ...example, memoryType: 'cuda' })).memoryType).toBe('cuda');
  });

  it('carries the same-host fields when given, and decodes without them as "no same-host path"', () => {
    const shm = { hostId: 'boot-1:4026531836', pid: 4242, startTime: 123456789n, fd: 27, inode: 2n ** 40n + 5n, offset: 0 };
    const withShm = { ...example, shm };
    expect(decodeRemoteObject(encodeRemoteObject(withShm))).toEqual(withShm);
    expect(descriptorOfKey(JSON.parse(JSON.stringify(keyOf(withShm)))).shm).toEqual(shm);
    // A descriptor of an older writer (or an owner without memfd blocks) has none.
    expect(decodeRemoteObject(encodeRemoteObject(example)).shm).toBeUndefined();
    // A partial set is no same-host path, not a bad key: the UCX get still works.
    expect(decodeRemoteObject(encodeRemoteObject({ ...example, shm: { ...shm, fd: -1 } })).shm).toBeUndefined();
    expect(decodeRemoteObject(encodeRemoteObject({ ...example, shm: { ...shm, hostId: '' } })).shm).toBeUndefined();
    expect(decodeRemoteObject(encodeRemoteObject({ ...example, shm: { ...shm, pid: 0 } })).shm).toBeUndefined();
    badKey(() => decodeRemoteObject(encodeRemoteObject({ ...example, shm: { ...shm, offset: 2 ** 60 } })));
  });

  it('refuses descriptors whose fields disagree, as UCX_BAD_KEY', () => {
    badKey(() => decodeRemoteObject(encodeRemoteObject({ ...example, length: example.length + 1 })));
    badKey(() => decodeRemoteObject(encodeRemoteObject({ ...example, nonce: new Uint8Array(8) })));
    badKey(() => decodeRemoteObject(encodeRemoteObject({ ...example, rkey: new Uint8Array(0) })));
    badKey(() => decodeRemoteObject(encodeRemoteObject({ ...example, workerAddress: new Uint8Array(0) })));
    badKey(() => decodeRemoteObject(encodeRemoteObject({ ...example, server: '' })));
    const key = keyOf(example);
    badKey(() => descriptorOfKey({ ...key, id: 'another' }));
    badKey(() => descriptorOfKey({ ...key, control: '127.0.0.1:7001' }));
    badKey(() => descriptorOfKey({ ...key, descriptor: 'not base64!' }));
    badKey(() => descriptorOfKey({ ...key, descriptor: key.descriptor.slice(0, 40) }));
  });

  it('survives arbitrary and truncated bytes: a descriptor or UCX_BAD_KEY, never garbage', () => {
    const good = encodeRemoteObject(example);
    for (let cut = 0; cut < good.byteLength; cut += 7) {
      try {
        expect(decodeRemoteObject(good.subarray(0, cut))).toEqual(example);
      } catch (err) {
        expect(err).toMatchObject({ code: 'UCX_BAD_KEY' });
      }
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(good.byteLength - 1), fc.integer({ min: 0, max: 255 }), (noise, at, value) => {
        for (const bytes of [noise, Uint8Array.from(good).fill(value, at, at + 1)]) {
          try {
            decodeRemoteObject(bytes);
          } catch (err) {
            if ((err as { code?: string }).code !== 'UCX_BAD_KEY') return false;
          }
        }
        return true;
      }),
      { numRuns: 1000 },
    );
  });
});

describe('default error mode', () => {
  it("is 'none' when UCX_TLS names shared-memory transports alone, or tcp alone", () => {
    expect(defaultErrorMode(undefined)).toBe('peer');
    expect(defaultErrorMode('')).toBe('peer');
    expect(defaultErrorMode('tcp')).toBe('none');
    expect(defaultErrorMode('tcp,self')).toBe('none');
    expect(defaultErrorMode('sm,self')).toBe('none');
    expect(defaultErrorMode(' posix , cma,self ')).toBe('none');
    expect(defaultErrorMode('sm,self,tcp')).toBe('peer');
    expect(defaultErrorMode('^tcp')).toBe('peer');
    expect(defaultErrorMode('rc,sm')).toBe('peer');
  });
});

describe('push error mode', () => {
  it("is 'none' where UCX_TLS is tcp (and self) alone, else the connector's errorMode", () => {
    expect(pushErrorMode('peer', 'tcp')).toBe('none');
    expect(pushErrorMode('peer', ' TCP , self')).toBe('none');
    expect(pushErrorMode('none', 'tcp')).toBe('none');
    expect(pushErrorMode('peer', undefined)).toBe('peer');
    expect(pushErrorMode('peer', '')).toBe('peer');
    expect(pushErrorMode('peer', 'self')).toBe('peer');
    expect(pushErrorMode('peer', 'tcp,sm')).toBe('peer');
    expect(pushErrorMode('peer', 'rc,tcp')).toBe('peer');
    expect(pushErrorMode('peer', '^sm')).toBe('peer');
    expect(pushErrorMode('none', 'sm,self')).toBe('none');
  });
});
