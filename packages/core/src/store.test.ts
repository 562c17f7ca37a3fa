import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ClosedError,
  ConfigError,
  FileConnector,
  InvalidKeyError,
  InvalidReferenceError,
  MemoryConnector,
  NonProxiableTypeError,
  NotAStoreProxyError,
  ProxyResolveMissingKeyError,
  Store,
  extract,
  fromReference,
  getStore,
  isProxy,
  isResolved,
  packMessage,
  registerStore,
  resolveAsync,
  toReference,
  unpackMessage,
  unregisterStore,
  type Connector,
  type Key,
} from './index.js';
import { InstrumentedConnector } from './testing/instrumented.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ps-store-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const backends: Record<string, () => Connector> = {
  memory: () => new MemoryConnector(),
  file: () => new FileConnector({ directory: dir }),
};

describe.each(Object.entries(backends))('Store over the %s connector', (_name, makeConnector) => {
  it('round-trips typed arrays and structured values', async () => {
    await using store = new Store('rt', makeConnector());
    const weights = Float64Array.from({ length: 1000 }, (_, i) => i / 3);
    const run = { name: 'run-7', weights, tags: new Map([['a', 1]]), when: new Date(5), big: 12n };
    const key = await store.put(run);
    const back = await store.get<typeof run>(key);
    expect(back).toEqual(run);
    expect(back?.weights).toBeInstanceOf(Float64Array);
    expect(back?.tags.get('a')).toBe(1);
  });

  it('gives null or the default for a missing key, and exists/evict agree', async () => {
    await using store = new Store('missing', makeConnector());
    const key = await store.put('here');
    expect(await store.exists(key)).toBe(true);
    await store.evict(key);
    await store.evict(key);
    expect(await store.exists(key)).toBe(false);
    expect(await store.get(key)).toBeNull();
    expect(await store.get(key, { default: 'fallback' })).toBe('fallback');
  });

  it('keeps batch order', async () => {
    await using store = new Store('batch', makeConnector());
    const values = ['a', { b: 2 }, new Uint8Array([3, 3, 3]), [4]];
    const keys = await store.putBatch(values);
    expect(await Promise.all(keys.map((k) => store.get(k)))).toEqual(values);
  });

  it('makes lazy proxies that resolve synchronously on first use, once', async () => {
    const connector = new InstrumentedConnector(makeConnector());
    await using store = new Store('lazy', connector, { cacheSize: 0 });
    const p = await store.proxy({ name: 'x', data: new Float64Array([1, 2, 3]) });
    expect(isProxy(p)).toBe(true);
    expect(connector.reads).toBe(0);
    expect(p.name).toBe('x');
    expect(p.data[2]).toBe(3);
    expect(p.data.length).toBe(3);
    expect(connector.reads).toBe(1);
    expect(isResolved(p)).toBe(true);
  });

  it('evicts an evict-on-use proxy after its first resolution', async () => {
    await using store = new Store('evict', makeConnector(), { cacheSize: 0 });
    const p = await store.proxy([1, 2, 3], { evict: true });
    const key = toReference(p).key;
    expect(await store.exists(key)).toBe(true);
    expect(p.length).toBe(3);
    await new Promise((r) => setTimeout(r, 10));
    expect(await store.exists(key)).toBe(false);
    expect(p[1]).toBe(2); // the resolved value stays usable
  });

  it('throws ProxyResolveMissingKeyError at the access site, naming store and key', async () => {
    await using store = new Store('gone', makeConnector());
    const key = await store.put({ a: 1 });
    const p = store.proxyFromKey<{ a: number }>(key);
    await store.evict(key);
    let caught: unknown;
    try {
      void p.a;
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ProxyResolveMissingKeyError);
    expect((caught as ProxyResolveMissingKeyError).code).toBe('PROXY_RESOLVE_MISSING_KEY');
    expect((caught as ProxyResolveMissingKeyError).storeName).toBe('gone');
    expect((caught as ProxyResolveMissingKeyError).key).toEqual(key);
    expect((caught as Error).message).toContain(key.id);
  });
});

describe('Store', () => {
  it('refuses null, undefined and booleans unless asked to return them as-is', async () => {
    await using store = new Store('np', new MemoryConnector());
    await expect(store.proxy(null)).rejects.toBeInstanceOf(NonProxiableTypeError);
    await expect(store.proxy(true)).rejects.toMatchObject({ code: 'NON_PROXIABLE_TYPE' });
    expect(await store.proxy(null, { skipNonProxiable: true })).toBeNull();
    expect(await store.proxy(false, { skipNonProxiable: true })).toBe(false);
    const mixed = await store.proxyBatch([undefined, { a: 1 }], { skipNonProxiable: true });
    expect(mixed[0]).toBeUndefined();
    expect(isProxy(mixed[1])).toBe(true);
    expect(mixed[1]).toEqual({ a: 1 });
  });

  it('caches an object from its second read on, without aliasing between gets', async () => {
    const connector = new InstrumentedConnector(new MemoryConnector());
    await using store = new Store('cache', connector, { cacheSize: 4 });
    const key = await store.put({ data: new Int32Array([1, 2, 3]) });
    const first = await store.get<{ data: Int32Array }>(key);
    const second = await store.get<{ data: Int32Array }>(key);
    const third = await store.get<{ data: Int32Array }>(key);
    const fourth = await store.get<{ data: Int32Array }>(key);
    expect(connector.calls.get).toBe(2);
    first!.data[0] = 99;
    third!.data[1] = 98;
    expect(second!.data[0]).toBe(1);
    expect(fourth!.data[1]).toBe(2);
    expect((await store.get<{ data: Int32Array }>(key))!.data).toEqual(new Int32Array([1, 2, 3]));
    expect(store.metrics?.snapshot().cache).toEqual({ hits: 3, misses: 2 });
  });

  it('does not cache (or copy) an object read only once', async () => {
    const connector = new InstrumentedConnector(new MemoryConnector());
    await using store = new Store('once', connector, { cacheSize: 4 });
    const keys = await store.putBatch(['a', 'b', 'c']);
    for (const key of keys) await store.get(key);
    // Each key read once, all within the cache's capacity: none was cached, so a second read of the
    // first goes to the connector, and caches it for the third.
    await store.get(keys[0]!);
    expect(connector.calls.get).toBe(4);
    await store.get(keys[0]!);
    expect(connector.calls.get).toBe(4);
    expect(store.metrics?.snapshot().cache).toEqual({ hits: 1, misses: 4 });
  });

  it('with cacheSize 0 reads the connector every time', async () => {
    const connector = new InstrumentedConnector(new MemoryConnector());
    await using store = new Store('nocache', connector, { cacheSize: 0 });
    const key = await store.put('v');
    await store.get(key);
    await store.get(key);
    expect(connector.calls.get).toBe(2);
    expect(store.metrics?.snapshot().cache).toEqual({ hits: 0, misses: 0 });
  });

  it('evicting drops the cache entry too', async () => {
    await using store = new Store('cache-evict', new MemoryConnector(), { cacheSize: 4 });
    const key = await store.put('v');
    expect(await store.get(key)).toBe('v');
    expect(await store.get(key)).toBe('v');
    await store.evict(key);
    expect(await store.get(key)).toBeNull();
  });

  it('records per-operation timings and sizes', async () => {
    await using store = new Store('metrics', new MemoryConnector());
    const key = await store.put(new Uint8Array(5000));
    await store.get(key);
    await store.exists(key);
    const { operations } = store.metrics!.snapshot();
    expect(operations['put']?.count).toBe(1);
    expect(operations['put']?.bytes).toBeGreaterThanOrEqual(5000);
    expect(operations['get']?.bytes).toBe(operations['put']?.bytes);
    expect(operations['exists']?.count).toBe(1);
    expect(operations['get']?.totalMs).toBeGreaterThanOrEqual(0);
    const quiet = new Store('quiet', new MemoryConnector(), { metrics: false });
    expect(quiet.metrics).toBeUndefined();
    await quiet.close();
  });

  it('re-creates an equivalent store from its config', async () => {
    await using store = new Store('cfg', new FileConnector({ directory: dir }), { cacheSize: 3 });
    const key = await store.put({ a: [1, 2] });
    const config = JSON.parse(JSON.stringify(store.config()));
    expect(config).toMatchObject({ name: 'cfg', cacheSize: 3, metrics: true, connector: { kind: 'file' } });
    await using again = Store.fromConfig(config);
    expect(await again.get(key)).toEqual({ a: [1, 2] });
    await using viaImport = await Store.fromConfigAsync(config);
    expect(await viaImport.get(key)).toEqual({ a: [1, 2] });
  });

  it('rejects an unknown connector kind with a ConfigError', () => {
    expect(() =>
      Store.fromConfig({
        name: 'x',
        cacheSize: 0,
        metrics: false,
        connector: { kind: 'nope', package: '@proxystore/does-not-exist', options: {} },
      }),
    ).toThrow(expect.objectContaining({ code: 'UNKNOWN_CONNECTOR' }));
  });

  it('closes once, and refuses I/O afterwards', async () => {
    const store = new Store('closing', new MemoryConnector());
    const key = await store.put(1);
    await store.close();
    await store.close();
    await expect(store.get(key)).rejects.toBeInstanceOf(ClosedError);
    await expect(store.put(1)).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('honours an aborted signal', async () => {
    await using store = new Store('abort', new FileConnector({ directory: dir }));
    const key = await store.put('x');
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(store.get(key, { signal: controller.signal })).rejects.toThrow('stop');
    await expect(store.put('y', { signal: controller.signal })).rejects.toThrow('stop');
  });

  it('refuses a value it cannot serialize, and stores nothing', async () => {
    await using store = new Store('bad-value', new FileConnector({ directory: dir }));
    await expect(store.put({ ok: 1, callback: () => 1 })).rejects.toMatchObject({
      name: 'SerializationError',
      code: 'SERIALIZE_UNSUPPORTED_VALUE',
    });
    await expect(store.proxy(new WeakMap())).rejects.toMatchObject({ code: 'SERIALIZE_UNSUPPORTED_VALUE' });
    await expect(store.proxy(Symbol('s'))).rejects.toBeInstanceOf(NonProxiableTypeError);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a reference to a connector kind nobody registers fails at the access site, typed', () => {
    const p = fromReference<{ a: number }>({
      proxystore: 1,
      store: {
        name: 'elsewhere',
        cacheSize: 0,
        metrics: false,
        connector: { kind: 'warp-drive', package: '@proxystore/warp-drive', options: {} },
      },
      key: { kind: 'warp-drive', id: 'x' },
      shape: { type: 'object' },
      evict: false,
    });
    expect(isResolved(p)).toBe(false);
    expect(() => p.a).toThrow(expect.objectContaining({ code: 'UNKNOWN_CONNECTOR' }));
  });

  it('rejects malformed keys with InvalidKeyError', async () => {
    await using store = new Store<Key>('keys', new MemoryConnector());
    await expect(store.get({ kind: 'file', id: 'x' } as Key)).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(store.get('abc' as unknown as Key)).rejects.toMatchObject({ code: 'INVALID_KEY' });
  });
});

describe('references', () => {
  it('are small, JSON-safe and revive into an unresolved proxy', async () => {
    const connector = new InstrumentedConnector(new FileConnector({ directory: dir }));
    await using store = new Store('refs', connector, { cacheSize: 0 });
    const big = { name: 'run', weights: new Float64Array(2_000_000) };
    big.weights[123] = 4.5;
    const p = await store.proxy(big);
    const ref = toReference(p);
    const wire = JSON.stringify(ref);
    expect(Buffer.byteLength(wire)).toBeLessThan(1024);
    expect(connector.reads).toBe(0);
    const revived = fromReference<typeof big>(JSON.parse(wire));
    expect(isResolved(revived)).toBe(false);
    expect(inspect(revived)).toContain('refs');
    expect(revived.weights[123]).toBe(4.5);
  });

  it('refuse what is not a store proxy or not a reference', () => {
    expect(() => toReference({ a: 1 })).toThrow(NotAStoreProxyError);
    expect(() => fromReference({ proxystore: 99 })).toThrow(InvalidReferenceError);
    expect(() => fromReference(null)).toThrow(expect.objectContaining({ code: 'INVALID_REFERENCE' }));
  });

  it('resolve through the registered store of their name', async () => {
    const connector = new InstrumentedConnector(new MemoryConnector());
    const store = new Store('registered', connector, { register: true, cacheSize: 0 });
    try {
      expect(getStore('registered')).toBe(store);
      expect(() => registerStore(new Store('registered', new MemoryConnector()))).toThrow(ConfigError);
      const p = await store.proxy({ v: 1 });
      const revived = fromReference<{ v: number }>(toReference(p));
      expect(revived.v).toBe(1);
      expect(connector.reads).toBe(1);
    } finally {
      await store.close();
    }
    expect(getStore('registered')).toBeUndefined();
    unregisterStore('registered');
  });

  it('nested proxies are stored as references, never fetched to store or send the outer value', async () => {
    const connector = new InstrumentedConnector(new MemoryConnector());
    await using store = new Store('nested', connector, { cacheSize: 0 });
    const inner = await store.proxy({ payload: new Uint8Array(1_000_000).fill(7) });
    const outer = { label: 'outer', inner, list: [inner] };
    const key = await store.put(outer);
    const message = packMessage(outer);
    expect(message.encoding).toBe('binary');
    expect((message.data as Uint8Array).byteLength).toBeLessThan(4096);
    expect(connector.reads).toBe(0);
    expect(isResolved(inner)).toBe(false);

    const back = await store.get<typeof outer>(key);
    expect(connector.reads).toBe(1);
    expect(isProxy(back!.inner)).toBe(true);
    expect(isResolved(back!.inner)).toBe(false);
    expect(back!.inner.payload[999_999]).toBe(7);

    const viaJson = unpackMessage<typeof outer>(JSON.parse(JSON.stringify(packMessage(outer, { encoding: 'base64' }))));
    expect(isResolved(viaJson.inner)).toBe(false);
    expect(extract(viaJson.list[0])!.payload.length).toBe(1_000_000);
  });

  it('resolveAsync prefetches without a synchronous read', async () => {
    const connector = new InstrumentedConnector(new FileConnector({ directory: dir }));
    await using store = new Store('prefetch', connector, { cacheSize: 0 });
    const p = await store.proxy({ a: 'b' });
    await resolveAsync(p);
    expect(connector.calls.get).toBe(1);
    expect(connector.calls.getSync).toBe(0);
    expect(p.a).toBe('b');
  });
});
