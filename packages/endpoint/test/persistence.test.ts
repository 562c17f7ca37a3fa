// An endpoint with a storageDir keeps its objects and its id across a restart (keys minted before still
// name it), and a memory limit there is only a cache: objects past it stay readable from disk.
import { readdirSync } from 'node:fs';
import { EndpointConnector } from '@proxystore/endpoint';
import { describe, expect, it } from 'vitest';
import { KiB, pattern, same, useProcesses } from './endpoints.js';

const processes = useProcesses();

describe('an endpoint with a storageDir', () => {
  it('keeps its objects and its id across a restart', async () => {
    const storageDir = processes.tempDir();
    const first = await processes.start({ name: 'persistent', storageDir });
    const c1 = new EndpointConnector({ address: first.address });
    const frames = [pattern(300 * KiB), pattern(0), pattern(77)];
    const kept = await c1.put(frames);
    const evicted = await c1.put([pattern(5)]);
    await c1.evict(evicted);
    await c1.close();
    expect((await first.stop()).code).toBe(0);
    // Whole objects only: no temp file left behind.
    expect(readdirSync(storageDir).filter((f) => f.startsWith('.tmp-'))).toEqual([]);

    const second = await processes.start({ name: 'persistent', storageDir });
    expect(second.id).toBe(first.id);
    const c2 = new EndpointConnector({ address: second.address });
    try {
      const got = await c2.get(kept);
      expect(got?.map((f) => f.byteLength)).toEqual([300 * KiB, 0, 77]);
      expect(frames.every((f, i) => same(got?.[i], f))).toBe(true);
      expect(await c2.get(evicted)).toBeNull();
      expect((await c2.client.identity()).objects).toBe(1);
    } finally {
      await c2.close();
    }
  });

  it('with a memory limit smaller than its objects still stores and serves them all', async () => {
    const storageDir = processes.tempDir();
    const ep = await processes.start({ storageDir, memoryLimit: 256 * KiB });
    const c = new EndpointConnector({ address: ep.address });
    try {
      const items = [pattern(200 * KiB), pattern(200 * KiB), pattern(300 * KiB)];
      const keys = await c.putBatch(items.map((f) => [f]));
      const got = await c.getBatch(keys);
      expect(got.every((frames, i) => same(frames?.[0], items[i]))).toBe(true);
      const identity = await c.client.identity();
      expect(identity.objects).toBe(3);
      expect(identity.bytesUsed).toBeLessThanOrEqual(256 * KiB);
      expect(identity.persistent).toBe(true);
    } finally {
      await c.close({ clear: true });
    }
  });
});
