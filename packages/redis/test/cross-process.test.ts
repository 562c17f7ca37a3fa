// A proxy backed by Redis, passed by reference to a child process that imports only @proxystore/core,
// resolves there: the child re-creates the store from the reference and loads @proxystore/redis by name,
// and resolves either with resolveAsync or synchronously (Redis has no getSync: core's sync bridge).
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Store, extract, isResolved, syncBridgeStats, toReference } from '@proxystore/core';
import { RedisConnector, type RedisKey } from '@proxystore/redis';
import { describe, expect, it } from 'vitest';
import { useRedisServer } from './servers.js';

const child = fileURLToPath(new URL('./fixtures/resolve-child.mjs', import.meta.url));
const workerScript = fileURLToPath(new URL('./fixtures/resolve-worker.mjs', import.meta.url));
const server = useRedisServer();

type Reply = { ok: true; result: Record<string, unknown> } | { ok: false; error: string };

describe('a Redis-backed proxy passed by reference to a child process', () => {
  it.each([
    ['with await resolveAsync(p)', 'async'],
    ['synchronously on first use (through core\'s sync bridge)', 'sync'],
  ])('resolves there %s, the store re-created from the reference', async (_how, mode) => {
    await using store = new Store(
      `redis-cross-process-${mode}`,
      new RedisConnector({ port: server.current.port, host: server.current.host }),
    );
    const weights = new Float64Array(100_000).map((_, i) => i % 7);
    const sum = weights.reduce((a, b) => a + b, 0);
    const p = await store.proxy({ name: 'run-9', weights });
    const reference = toReference(p);
    expect(Buffer.byteLength(JSON.stringify(reference))).toBeLessThan(1024);

    const proc = fork(child, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const exited = once(proc, 'exit');
    const replied = once(proc, 'message') as Promise<[Reply]>;
    proc.send({ reference, mode });
    const [reply] = await Promise.race([
      replied,
      exited.then(([code]) => {
        throw new Error(`child exited with ${String(code)} before replying`);
      }),
    ]);
    if (!reply.ok) throw new Error(`child failed: ${reply.error}`);
    expect(reply.result).toEqual({ resolvedBefore: false, name: 'run-9', length: 100_000, sum });
    expect(isResolved(p)).toBe(false);
    await exited;
  });
});

describe('a Redis-backed proxy resolved synchronously through the sync bridge', () => {
  async function storedRun(name: string) {
    const store = new Store(name, new RedisConnector({ port: server.current.port, host: server.current.host }));
    const weights = new Float64Array(50_000).map((_, i) => i % 5);
    const sum = weights.reduce((a, b) => a + b, 0);
    const p = await store.proxy({ name: 'run-10', weights });
    return { store, p, sum };
  }

  it('in this thread, on first use, with no await', async () => {
    const { store, p, sum } = await storedRun('redis-sync-main');
    try {
      expect(isResolved(p)).toBe(false);
      const fresh = store.proxyFromKey<{ name: string; weights: Float64Array }>(toReference(p).key as RedisKey);
      const requests = syncBridgeStats().requests;
      expect(fresh.weights.length).toBe(50_000);
      expect(syncBridgeStats().requests).toBe(requests + 1);
      expect(isResolved(fresh)).toBe(true);
      let total = 0;
      for (const x of extract(fresh).weights) total += x;
      expect(total).toBe(sum);
    } finally {
      await store.close({ clear: true });
    }
  });

  it('in a worker thread that revives the reference', async () => {
    const { store, p, sum } = await storedRun('redis-sync-worker');
    const worker = new Worker(workerScript, { workerData: { reference: toReference(p) } });
    try {
      const [result] = (await Promise.race([
        once(worker, 'message'),
        once(worker, 'error').then(([err]) => {
          throw err;
        }),
      ])) as [unknown];
      expect(result).toEqual({ resolvedBefore: false, name: 'run-10', length: 50_000, sum });
    } finally {
      await worker.terminate();
      await store.close({ clear: true });
    }
  });
});
