// The UCX transport beyond one main thread: a worker thread with its own connector, a process without
// the addon (PROXYSTORE_UCX_DISABLE=1), and the addon's own test driver.
// UCX reads UCX_TLS at the first use of the addon, which no import triggers: set here, before any test.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { UcxConnector, type UcxKey } from '@proxystore/ucx';
import { UcxChild, ucxSkipReason } from '@proxystore/ucx/testing';
import { describe, expect, it } from 'vitest';
import { sha256 } from './suite.js';

process.env.UCX_TLS = 'tcp';

const skip = ucxSkipReason();
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('the UCX transport in other environments', () => {
  it.skipIf(skip !== undefined)('a worker thread uses its own connector, reading and serving over UCX', async () => {
    const owner = await UcxChild.start({ tls: 'tcp' });
    const main = new UcxConnector({ timeoutMs: 15_000 });
    try {
      const { key, sha256: digest } = await owner.put([[2 * 1024 * 1024 + 5, 8]]);
      const worker = new Worker(new URL('./fixtures/worker.mjs', import.meta.url), { workerData: { key } });
      const exited = once(worker, 'exit');
      const [reply] = (await Promise.race([once(worker, 'message'), exited.then(() => [null])])) as [
        { get: string; getSync: string; key: UcxKey; mine: string } | null,
      ];
      expect(reply).not.toBeNull();
      expect(reply?.get).toBe(digest);
      expect(reply?.getSync).toBe(digest);
      // The worker's own server answers the main thread over UCX (another UCX worker, same process).
      const theirs = await main.get(reply!.key);
      expect(sha256(theirs ?? [])).toBe(reply?.mine);
      expect(await main.exists(reply!.key)).toBe(true);
      worker.postMessage('done');
      const [code] = (await exited) as [number];
      expect(code).toBe(0);
    } finally {
      await main.close();
      await owner.stop();
    }
  });

  it('without the addon: the package imports, and UCX calls fail with UCX_NOT_AVAILABLE and what to install', async () => {
    const child = await UcxChild.start({ env: { PROXYSTORE_UCX_DISABLE: '1' } });
    const local = skip === undefined ? new UcxConnector() : null;
    try {
      expect(child.errorMode).toBeDefined();
      const put = await child.put([[10, 1]]).then(
        () => null,
        (err: { code?: string; message: string }) => err,
      );
      expect(put?.code).toBe('UCX_NOT_AVAILABLE');
      expect(put?.message).toMatch(/apt-get install libucx-dev/);
      if (local !== null) {
        // A key from a process with UCX: reading it needs UCX; asking about it needs only the control plane.
        const key = await local.put([new Uint8Array(10)]);
        const get = await child.get(key).then(
          () => null,
          (err: { code?: string; message: string }) => err,
        );
        expect(get?.code).toBe('UCX_NOT_AVAILABLE');
        expect(get?.message).toMatch(/libucx-dev/);
      }
    } finally {
      await local?.close();
      await child.stop();
    }
  });

  it.skipIf(skip !== undefined)("the addon's own driver (native/ucx/test/run.mjs) ends with 0 failed", async () => {
    const env = { ...process.env };
    delete env.UCX_TLS;
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, ['native/ucx/test/run.mjs'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(out.trim().split('\n').at(-1), out).toMatch(/ 0 failed$/);
    expect(code).toBe(0);
  }, 120_000);
});
