// A MultiConnector over an async-only child still resolves proxies synchronously: its getSync reads that
// child through the sync bridge (whose worker builds only the child, from its config), and a child that
// serves the key itself answers locally instead of through the bridge.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MemoryConnector,
  MultiConnector,
  Store,
  syncBridgeStats,
  toReference,
  type MultiKey,
} from '@proxystore/core';
import { AsyncFileConnector, HttpConnector, serveObjects } from './fixtures/bridge-connectors.mjs';

/** A worker thread starts in well under a second, but CI machines are shared. */
const SLOW = 60_000;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ps-multi-bridge-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('MultiConnector with an async-only child', () => {
  it(
    'a proxy routed to the async-only child resolves on first access, through the sync bridge',
    async () => {
      const multi = new MultiConnector({
        connectors: {
          small: { connector: new MemoryConnector(), policy: { maxSize: 1024, priority: 1 } },
          remote: { connector: new AsyncFileConnector({ directory: join(dir, 'remote') }) },
        },
      });
      await using store = new Store('multi-bridge', multi);
      const before = syncBridgeStats().requests;

      const big = await store.proxy({ name: 'big', values: new Float64Array(10_000).fill(1.5) });
      expect((toReference(big).key as MultiKey).child).toBe('remote');
      expect(big.values.length).toBe(10_000);
      expect(big.values[9_999]).toBe(1.5);
      expect(syncBridgeStats().requests).toBe(before + 1);

      // The memory child reads directly: no bridge.
      const small = await store.proxy({ name: 'small' });
      expect((toReference(small).key as MultiKey).child).toBe('small');
      expect(small.name).toBe('small');
      expect(syncBridgeStats().requests).toBe(before + 1);
      await store.close({ clear: true });
    },
    SLOW,
  );

  it('a child serving the key in this thread answers it locally (getLocal), not via the bridge', async () => {
    const server = await serveObjects();
    try {
      const served = new HttpConnector({ url: server.url });
      const multi = new MultiConnector({ connectors: { served: { connector: served } } });
      await using store = new Store('multi-bridge-local', multi);
      const before = syncBridgeStats().requests;
      const p = await store.proxy({ name: 'served here' });
      expect(p.name).toBe('served here');
      expect(syncBridgeStats().requests).toBe(before);
    } finally {
      await server.close();
    }
  });
});
