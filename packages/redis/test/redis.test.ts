// RedisConnector against one real redis-server: the key layout, chunking of large frames, futures,
// close({ clear }) leaving other clients' keys alone, options and config, ACL users, and failures (server
// killed or frozen mid-get, then back) as typed errors within a bounded time.
import { randomFillSync } from 'node:crypto';
import { ConfigError, ConnectorError, Store, connectorFromConfig, resolveAsync } from '@proxystore/core';
import { RedisConnector, RedisErrorCode, type RedisKey } from '@proxystore/redis';
import { packFrames } from '@proxystore/serialize';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisTestServer, eventually, useRedisServer } from './servers.js';

const server = useRedisServer();
let raw: Redis;
const opened: RedisConnector[] = [];

function connector(options: ConstructorParameters<typeof RedisConnector>[0] = {}): RedisConnector {
  const c = new RedisConnector({ host: server.current.host, port: server.current.port, ...options });
  opened.push(c);
  return c;
}

function bytes(size: number): Uint8Array {
  return randomFillSync(new Uint8Array(size));
}

function joined(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
}

beforeAll(() => {
  raw = new Redis({ host: server.current.host, port: server.current.port, lazyConnect: false });
});
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
});
afterAll(async () => {
  raw.disconnect();
});

describe('key layout', () => {
  it('stores an object as one list under <namespace>:{<id>}, the packed frames split into elements', async () => {
    const c = connector();
    const frames = [bytes(100), bytes(0), bytes(3000)];
    const key = await c.put(frames);
    expect(key).toEqual({ kind: 'redis', id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const name = `proxystore:{${key.id}}`;
    expect(await raw.type(name)).toBe('list');
    const elements = await raw.lrangeBuffer(name, 0, -1);
    expect(joined(elements).equals(joined(packFrames(frames)))).toBe(true);
  });

  it('puts keys under the namespace option', async () => {
    const c = connector({ namespace: 'team-a:run7' });
    const key = await c.put([bytes(10)]);
    expect(await raw.exists(`team-a:run7:{${key.id}}`)).toBe(1);
    expect(await raw.exists(`proxystore:{${key.id}}`)).toBe(0);
    // Another namespace does not see it.
    expect(await connector({ namespace: 'team-b' }).get(key)).toBeNull();
  });

  it('rejects an id that would break the key name (braces, separators) with INVALID_KEY', async () => {
    const c = connector();
    const key = { kind: 'redis', id: 'a}{b' } as RedisKey;
    await expect(c.get(key)).rejects.toMatchObject({ code: 'INVALID_KEY' });
  });

  it('a key holding something else is a typed error, not garbage', async () => {
    const c = connector();
    const key = await c.newKey();
    await raw.set(`proxystore:{${key.id}}`, 'not a list');
    await expect(c.get(key)).rejects.toMatchObject({ code: RedisErrorCode.CORRUPT_OBJECT });
    await raw.del(`proxystore:{${key.id}}`);
    await raw.rpush(`proxystore:{${key.id}}`, 'not packed frames at all, but a list');
    await expect(c.get(key)).rejects.toMatchObject({ code: RedisErrorCode.CORRUPT_OBJECT });
  });
});

describe('large frames', () => {
  it('splits a frame larger than maxElementBytes over several elements and joins it back', async () => {
    const c = connector({ maxElementBytes: 1024 });
    const frames = [bytes(10_000), bytes(1024), bytes(5), bytes(4097)];
    const key = await c.put(frames);
    const elements = await raw.lrangeBuffer(`proxystore:{${key.id}}`, 0, -1);
    expect(elements.length).toBeGreaterThan(15);
    for (const e of elements) expect(e.byteLength).toBeLessThanOrEqual(1024);
    const got = await c.get(key);
    expect(got?.map((f) => Buffer.from(f).toString('hex'))).toEqual(frames.map((f) => Buffer.from(f).toString('hex')));
    // Every frame is 64-byte aligned in memory the caller owns, so typed arrays can view it.
    for (const f of got ?? []) expect(f.byteOffset % 64).toBe(0);
  });

  it('set with chunked frames replaces the object atomically and leaves no temp key', async () => {
    const c = connector({ maxElementBytes: 512 });
    const key = await c.newKey();
    await c.set(key, [bytes(2000)]);
    const second = [bytes(3000), bytes(7)];
    await c.set(key, second);
    const got = await c.get(key);
    expect(got?.map((f) => f.byteLength)).toEqual([3000, 7]);
    expect(Buffer.from(got?.[0] ?? []).equals(Buffer.from(second[0] as Uint8Array))).toBe(true);
    expect(await raw.exists(`proxystore:{${key.id}}:tmp`)).toBe(0);
  });
});

describe('close({ clear })', () => {
  it("removes this connector's objects and nothing else", async () => {
    const mine = connector();
    const other = connector();
    const keys = await mine.putBatch([[bytes(10)], [bytes(20)], []]);
    const evicted = await mine.put([bytes(5)]);
    await mine.evict(evicted);
    const theirs = await other.put([bytes(30)]);
    await raw.set('someone-else', 'keep me');
    await raw.rpush('proxystore:not-ours', 'keep me too');

    await mine.close({ clear: true });
    for (const key of keys) expect(await other.exists(key)).toBe(false);
    expect(await other.exists(theirs)).toBe(true);
    expect(await raw.get('someone-else')).toBe('keep me');
    expect(await raw.lrange('proxystore:not-ours', 0, -1)).toEqual(['keep me too']);
    await raw.del('someone-else', 'proxystore:not-ours');
  });

  it('a revived connector (same config) clears only what it put itself', async () => {
    const first = connector();
    const key = await first.put([bytes(8)]);
    const second = connectorFromConfig(first.config());
    const secondKey = await second.put([bytes(8)]);
    await second.close({ clear: true });
    expect(await first.exists(key)).toBe(true);
    expect(await first.exists(secondKey as RedisKey)).toBe(false);
  });
});

describe('options and config', () => {
  it('config() is JSON naming the package, with every option a revived connector needs', () => {
    const c = connector({ namespace: 'ns1', timeoutMs: 5000, db: 3 });
    const config = c.config();
    expect(JSON.parse(JSON.stringify(config))).toEqual(config);
    expect(config).toEqual({
      kind: 'redis',
      package: '@proxystore/redis',
      options: {
        host: server.current.host,
        port: server.current.port,
        db: 3,
        namespace: 'ns1',
        timeoutMs: 5000,
        maxElementBytes: 512 * 1024 * 1024,
      },
    });
  });

  it('connects by url (redis://host:port/db) and writes to that database', async () => {
    const c = new RedisConnector({ url: `${server.current.url}/4` });
    opened.push(c);
    const key = await c.put([bytes(10)]);
    const db4 = new Redis({ host: server.current.host, port: server.current.port, db: 4 });
    try {
      expect(await db4.exists(`proxystore:{${key.id}}`)).toBe(1);
      expect(await raw.exists(`proxystore:{${key.id}}`)).toBe(0);
    } finally {
      db4.disconnect();
    }
  });

  it.each([
    ['a port that is not a port', { port: 70000 }],
    ['a non-numeric port', { port: '6379' }],
    ['an http url', { url: 'http://localhost:6379' }],
    ['a url that does not parse', { url: 'not a url' }],
    ['url and host together', { url: 'redis://localhost', host: 'localhost' }],
    ['cluster with a host', { cluster: { nodes: [{ host: 'a', port: 1 }] }, host: 'b' }],
    ['cluster with no nodes', { cluster: { nodes: [] } }],
    ['cluster with db 1', { cluster: { nodes: [{ host: 'a', port: 1 }] }, db: 1 }],
    ['a namespace with a brace', { namespace: 'a{b' }],
    ['a negative timeout', { timeoutMs: -1 }],
    ['an element limit above 512 MiB', { maxElementBytes: 2 ** 30 }],
    ['an unknown option', { timeout: 5 }],
    ['an unknown TLS option', { tls: { cafile: '/x' } }],
    ['a TLS file that does not exist', { tls: { caFile: '/nonexistent/ca.pem' } }],
  ])('rejects %s with ConfigError', (_what, options) => {
    expect(() => new RedisConnector(options as never)).toThrow(ConfigError);
    expect(() => RedisConnector.fromConfig(options as never)).toThrow(expect.objectContaining({ code: 'CONFIG_ERROR' }));
  });
});

describe('ACL users', () => {
  const acl = useRedisServer({ args: ['--user', 'alice', 'on', '>s3cret', '~*', '+@all', '--user', 'default', 'off'] });

  it('authenticates with username and password', async () => {
    const c = new RedisConnector({ port: acl.current.port, host: acl.current.host, username: 'alice', password: 's3cret' });
    opened.push(c);
    const key = await c.put([bytes(10)]);
    expect((await c.get(key))?.[0]?.byteLength).toBe(10);
    // The revived connector authenticates the same way.
    const revived = connectorFromConfig(c.config());
    expect(await revived.exists(key)).toBe(true);
    await revived.close();
  });

  it('a wrong password is REDIS_AUTH, not a hang', async () => {
    const c = new RedisConnector({
      port: acl.current.port,
      host: acl.current.host,
      username: 'alice',
      password: 'wrong',
      timeoutMs: 500,
    });
    opened.push(c);
    const err = await c.put([bytes(1)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err).toMatchObject({ code: RedisErrorCode.AUTH });
  });
});

describe('failures', () => {
  it('a get in flight when the server is killed fails with REDIS_UNAVAILABLE; the same connector works once it is back', async () => {
    const own = await RedisTestServer.start();
    try {
      // A long watchdog: the failure must come from the dropped connection, not from the timer.
      const c = new RedisConnector({ host: own.host, port: own.port, timeoutMs: 60_000 });
      opened.push(c);
      const key = await c.put([bytes(1000)]);
      own.pause(); // the get is sent but not answered...
      const pending = c.get(key).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 50));
      await own.kill(); // ...when the server dies
      const err = await pending;
      expect(err).toBeInstanceOf(ConnectorError);
      expect(err).toMatchObject({ code: RedisErrorCode.UNAVAILABLE });
      expect((err as ConnectorError).cause).toBeDefined();

      // While it is down, calls fail the same way instead of hanging.
      await expect(c.exists(key)).rejects.toMatchObject({ code: RedisErrorCode.UNAVAILABLE });

      await own.restart(); // same port, empty
      const again = await eventually(() => c.put([bytes(64)]));
      expect((await c.get(again))?.[0]?.byteLength).toBe(64);
      expect(await c.get(key)).toBeNull(); // the old server's data died with it
    } finally {
      await own.stop();
    }
  });

  it('a frozen server makes a call fail with REDIS_TIMEOUT after timeoutMs; it recovers when the server does', async () => {
    const own = await RedisTestServer.start();
    try {
      const c = new RedisConnector({ host: own.host, port: own.port, timeoutMs: 300 });
      opened.push(c);
      const key = await c.put([bytes(100)]);
      own.pause();
      await expect(c.get(key)).rejects.toMatchObject({ code: RedisErrorCode.TIMEOUT });
      own.resume();
      expect((await c.get(key))?.[0]?.byteLength).toBe(100);
    } finally {
      own.resume();
      await own.stop();
    }
  });

  it('an abort during a call rejects with the signal reason at once and leaves no object', async () => {
    const own = await RedisTestServer.start();
    try {
      const c = new RedisConnector({ host: own.host, port: own.port });
      opened.push(c);
      await c.put([bytes(1)]); // connected
      own.pause();
      const controller = new AbortController();
      const reason = new Error('user gave up');
      const pending = c.put([bytes(100)], { signal: controller.signal });
      controller.abort(reason);
      await expect(pending).rejects.toBe(reason);
      own.resume();
      // The abandoned put was undone behind it: only the first object is left.
      await eventually(async () => expect(await c.client.dbsize()).toBe(1));
    } finally {
      own.resume();
      await own.stop();
    }
  });

  it('with no server at all, calls fail with REDIS_UNAVAILABLE within the timeout', async () => {
    const gone = await RedisTestServer.start();
    const port = gone.port;
    await gone.stop();
    const c = new RedisConnector({ host: '127.0.0.1', port, timeoutMs: 1000 });
    opened.push(c);
    await expect(c.put([bytes(1)])).rejects.toMatchObject({ code: RedisErrorCode.UNAVAILABLE });
  });
});

describe('with a Store', () => {
  it('round-trips values and proxies', async () => {
    await using store = new Store('redis-store-test', connector());
    const value = { name: 'run', weights: new Float64Array([1, 2, 3]), tags: new Map([['a', 1]]) };
    const key = await store.put(value);
    expect(await store.get(key)).toEqual(value);
    // No getSync on Redis: a proxy resolves with resolveAsync here (the sync bridge is core's business).
    const p = await store.proxy(value);
    await resolveAsync(p);
    expect(p.weights[2]).toBe(3);
  });
});
