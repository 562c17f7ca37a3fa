// RedisConnector against a real 3-master Redis Cluster: objects spread over the slots of every master,
// multi-element objects and atomic replacement work within one slot (hash tag), close({ clear }) spares
// other keys.
import { randomFillSync } from 'node:crypto';
import { RedisConnector } from '@proxystore/redis';
import { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, redisCommand, useRedisCluster } from './servers.js';

const cluster = useRedisCluster();
let raw: Cluster;
const opened: RedisConnector[] = [];

function connector(options: Partial<ConstructorParameters<typeof RedisConnector>[0]> = {}): RedisConnector {
  const c = new RedisConnector({ cluster: { nodes: cluster.current.nodes }, ...options });
  opened.push(c);
  return c;
}

function bytes(size: number): Uint8Array {
  return randomFillSync(new Uint8Array(size));
}

beforeAll(() => {
  raw = new Cluster(cluster.current.nodes);
});
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
});
afterAll(async () => {
  raw.disconnect();
});

describe('RedisConnector on a Redis Cluster', () => {
  it('spreads objects over the slots of every master', async () => {
    const c = connector({ namespace: 'spread' });
    const keys = await c.putBatch(Array.from({ length: 60 }, () => [bytes(16)]));
    const perNode = await Promise.all(
      cluster.current.servers.map(async (s) => Number(await redisCommand(s.port, ['DBSIZE']).catch(() => '0'))),
    );
    expect(perNode.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(60);
    expect(perNode.filter((n) => n > 0).length).toBe(3);
    const got = await c.getBatch(keys);
    expect(got.every((frames) => frames?.[0]?.byteLength === 16)).toBe(true);
  });

  it('keeps a chunked object and its temp key in one slot, so set (RENAME) works', async () => {
    const c = connector({ maxElementBytes: 256 });
    const key = await c.newKey();
    await c.set(key, [bytes(5000)]);
    await c.set(key, [bytes(3000), bytes(1)]);
    expect((await c.get(key))?.map((f) => f.byteLength)).toEqual([3000, 1]);
  });

  it("close({ clear }) removes this connector's objects only", async () => {
    const mine = connector();
    const other = connector();
    const keys = await mine.putBatch(Array.from({ length: 20 }, () => [bytes(8)]));
    const theirs = await other.put([bytes(8)]);
    await raw.set('someone-else', 'keep me');
    await mine.close({ clear: true });
    expect(await Promise.all(keys.map((k) => other.exists(k)))).toEqual(keys.map(() => false));
    expect(await other.exists(theirs)).toBe(true);
    expect(await raw.get('someone-else')).toBe('keep me');
    await raw.del('someone-else');
  });

  // Last in the file: it kills and restarts a master of the shared cluster.
  it('a master killed during a batch get is REDIS_UNAVAILABLE; the same connector works once it is back', async () => {
    const c = connector({ timeoutMs: 5000 });
    const keys = await c.putBatch(Array.from({ length: 30 }, () => [bytes(100)]));
    const victim = cluster.current.servers[1];
    if (victim === undefined) throw new Error('no second master');
    victim.pause();
    const pending = c.getBatch(keys).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    await victim.kill();
    expect(await pending).toMatchObject({ code: 'REDIS_UNAVAILABLE' });

    await victim.restart(); // same port and cluster config: it rejoins with its slots, empty
    await cluster.current.waitUntilOk();
    const key = await eventually(() => c.put([bytes(5)]));
    expect((await c.get(key))?.[0]?.byteLength).toBe(5);
    // Objects on the other masters survived; the restarted one lost its own.
    const got = await c.getBatch(keys);
    expect(got.filter((frames) => frames !== null).length).toBeGreaterThan(0);
    expect(got.filter((frames) => frames === null).length).toBeGreaterThan(0);
  });
});
