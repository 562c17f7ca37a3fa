// The sync bridge's wire format (which buffers are transferred, which are copied; errors as data and
// back), and the bridge itself run from the TypeScript sources, where its worker script is the built one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProxyStoreError } from '@proxystore/proxy';
import type { Connector } from './connector.js';
import { FileConnector, type FileKey } from './connectors/file.js';
import { ClosedError, ConnectorError, ProxyResolveMissingKeyError } from './errors.js';
import { Store } from './store.js';
import { errorFromWire, framesForTransfer, rebuildError, serializeError } from './sync-bridge-protocol.js';
import { syncBridgeStats } from './sync-bridge.js';

describe('framesForTransfer', () => {
  it('transfers a frame that owns its whole buffer, as is', () => {
    const frame = new Uint8Array(1000).fill(3);
    const out = framesForTransfer([frame]);
    expect(out.frames[0]).toBe(frame);
    expect(out.transfer).toEqual([frame.buffer]);
  });

  it('transfers one buffer for views that together cover it', () => {
    const whole = new Uint8Array(64);
    const frames = [whole.subarray(0, 10), whole.subarray(10)];
    const out = framesForTransfer(frames);
    expect(out.frames).toEqual(frames);
    expect(out.transfer).toEqual([whole.buffer]);
  });

  it('transfers a large buffer the frames mostly cover (alignment padding), without a copy', () => {
    const whole = new Uint8Array(1 << 20);
    const frames = [whole.subarray(0, 100), whole.subarray(128, 1 << 19), whole.subarray((1 << 19) + 64)];
    const out = framesForTransfer(frames);
    expect(out.frames.every((f, i) => f === frames[i])).toBe(true);
    expect(out.transfer).toEqual([whole.buffer]);
  });

  it('copies frames over a pool slab or a small part of a buffer once, 64-byte aligned, into one buffer', () => {
    const pooled = Buffer.from('abc');
    expect(pooled.buffer.byteLength).toBeGreaterThan(3);
    const big = new Uint8Array(1 << 20);
    const part = big.subarray(5, 105).fill(9);
    const owned = new Uint8Array(16);
    const out = framesForTransfer([pooled, owned, part]);
    expect(out.frames[1]).toBe(owned);
    const [a, , c] = out.frames as [Uint8Array, Uint8Array, Uint8Array];
    expect(a.buffer).toBe(c.buffer);
    expect(a.byteOffset).toBe(0);
    expect(c.byteOffset).toBe(64);
    expect(a.buffer.byteLength).toBe(164);
    expect(Buffer.from(a).toString()).toBe('abc');
    expect(c.every((b) => b === 9)).toBe(true);
    expect(out.transfer).toHaveLength(2);
    expect(out.transfer).toContain(owned.buffer);
    expect(out.transfer).not.toContain(pooled.buffer);
    expect(out.transfer).not.toContain(big.buffer);
  });

  it('copies frames over shared memory', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(8)).fill(1);
    const out = framesForTransfer([shared]);
    expect(out.frames[0]?.buffer).toBeInstanceOf(ArrayBuffer);
    expect(out.transfer).toEqual([out.frames[0]?.buffer]);
  });
});

/** An error as it arrives on the other side: serialized, cloned (as postMessage does), rebuilt. */
function across(err: unknown): Error {
  return errorFromWire(structuredClone(serializeError(err)));
}

describe('errors as data', () => {
  it('a subclass of ConnectorError comes back a ConnectorError with its code, message and cause chain', () => {
    class RedisError extends ConnectorError {}
    const root = Object.assign(new RangeError('port out of range'), { code: 'ERR_SOCKET_BAD_PORT' });
    const err = across(new RedisError('no server', { code: 'REDIS_DOWN', cause: new Error('connect', { cause: root }) }));
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err).toMatchObject({ name: 'ConnectorError', code: 'REDIS_DOWN', message: 'no server' });
    const cause = err.cause as Error;
    expect(cause.message).toBe('connect');
    expect(cause.cause).toBeInstanceOf(RangeError);
    expect(cause.cause).toMatchObject({ message: 'port out of range', code: 'ERR_SOCKET_BAD_PORT' });
  });

  it('keeps ClosedError and the fields of ProxyResolveMissingKeyError', () => {
    expect(across(new ClosedError('X'))).toBeInstanceOf(ClosedError);
    const missing = across(new ProxyResolveMissingKeyError('s', { kind: 'k', id: '1' }));
    expect(missing).toBeInstanceOf(ProxyResolveMissingKeyError);
    expect(missing).toMatchObject({ storeName: 's', key: { kind: 'k', id: '1' }, code: 'PROXY_RESOLVE_MISSING_KEY' });
  });

  it('turns a foreign error into SYNC_BRIDGE_REMOTE_ERROR, keeping a name that has no class here', () => {
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' });
    const err = across(abort);
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err).toMatchObject({ code: 'SYNC_BRIDGE_REMOTE_ERROR', message: 'aborted' });
    expect(err.cause).toMatchObject({ name: 'AbortError', message: 'aborted' });
    expect(ProxyStoreError.isProxyStoreError(err.cause)).toBe(false);
  });

  it('cuts a cyclic cause chain, and keeps non-error causes that are data', () => {
    const cyclic = new ConnectorError('loop');
    (cyclic as { cause?: unknown }).cause = cyclic;
    let depth = 0;
    for (let e: unknown = across(cyclic); e instanceof Error; e = e.cause) depth += 1;
    expect(depth).toBeLessThanOrEqual(9);
    expect(rebuildError(serializeError(new ConnectorError('x', { cause: { status: 503 } }))).cause).toEqual({ status: 503 });
    expect(across('a thrown string')).toMatchObject({ code: 'SYNC_BRIDGE_REMOTE_ERROR', message: 'a thrown string' });
  });
});

describe('the bridge run from the TypeScript sources', () => {
  it('starts its worker from the built script and reads through it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ps-bridge-src-'));
    const file = new FileConnector({ directory: dir });
    // The file connector without its synchronous read: the store has to take the bridge.
    const asyncOnly: Connector = {
      kind: file.kind,
      put: (frames, options) => file.put(frames, options),
      get: (key, options) => file.get(key as FileKey, options),
      exists: (key, options) => file.exists(key as FileKey, options),
      evict: (key, options) => file.evict(key as FileKey, options),
      putBatch: (items, options) => file.putBatch(items, options),
      getBatch: (keys, options) => file.getBatch(keys as FileKey[], options),
      config: () => file.config(),
      close: (options) => file.close(options),
      [Symbol.asyncDispose]: () => file.close(),
    };
    const store = new Store('bridge-from-source', asyncOnly);
    try {
      const key = await store.put({ hello: 'bridge' });
      const requests = syncBridgeStats().requests;
      expect(store.getSync(key)).toEqual({ value: { hello: 'bridge' } });
      expect(syncBridgeStats().requests).toBe(requests + 1);
    } finally {
      await store.close({ clear: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
