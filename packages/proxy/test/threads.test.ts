// Synchronous resolution must work wherever user code runs, not only on the main thread. The fixture is
// plain JS that imports the built package, as a consumer would.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/resolve-in-thread.mjs', import.meta.url));
const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));

const expected = {
  isProxy: true,
  before: { calls: 0, resolved: false },
  sum: 10,
  label: 'from-fixture',
  calls: 1,
  resolved: true,
  resolvedBeforeAnyMicrotask: true,
};

describe('synchronous resolution off the main thread', () => {
  beforeAll(() => {
    if (!existsSync(dist)) throw new Error('Build first: npx tsc -p packages/proxy/tsconfig.json');
  });

  it('resolves lazily and synchronously inside a worker thread', async () => {
    const worker = new Worker(fixture);
    const report = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(report).toEqual({ where: 'worker', ...expected });
  });

  it('resolves lazily and synchronously inside a child process', () => {
    const out = execFileSync(process.execPath, [fixture], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ where: 'process', ...expected });
  });
});
