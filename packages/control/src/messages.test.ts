import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ControlError } from './errors.js';
import {
  decodeEmpty,
  decodeEvictReply,
  decodeExistsReply,
  decodeGetChunk,
  decodeHealth,
  decodeIdentity,
  decodeObjectRef,
  decodePeerInfo,
  decodePeerList,
  decodePutChunk,
  decodePutReply,
  decodeStatReply,
  encodeEmpty,
  encodeEvictReply,
  encodeExistsReply,
  encodeGetChunk,
  encodeHealth,
  encodeIdentity,
  encodeObjectRef,
  encodePeerInfo,
  encodePeerList,
  encodePutChunk,
  encodePutReply,
  encodeStatReply,
  type IdentityInfo,
  type PeerInfoData,
} from './messages.js';

const identity: IdentityInfo = {
  id: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
  name: 'site-a',
  address: '[::1]:7000',
  version: '0.1.0',
  startedMs: 1_764_000_000_000,
  objects: 12,
  bytesUsed: 5 * 2 ** 40,
  bytesLimit: 2 ** 50,
  maxObjectSize: 2 ** 33,
  chunkSize: 1 << 20,
  persistent: true,
};

const peer: PeerInfoData = { id: 'p1', name: 'ü-site', address: 'host:1', lastSeenMs: 42, reachable: true };

describe('control messages', () => {
  it('round-trips an object ref, with and without the forwarded flag', () => {
    for (const ref of [
      { id: 'abc', owner: '', forwarded: false },
      { id: 'x'.repeat(300), owner: 'owner-é', forwarded: true },
    ]) {
      expect(decodeObjectRef(encodeObjectRef(ref))).toEqual(ref);
    }
  });

  it('writes the pieces of a chunk back to back and reads them as one view', () => {
    const pieces = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(70_000).fill(7), new Uint8Array([9])];
    const put = decodePutChunk(encodePutChunk({ id: 'k', frameLengths: [3, 70_001], data: pieces }));
    expect(put.id).toBe('k');
    expect(put.frameLengths).toEqual([3, 70_001]);
    expect(put.data.byteLength).toBe(70_004);
    expect([...put.data.subarray(0, 4)]).toEqual([1, 2, 3, 7]);
    expect(put.data[70_003]).toBe(9);
    const get = decodeGetChunk(encodeGetChunk({ found: true, frameLengths: [2 ** 40], data: pieces }));
    expect(get).toMatchObject({ found: true, frameLengths: [2 ** 40] });
    expect(get.data.byteLength).toBe(70_004);
  });

  it('tells a chunk without a layout from a first message with an empty one', () => {
    expect(decodePutChunk(encodePutChunk({ data: [new Uint8Array(4)] })).frameLengths).toBeNull();
    expect(decodePutChunk(encodePutChunk({ frameLengths: [] })).frameLengths).toEqual([]);
    expect(decodeGetChunk(encodeGetChunk({ found: false }))).toMatchObject({ found: false, frameLengths: null });
  });

  it('round-trips every reply', () => {
    expect(decodePutReply(encodePutReply({ id: 'a', owner: 'b', size: 2 ** 45 }))).toEqual({ id: 'a', owner: 'b', size: 2 ** 45 });
    expect(decodeExistsReply(encodeExistsReply(true))).toBe(true);
    expect(decodeExistsReply(encodeExistsReply(false))).toBe(false);
    expect(decodeEvictReply(encodeEvictReply(true))).toBe(true);
    expect(decodeStatReply(encodeStatReply(null))).toBeNull();
    expect([...(decodeStatReply(encodeStatReply(new Uint8Array([5, 6]))) ?? [])]).toEqual([5, 6]);
    expect(decodeEmpty(encodeEmpty())).toBeNull();
    expect(decodeIdentity(encodeIdentity(identity))).toEqual(identity);
    // A UCX server's identity also carries its worker address; an endpoint's has none.
    const ucx = { ...identity, workerAddress: new Uint8Array([0, 1, 2, 250, 255]) };
    expect(decodeIdentity(encodeIdentity(ucx))).toEqual(ucx);
    expect(decodeIdentity(encodeIdentity(identity))).not.toHaveProperty('workerAddress');
    const health = { serving: true, uptimeMs: 99, objects: 3, bytesUsed: 2 ** 35, activeCalls: 7 };
    expect(decodeHealth(encodeHealth(health))).toEqual(health);
    expect(decodePeerInfo(encodePeerInfo(peer))).toEqual(peer);
    const many = Array.from({ length: 50 }, (_, i) => ({ ...peer, id: `p${i}`, reachable: i % 2 === 0 }));
    expect(decodePeerList(encodePeerList(many))).toEqual(many);
    expect(decodePeerList(encodePeerList([]))).toEqual([]);
  });

  it('refuses truncated and garbage messages with CONTROL_PROTOCOL, never a crash or garbage', () => {
    const good = [
      [encodeObjectRef({ id: 'abc', owner: 'o', forwarded: false }), decodeObjectRef],
      [encodePutChunk({ id: 'k', frameLengths: [1, 2], data: [new Uint8Array(3)] }), decodePutChunk],
      [encodeGetChunk({ found: true, frameLengths: [5], data: [new Uint8Array(5)] }), decodeGetChunk],
      [encodeIdentity(identity), decodeIdentity],
      [encodeIdentity({ ...identity, workerAddress: new Uint8Array(300).fill(7) }), decodeIdentity],
      [encodePeerList([peer, peer]), decodePeerList],
    ] as const;
    for (const [bytes, decode] of good) {
      for (const cut of [0, 3, bytes.byteLength >> 1, bytes.byteLength - 1]) {
        const truncated = bytes.subarray(0, cut);
        let result: unknown;
        try {
          result = (decode as (b: Uint8Array) => unknown)(truncated);
        } catch (err) {
          expect(err).toBeInstanceOf(ControlError);
          expect((err as ControlError).code).toBe('CONTROL_PROTOCOL');
          continue;
        }
        // A cut inside trailing padding can still be a valid message: then it must decode to the same thing.
        expect(result).toEqual((decode as (b: Uint8Array) => unknown)(bytes));
      }
    }
  });

  it('survives arbitrary bytes: either a decoded message or CONTROL_PROTOCOL', () => {
    const decoders = [decodeObjectRef, decodePutChunk, decodeGetChunk, decodeIdentity, decodePeerList, decodeHealth];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.nat(decoders.length - 1), (bytes, which) => {
        try {
          (decoders[which] as (b: Uint8Array) => unknown)(bytes);
        } catch (err) {
          return err instanceof ControlError && err.code === 'CONTROL_PROTOCOL';
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses a flipped offset inside a valid message', () => {
    const bytes = new Uint8Array(encodePeerList([peer]));
    // Point the root table far past the end.
    bytes[0] = 0xff;
    bytes[1] = 0xff;
    expect(() => decodePeerList(bytes)).toThrow(/Malformed PeerList/);
  });
});
