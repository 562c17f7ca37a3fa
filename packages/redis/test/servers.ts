// Server management for this package's tests: one redis-server or a 3-master cluster per test file,
// started before its tests and killed after. The launcher itself is `@proxystore/redis/testing`, which
// the benchmark suite uses too.
import { afterAll, beforeAll } from 'vitest';
import { RedisTestCluster, RedisTestServer, type RedisTestServerOptions } from '@proxystore/redis/testing';

export { RedisTestCluster, RedisTestServer, redisCommand } from '@proxystore/redis/testing';

/** A redis-server for the tests of this file; read `.current` inside tests and hooks. */
export function useRedisServer(options: RedisTestServerOptions = {}): { readonly current: RedisTestServer } {
  let server: RedisTestServer | undefined;
  beforeAll(async () => {
    server = await RedisTestServer.start(options);
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get current(): RedisTestServer {
      if (server === undefined) throw new Error('redis-server not started (read it inside a test or hook)');
      return server;
    },
  };
}

/** A 3-master Redis Cluster for the tests of this file. */
export function useRedisCluster(): { readonly current: RedisTestCluster } {
  let cluster: RedisTestCluster | undefined;
  beforeAll(async () => {
    cluster = await RedisTestCluster.start({ masters: 3 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  return {
    get current(): RedisTestCluster {
      if (cluster === undefined) throw new Error('Redis Cluster not started (read it inside a test or hook)');
      return cluster;
    },
  };
}

/** Retries `fn` until it resolves or `timeoutMs` passes (a reconnecting client needs a moment). */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (performance.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
