import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { CloseOptions, Connector, ConnectorConfig, Frames, IoOptions, Key } from '../connector.js';
import { connectorFromConfig, registerConnector } from '../connector-registry.js';
import { assertKey } from '../key.js';
import { Store } from '../store.js';
import { describeConnectorContract, InstrumentedConnector } from '../testing/index.js';
import { FileConnector } from './file.js';
import { MemoryConnector } from './memory.js';
import {
  MultiConnector,
  MultiPolicyError,
  type MultiChild,
  type MultiConnectorOptions,
  type MultiKey,
  type MultiPolicy,
} from './multi.js';

// core's index registers the built-in kinds; these tests import the connector modules directly.
registerConnector('memory', (options) => MemoryConnector.fromConfig(options));
registerConnector('file', (options) => FileConnector.fromConfig(options));
registerConnector('multi', (options) => MultiConnector.fromConfig(options));

/** A memory connector whose config names its own kind, so tests can count how often it is built. */
let countedBuilds = 0;
class CountedMemory extends MemoryConnector {
  override config(): ConnectorConfig {
    return { ...super.config(), kind: 'counted-memory' };
  }
}
registerConnector('counted-memory', (options) => {
  countedBuilds++;
  return new CountedMemory({ segment: String(options.segment) });
});

/** Forwards the async methods only: a transport with no synchronous read (Redis, gRPC). */
class AsyncOnly implements Connector {
  constructor(readonly inner: Connector) {}
  get kind(): string {
    return this.inner.kind;
  }
  put(frames: Frames, options?: IoOptions): Promise<Key> {
    return this.inner.put(frames, options);
  }
  get(key: Key, options?: IoOptions): Promise<Uint8Array[] | null> {
    return this.inner.get(key, options);
  }
  exists(key: Key, options?: IoOptions): Promise<boolean> {
    return this.inner.exists(key, options);
  }
  evict(key: Key, options?: IoOptions): Promise<void> {
    return this.inner.evict(key, options);
  }
  putBatch(items: readonly Frames[], options?: IoOptions): Promise<Key[]> {
    return this.inner.putBatch(items, options);
  }
  getBatch(keys: readonly Key[], options?: IoOptions): Promise<(Uint8Array[] | null)[]> {
    return this.inner.getBatch(keys, options);
  }
  config(): ConnectorConfig {
    return this.inner.config();
  }
  close(options?: CloseOptions): Promise<void> {
    return this.inner.close(options);
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

const KiB = 1024;
const MiB = 1024 * KiB;
const root = mkdtempSync(path.join(os.tmpdir(), 'proxystore-multi-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = (): string => path.join(root, `dir-${dirCount++}`);

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const here = escapeRegExp(os.hostname());
const elsewhere = `${here}-elsewhere`;

const bytes = (size: number): Frames => [new Uint8Array(size).fill(7)];

/** Every file directory in a multi config, for cleanup. */
function fileDirs(connector: Connector): string[] {
  type Children = Record<string, { config: ConnectorConfig }>;
  const children = connector.config().options.connectors as unknown as Children;
  return Object.values(children)
    .filter((c) => c.config.kind === 'file')
    .map((c) => String(c.config.options.directory));
}

describeConnectorContract('MultiConnector (memory below 1 MiB, file for the rest)', {
  create: () =>
    new MultiConnector({
      connectors: {
        small: { connector: new MemoryConnector(), policy: { maxSize: MiB - 1, priority: 1 } },
        large: { connector: new FileConnector({ directory: freshDir() }) },
      },
    }),
  cleanup: (connector) => {
    for (const dir of fileDirs(connector)) rmSync(dir, { recursive: true, force: true });
  },
});

describeConnectorContract('MultiConnector (children as configs, one dormant)', {
  create: () =>
    new MultiConnector({
      connectors: {
        elsewhere: {
          connector: { kind: 'file', package: '@proxystore/core', options: { directory: freshDir() } },
          policy: { hostPattern: elsewhere, priority: 10 },
        },
        small: {
          connector: { kind: 'memory', package: '@proxystore/core', options: {} },
          policy: { maxSize: 64 * KiB, priority: 1 },
        },
        large: { connector: { kind: 'file', package: '@proxystore/core', options: { directory: freshDir() } } },
      },
    }),
  cleanup: (connector) => {
    for (const dir of fileDirs(connector)) rmSync(dir, { recursive: true, force: true });
  },
  maxSize: 2 * MiB,
});

describe('MultiConnector', () => {
  const opened: Connector[] = [];
  const open = (options: MultiConnectorOptions): MultiConnector => {
    const c = new MultiConnector(options);
    opened.push(c);
    return c;
  };
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close({ clear: true });
  });

  /** Memory children under the given policies, each wrapped to count calls. */
  function memoryMulti(policies: Record<string, MultiPolicy>) {
    const children: Record<string, InstrumentedConnector> = {};
    const connectors: Record<string, MultiChild> = {};
    for (const [name, policy] of Object.entries(policies)) {
      const connector = new InstrumentedConnector<Key>(new MemoryConnector());
      children[name] = connector;
      connectors[name] = { connector, policy };
    }
    return { multi: open({ connectors }), children };
  }

  describe('routing', () => {
    it('routes by size, with minSize and maxSize both inclusive', async () => {
      const { multi } = memoryMulti({
        tiny: { maxSize: 100 },
        mid: { minSize: 101, maxSize: 200 },
        big: { minSize: 201 },
      });
      const routes = async (size: number): Promise<string> => (await multi.put(bytes(size))).child;
      expect(await routes(0)).toBe('tiny');
      expect(await routes(100)).toBe('tiny');
      expect(await routes(101)).toBe('mid');
      expect(await routes(200)).toBe('mid');
      expect(await routes(201)).toBe('big');
      expect(await routes(MiB)).toBe('big');
    });

    it('measures the size as the total bytes of all frames', async () => {
      const { multi } = memoryMulti({ small: { maxSize: 100 }, rest: {} });
      expect((await multi.put([new Uint8Array(60), new Uint8Array(40)])).child).toBe('small');
      expect((await multi.put([new Uint8Array(60), new Uint8Array(41)])).child).toBe('rest');
      expect((await multi.put([])).child).toBe('small');
    });

    it('subsetTags: every tag of the put must be in the list; a put with no tags passes', async () => {
      const { multi } = memoryMulti({ public: { subsetTags: ['a', 'b'], priority: 1 }, any: {} });
      expect((await multi.put(bytes(1), { tags: ['a'] })).child).toBe('public');
      expect((await multi.put(bytes(1), { tags: ['b', 'a'] })).child).toBe('public');
      expect((await multi.put(bytes(1))).child).toBe('public');
      expect((await multi.put(bytes(1), { tags: ['a', 'c'] })).child).toBe('any');
    });

    it('supersetTags: the put must carry every tag the child requires', async () => {
      const { multi } = memoryMulti({ gpu: { supersetTags: ['gpu', 'fast'], priority: 1 }, cpu: {} });
      expect((await multi.put(bytes(1), { tags: ['fast', 'gpu', 'extra'] })).child).toBe('gpu');
      expect((await multi.put(bytes(1), { tags: ['gpu'] })).child).toBe('cpu');
      expect((await multi.put(bytes(1))).child).toBe('cpu');
    });

    it('the highest priority wins among accepting children; ties go to declaration order', async () => {
      const { multi } = memoryMulti({
        first: { priority: -1 },
        second: {},
        third: {},
        picky: { priority: 5, minSize: 10 },
      });
      expect((await multi.put(bytes(10))).child).toBe('picky');
      // picky declines; second and third tie at 0 and second was declared first; first ranks below.
      expect((await multi.put(bytes(9))).child).toBe('second');
    });

    it('no match: MultiPolicyError (MULTI_NO_POLICY) names size, tags, each reason; writes nothing', async () => {
      const { multi, children } = memoryMulti({
        small: { maxSize: 10 },
        large: { minSize: 1000 },
        tagged: { supersetTags: ['x'] },
        public: { subsetTags: ['a'] },
        far: { hostPattern: elsewhere },
      });
      const error = await multi.put(bytes(100), { tags: ['y'] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MultiPolicyError);
      expect(error).toMatchObject({ code: 'MULTI_NO_POLICY', size: 100, tags: ['y'] });
      const { reasons, message } = error as MultiPolicyError;
      expect(reasons).toEqual({
        small: expect.stringContaining('above maxSize 10'),
        large: expect.stringContaining('below minSize 1000'),
        tagged: expect.stringContaining('["x"]'),
        public: expect.stringContaining('["y"] not in subsetTags'),
        far: expect.stringContaining('dormant'),
      });
      expect(message).toContain('100 bytes');
      expect(message).toContain("'far': dormant");
      // A batch with one unroutable item writes nothing at all.
      const batch = multi.putBatch([bytes(1), bytes(100)], { tags: ['y'] });
      await expect(batch).rejects.toBeInstanceOf(MultiPolicyError);
      for (const child of Object.values(children)) {
        expect(child.calls.put + child.calls.putBatch).toBe(0);
      }
    });

    it('rejects tags that are not an array of strings', async () => {
      const { multi } = memoryMulti({ any: {} });
      await expect(multi.put(bytes(1), { tags: 'a' as unknown as string[] })).rejects.toBeInstanceOf(TypeError);
    });
  });

  describe('keys', () => {
    it('record the child and the child key, as plain JSON', async () => {
      const { multi } = memoryMulti({ only: {} });
      const key = await multi.put(bytes(5));
      expect(key).toEqual({
        kind: 'multi',
        id: key.key.id,
        child: 'only',
        key: { kind: 'memory', id: expect.any(String), segment: expect.any(String) },
      });
      expect(() => assertKey(key, 'multi')).not.toThrow();
      const revived = JSON.parse(JSON.stringify(key)) as MultiKey;
      expect(await multi.get(revived)).toEqual(bytes(5));
    });

    it('a key naming an unknown child, or with no child key, is an InvalidKeyError', async () => {
      const { multi } = memoryMulti({ a: {}, b: {} });
      const key = await multi.put(bytes(1));
      const invalid = { code: 'INVALID_KEY' };
      const unknown = { ...key, child: 'nope' };
      await expect(multi.get(unknown)).rejects.toMatchObject(invalid);
      await expect(multi.get(unknown)).rejects.toThrow(/child 'nope'.*children: a, b/);
      await expect(multi.exists(unknown)).rejects.toMatchObject(invalid);
      await expect(multi.evict(unknown)).rejects.toMatchObject(invalid);
      expect(() => multi.getSync(unknown)).toThrow(expect.objectContaining(invalid));
      await expect(multi.getBatch([key, unknown])).rejects.toMatchObject(invalid);
      const { child: _child, ...noChild } = key;
      await expect(multi.get(noChild as unknown as MultiKey)).rejects.toMatchObject(invalid);
      await expect(multi.get({ ...key, key: 'x' } as unknown as MultiKey)).rejects.toMatchObject(invalid);
      // The child checks its own key.
      await expect(multi.get({ ...key, key: { kind: 'file', id: 'x' } })).rejects.toMatchObject(invalid);
    });
  });

  describe('batches', () => {
    it('putBatch and getBatch keep input order across children, one child batch each', async () => {
      const { multi, children } = memoryMulti({ small: { maxSize: 10 }, large: { minSize: 11 } });
      const sizes = [1, 50, 2, 60, 3, 0, 70];
      const items = sizes.map((n, i) => [new Uint8Array(n).fill(i)]);
      const keys = await multi.putBatch(items);
      expect(keys.map((k) => k.child)).toEqual(sizes.map((n) => (n <= 10 ? 'small' : 'large')));
      expect(children.small?.calls).toMatchObject({ put: 0, putBatch: 1 });
      expect(children.large?.calls).toMatchObject({ put: 0, putBatch: 1 });
      const missing = await multi.put(bytes(20));
      await multi.evict(missing);
      const got = await multi.getBatch([...keys.slice(0, 3), missing, ...keys.slice(3)]);
      expect(got).toEqual([...items.slice(0, 3), null, ...items.slice(3)]);
      expect(children.small?.calls.getBatch).toBe(1);
      expect(children.large?.calls.getBatch).toBe(1);
    });

    it('putBatch is all or nothing: when one child fails, what the others wrote is evicted', async () => {
      const good = new InstrumentedConnector(new MemoryConnector());
      const bad = new InstrumentedConnector(new MemoryConnector());
      bad.putBatch = () => Promise.reject(new Error('disk full'));
      const multi = open({
        connectors: { good: { connector: good, policy: { maxSize: 10 } }, bad: { connector: bad } },
      });
      await expect(multi.putBatch([bytes(1), bytes(100), bytes(2)])).rejects.toThrow('disk full');
      expect(good.calls.putBatch).toBe(1);
      expect(good.calls.evict).toBe(2);
    });
  });

  describe('host patterns and dormant children', () => {
    it('a pattern matching this host (whole name, regex, or any of a list) keeps the child active', () => {
      const multi = open({
        connectors: {
          exact: { connector: new MemoryConnector(), policy: { hostPattern: here } },
          regex: { connector: new MemoryConnector(), policy: { hostPattern: '.*' } },
          list: { connector: new MemoryConnector(), policy: { hostPattern: [elsewhere, here] } },
          // Anchored at both ends: a prefix of the host name does not match.
          prefix: { connector: new MemoryConnector(), policy: { hostPattern: here.slice(0, -1) } },
          far: { connector: new MemoryConnector(), policy: { hostPattern: elsewhere } },
          none: { connector: new MemoryConnector(), policy: { hostPattern: [] } },
        },
      });
      expect(multi.dormant).toEqual(['prefix', 'far', 'none']);
    });

    it('a dormant child given as a config is not built until a key names it; then it reads', async () => {
      const segment = `multi-dormant-${Date.now()}`;
      const producer = open({
        connectors: {
          near: { connector: new MemoryConnector(), policy: { maxSize: 10 } },
          far: { connector: new CountedMemory({ segment }), policy: { minSize: 11, hostPattern: here } },
        },
      });
      const key = await producer.put(bytes(100));
      expect(key.child).toBe('far');

      // The same config on a host the pattern does not match.
      const config = JSON.parse(JSON.stringify(producer.config())) as ConnectorConfig;
      const children = config.options.connectors as Record<string, { policy: { hostPattern: string } }>;
      (children.far as { policy: { hostPattern: string } }).policy.hostPattern = elsewhere;
      const before = countedBuilds;
      const consumer = connectorFromConfig(config) as MultiConnector;
      opened.push(consumer);
      expect(consumer.dormant).toEqual(['far']);
      expect(countedBuilds).toBe(before);
      // It takes no puts here...
      await expect(consumer.put(bytes(100))).rejects.toMatchObject({
        code: 'MULTI_NO_POLICY',
        reasons: { far: expect.stringContaining(`does not match hostPattern`) },
      });
      expect(countedBuilds).toBe(before);
      // ...but its keys still read, through a child built on first use (once).
      expect(consumer.getSync(key)).toEqual(bytes(100));
      expect(await consumer.get(key)).toEqual(bytes(100));
      expect(await consumer.exists(key)).toBe(true);
      expect(countedBuilds).toBe(before + 1);
      // Its config still carries the child as given, dormant or not.
      expect(consumer.config()).toEqual(config);
    });

    it('a dormant child that cannot be built fails the read with MULTI_CHILD_UNAVAILABLE', async () => {
      const multi = open({
        connectors: {
          near: { connector: new MemoryConnector() },
          far: {
            connector: { kind: 'no-such-kind', package: '@proxystore/no-such-package', options: {} },
            policy: { hostPattern: elsewhere },
          },
        },
      });
      const key: MultiKey = { kind: 'multi', id: 'x', child: 'far', key: { kind: 'no-such-kind', id: 'x' } };
      const error = await multi.get(key).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'MULTI_CHILD_UNAVAILABLE', cause: { code: 'UNKNOWN_CONNECTOR' } });
      expect((error as Error).message).toContain("child 'far'");
    });

    it('an active child that cannot be built fails the constructor, which closes those it built', () => {
      const dir = freshDir();
      expect(
        () =>
          new MultiConnector({
            connectors: {
              ok: { connector: { kind: 'file', package: '@proxystore/core', options: { directory: dir } } },
              broken: {
                connector: { kind: 'no-such-kind', package: '@proxystore/no-such-package', options: {} },
              },
            },
          }),
      ).toThrow(expect.objectContaining({ code: 'MULTI_CHILD_UNAVAILABLE' }));
    });

    it('a child given as an instance on another host takes no puts but serves its keys', async () => {
      const far = new MemoryConnector();
      const farKey = await far.put(bytes(3));
      const multi = open({
        connectors: {
          far: { connector: far, policy: { hostPattern: elsewhere, priority: 9 } },
          near: { connector: new MemoryConnector() },
        },
      });
      expect((await multi.put(bytes(3))).child).toBe('near');
      expect(await multi.get({ kind: 'multi', id: farKey.id, child: 'far', key: farKey })).toEqual(bytes(3));
    });
  });

  describe('config', () => {
    it('round-trips: a connector built from config() reads what the first put, in every child', async () => {
      const [a, b] = [freshDir(), freshDir()];
      const first = open({
        connectors: {
          small: { connector: new FileConnector({ directory: a }), policy: { maxSize: KiB, priority: 2 } },
          large: { connector: new FileConnector({ directory: b }), policy: { minSize: KiB + 1 } },
          tagged: {
            connector: new MemoryConnector({ segment: 'multi-config' }),
            policy: { supersetTags: ['hot'], subsetTags: ['hot', 'warm'], priority: 3, hostPattern: [here] },
          },
        },
      });
      const config = first.config();
      expect(config).toEqual({
        kind: 'multi',
        package: '@proxystore/core',
        options: {
          connectors: {
            small: {
              config: { kind: 'file', package: '@proxystore/core', options: { directory: a } },
              policy: { maxSize: KiB, priority: 2 },
            },
            large: {
              config: { kind: 'file', package: '@proxystore/core', options: { directory: b } },
              policy: { minSize: KiB + 1 },
            },
            tagged: {
              config: { kind: 'memory', package: '@proxystore/core', options: { segment: 'multi-config' } },
              policy: { supersetTags: ['hot'], subsetTags: ['hot', 'warm'], priority: 3, hostPattern: [here] },
            },
          },
        },
      });
      const keys = [
        await first.put(bytes(10)),
        await first.put(bytes(10 * KiB)),
        await first.put(bytes(5), { tags: ['hot'] }),
      ];
      expect(keys.map((k) => k.child)).toEqual(['small', 'large', 'tagged']);

      const second = MultiConnector.fromConfig(JSON.parse(JSON.stringify(config.options)));
      opened.push(second);
      expect(second.config()).toEqual(config);
      expect(await second.getBatch(keys)).toEqual([bytes(10), bytes(10 * KiB), bytes(5)]);
      // Same routing on the other side.
      expect((await second.put(bytes(10 * KiB))).child).toBe('large');
      expect((await second.put(bytes(1), { tags: ['hot', 'warm'] })).child).toBe('tagged');
    });

    it('keeps any child name through a JSON round trip, even __proto__', async () => {
      const first = open({ connectors: { ['__proto__']: { connector: new MemoryConnector() } } });
      const key = await first.put(bytes(3));
      expect(key.child).toBe('__proto__');
      const config = JSON.parse(JSON.stringify(first.config())) as ConnectorConfig;
      const second = connectorFromConfig(config) as MultiConnector;
      opened.push(second);
      expect(second.childNames).toEqual(['__proto__']);
      expect(await second.get(key)).toEqual(bytes(3));
    });

    it('rejects bad options with ConfigError', () => {
      const bad = (connectors: unknown): (() => MultiConnector) => () =>
        new MultiConnector({ connectors } as MultiConnectorOptions);
      const memory = { kind: 'memory', package: '@proxystore/core', options: {} };
      const configError = expect.objectContaining({ code: 'CONFIG_ERROR' });
      expect(bad(undefined)).toThrow(configError);
      expect(bad({})).toThrow(configError);
      expect(bad({ a: { connector: 'memory' } })).toThrow(configError);
      const typo = bad({ a: { connector: memory, policy: { min_size_bytes: 1 } } });
      expect(typo).toThrow(/unknown policy field 'min_size_bytes'/);
      expect(bad({ a: { connector: memory, policy: { minSize: 10, maxSize: 5 } } })).toThrow(configError);
      expect(bad({ a: { connector: memory, policy: { minSize: -1 } } })).toThrow(configError);
      expect(bad({ a: { connector: memory, policy: { priority: Number.NaN } } })).toThrow(configError);
      expect(bad({ a: { connector: memory, policy: { subsetTags: 'x' } } })).toThrow(configError);
      const regex = bad({ a: { connector: memory, policy: { hostPattern: '(' } } });
      expect(regex).toThrow(/not a valid regular expression/);
      expect(() => MultiConnector.fromConfig({ connectors: [] })).toThrow(configError);
    });
  });

  describe('futures, sync reads, close', () => {
    it('newKey routes by tags and a size hint; without one, only children that take every size', async () => {
      const small = new MemoryConnector();
      const multi = open({
        connectors: {
          small: { connector: small, policy: { maxSize: 100, priority: 2 } },
          noFutures: { connector: new InstrumentedConnector(new MemoryConnector()), policy: { priority: 1 } },
          rest: { connector: new MemoryConnector() },
        },
      });
      expect((await multi.newKey({ size: 50 })).child).toBe('small');
      const key = await multi.newKey();
      expect(key.child).toBe('rest');
      expect(await multi.get(key)).toBeNull();
      await multi.set(key, bytes(500));
      expect(await multi.get(key)).toEqual(bytes(500));
      const only = open({
        connectors: { small: { connector: new MemoryConnector(), policy: { maxSize: 100 } } },
      });
      await expect(only.newKey()).rejects.toMatchObject({
        code: 'MULTI_NO_POLICY',
        size: undefined,
        reasons: { small: expect.stringContaining('no size') },
      });
    });

    // getSync of such a child goes through the sync bridge: see test/multi-sync-bridge.test.ts.
    it('evictSync of a child with no evictSync evicts in the background', async () => {
      const multi = open({ connectors: { remote: { connector: new AsyncOnly(new MemoryConnector()) } } });
      const key = await multi.put(bytes(4));
      multi.evictSync(key);
      await expect.poll(() => multi.exists(key)).toBe(false);
    });

    it('close closes every built child and passes clear on; twice is fine', async () => {
      const segment = `multi-close-${Date.now()}`;
      const memory = new MemoryConnector({ segment });
      const file = new FileConnector({ directory: freshDir() });
      const multi = new MultiConnector({
        connectors: { small: { connector: memory, policy: { maxSize: 10 } }, large: { connector: file } },
      });
      const key = await multi.put(bytes(1));
      await multi.put(bytes(100));
      const watcher = new MemoryConnector({ segment });
      try {
        await multi.close({ clear: true });
        await multi.close();
        await expect(memory.get(key.key as never)).rejects.toMatchObject({ code: 'CLOSED' });
        await expect(file.put(bytes(1))).rejects.toMatchObject({ code: 'CLOSED' });
        expect(existsSync(file.directory)).toBe(false);
        expect(await watcher.get(key.key as never)).toBeNull();
      } finally {
        await watcher.close();
      }
    });
  });

  describe('under a Store', () => {
    it('store.put, proxy and proxyBatch route by the tags they are given', async () => {
      const multi = new MultiConnector({
        connectors: {
          hot: { connector: new MemoryConnector(), policy: { supersetTags: ['hot'], priority: 1 } },
          cold: { connector: new FileConnector({ directory: freshDir() }) },
        },
      });
      await using store = new Store('multi-store', multi);
      const hotKey = await store.put({ a: 1 }, { tags: ['hot'] });
      const coldKey = await store.put({ a: 2 });
      expect([hotKey.child, coldKey.child]).toEqual(['hot', 'cold']);
      expect(await store.get(hotKey)).toEqual({ a: 1 });
      expect(await store.get(coldKey)).toEqual({ a: 2 });
      const [k1, k2] = await store.putBatch([{ b: 1 }, { b: 2 }], { tags: ['hot'] });
      expect([k1?.child, k2?.child]).toEqual(['hot', 'hot']);

      const p = await store.proxy({ name: 'run' }, { tags: ['hot'] });
      expect(p.name).toBe('run');
      const [q] = await store.proxyBatch([{ name: 'batch' }], { tags: ['hot'] });
      expect(q?.name).toBe('batch');

      // A store re-created from config reads both children (the memory segment is shared in-process).
      const again = Store.fromConfig(store.config());
      try {
        expect(await again.get(hotKey)).toEqual({ a: 1 });
        expect(await again.get(coldKey)).toEqual({ a: 2 });
      } finally {
        await again.close();
      }
      await store.close({ clear: true });
    });
  });
});
