// The sync bridge end to end, with real worker threads and child processes: proxies of async-only
// connectors resolve synchronously on first access in this thread, in a worker thread and in a child
// process; frames arrive by transfer; errors keep their class and code; reads are bounded in time; a
// crashed bridge worker is replaced; a key this thread serves is answered locally instead of deadlocking.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeRun } from './run-fixture.js';
import {
  ClosedError,
  ConfigError,
  ConnectorError,
  ProxyResolveMissingKeyError,
  Store,
  getSyncBridgeOptions,
  isResolved,
  setSyncBridgeOptions,
  stopSyncBridge,
  syncBridgeGet,
  syncBridgeStats,
  toReference,
  type Key,
} from '@proxystore/core';
import {
  AsyncFileConnector,
  FaultConnector,
  HttpConnector,
  HttpRemoteConnector,
  serveObjects,
} from './fixtures/bridge-connectors.mjs';

const consumer = fileURLToPath(new URL('./fixtures/consumer.mjs', import.meta.url));
const shortLived = fileURLToPath(new URL('./fixtures/bridge-consumer.mjs', import.meta.url));
/** Generous: a worker thread or a child process starts in well under a second, but CI machines are shared. */
const SLOW = 60_000;

const faults = new FaultConnector();
const faultKey = (id: string): Key => ({ kind: 'test-faults', id });
const readFault = (id: string, timeoutMs?: number) =>
  syncBridgeGet(faults.config(), faultKey(id), timeoutMs === undefined ? {} : { timeoutMs });

/** What `fn` throws (failing the test when it returns). */
function thrown(fn: () => unknown): Error & { code?: string; cause?: unknown } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

let dir: string;
let store: Store;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ps-bridge-'));
  store = new Store('sync-bridge', new AsyncFileConnector({ directory: dir }));
});
afterAll(async () => {
  await store.close({ clear: true });
  await stopSyncBridge();
  rmSync(dir, { recursive: true, force: true });
});

describe('a proxy of an async-only connector', () => {
  it('resolves synchronously on first access in this thread, through the bridge', async () => {
    expect(store.connector.getSync).toBeUndefined();
    const { run, sum } = makeRun(100_000);
    const p = await store.proxy(run);
    const before = syncBridgeStats().requests;
    expect(isResolved(p)).toBe(false);
    expect(p.name).toBe('run-7');
    expect(isResolved(p)).toBe(true);
    let total = 0;
    for (const w of p.weights) total += w;
    expect(total).toBe(sum);
    expect(p.tags.get('a')).toBe(1);
    expect(syncBridgeStats()).toMatchObject({ running: true, requests: before + 1 });
  });

  it('resolves in a worker thread that receives only its reference', async () => {
    const { run, sum } = makeRun(200_000);
    const reference = toReference(await store.proxy(run));
    const worker = new Worker(consumer);
    try {
      const reply = await new Promise<{ ok: boolean; result?: unknown; error?: string }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.postMessage({ type: 'reference', reference });
      });
      expect(reply).toEqual({
        ok: true,
        result: { resolvedBefore: false, name: 'run-7', length: 200_000, sum, tag: 1, resolvedAfter: true },
      });
    } finally {
      await worker.terminate();
    }
  }, SLOW);

  it('resolves in a worker thread that then ends by itself, bridge and all', async () => {
    const { run, sum } = makeRun(1_000);
    const reference = toReference(await store.proxy(run));
    const worker = new Worker(shortLived, { workerData: { reference } });
    const messages: unknown[] = [];
    worker.on('message', (m) => messages.push(m));
    const code = await new Promise((resolve, reject) => {
      worker.once('error', reject);
      worker.once('exit', resolve);
    });
    expect(code).toBe(0);
    expect(messages).toEqual([
      {
        resolvedBefore: false,
        name: 'run-7',
        length: 1_000,
        sum,
        resolvedAfter: true,
        bridge: { running: true, requests: 1 },
      },
    ]);
  }, SLOW);

  it('resolves in a child process that exits by itself, and its evict-on-use completes first', async () => {
    const { run, sum } = makeRun(300_000);
    const p = await store.proxy(run, { evict: true });
    const reference = toReference(p);
    const child = spawn(process.execPath, [shortLived, JSON.stringify(reference)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    // No kill: the child must end on its own; the test's timeout catches a child kept alive.
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual({
      resolvedBefore: false,
      name: 'run-7',
      length: 300_000,
      sum,
      resolvedAfter: true,
      bridge: { running: true, requests: 1 },
    });
    expect(await store.exists(reference.key)).toBe(false);
  }, SLOW);

  it('resolves in a child started with --input-type=module (node -e), whose flag the worker must not inherit', async () => {
    const { run, sum } = makeRun(1_000);
    const reference = toReference(await store.proxy(run));
    const code = `await import(${JSON.stringify(pathToFileURL(shortLived).href)});`;
    // With -e, argv[1] is the first argument after the code: a placeholder keeps the reference at argv[2].
    const child = spawn(process.execPath, ['--input-type=module', '-e', code, '--', 'placeholder', JSON.stringify(reference)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exit = await new Promise((resolve) => child.once('exit', resolve));
    expect(exit).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ resolvedBefore: false, length: 1_000, sum, resolvedAfter: true });
  }, SLOW);

  it('is evicted in the background after a synchronous resolution with evict-on-use', async () => {
    const p = await store.proxy({ name: 'once' }, { evict: true });
    const { key } = toReference(p);
    expect(p.name).toBe('once');
    await vi.waitFor(async () => expect(await store.exists(key)).toBe(false));
  });

  it('reports a missing object as ProxyResolveMissingKeyError, and getSync as undefined', async () => {
    const p = await store.proxy({ name: 'soon gone' });
    const { key } = toReference(p);
    await store.evict(key);
    expect(store.getSync(key)).toBeUndefined();
    const err = thrown(() => (p as { name: string }).name);
    expect(err).toBeInstanceOf(ProxyResolveMissingKeyError);
    expect(err.code).toBe('PROXY_RESOLVE_MISSING_KEY');
  });
});

describe('frames through the bridge', () => {
  it('arrive by transfer: the frame owns its whole buffer, and the worker side is detached', () => {
    const size = 4 * 1024 * 1024;
    const frames = readFault(`bytes:${size}`);
    expect(frames).toHaveLength(1);
    const [frame] = frames as [Uint8Array];
    expect(frame.byteLength).toBe(size);
    expect(frame.byteOffset).toBe(0);
    expect(frame.buffer.byteLength).toBe(size);
    expect(frame[1]).toBe(7);
    expect(frame[size - 1]).toBe(((size - 1) * 7) & 255);
    // The connector in the worker kept a reference to what it returned: transferring detached it.
    expect(readFault('last-detached')).toEqual([Uint8Array.of(1)]);
  });

  it('that share one owned buffer arrive as views over one transferred buffer', () => {
    const [a, b] = readFault('split:100000') as [Uint8Array, Uint8Array];
    expect(a.byteLength).toBe(100_000);
    expect(b.byteLength).toBe(100_000);
    expect(a.buffer).toBe(b.buffer);
    expect(a.buffer.byteLength).toBe(200_000);
    expect(b[0]).toBe((100_000 * 7) & 255);
  });

  it('over a slice of Buffer’s shared pool are copied once in the worker: the pool never crosses', () => {
    const [frame] = readFault('pooled') as [Uint8Array];
    expect(Buffer.from(frame).toString()).toBe('abc');
    expect(frame.buffer.byteLength).toBe(3);
  });

  it('null for a missing key', () => {
    expect(readFault('missing')).toBeNull();
  });
});

describe('errors across the bridge', () => {
  const faultStore = new Store('sync-bridge-faults', faults);

  it('keep the class, code, message and cause chain of a ConnectorError', () => {
    const err = thrown(() => faultStore.getSync(faultKey('connector-error')));
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.code).toBe('TEST_DISK_ON_FIRE');
    expect(err.message).toBe('disk on fire');
    const cause = err.cause as Error & { code?: string; errno?: number; syscall?: string; cause?: unknown };
    expect(cause).toBeInstanceOf(Error);
    expect(cause.message).toBe('ENOENT: no such file or directory');
    expect(cause).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open', cause: 'the root of it' });
    expect(err.stack).toContain('in the sync bridge worker');
  });

  it('keep ClosedError', () => {
    const err = thrown(() => faultStore.getSync(faultKey('closed')));
    expect(err).toBeInstanceOf(ClosedError);
    expect(err).toMatchObject({ code: 'CLOSED', message: 'FaultConnector is closed' });
  });

  it('turn anything else into ConnectorError SYNC_BRIDGE_REMOTE_ERROR with the original message and cause', () => {
    const err = thrown(() => faultStore.getSync(faultKey('type-error')));
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err).toMatchObject({ code: 'SYNC_BRIDGE_REMOTE_ERROR', message: 'not a frame' });
    expect(err.cause).toBeInstanceOf(TypeError);
    expect((err.cause as Error).message).toBe('not a frame');

    const str = thrown(() => faultStore.getSync(faultKey('throw-string')));
    expect(str).toMatchObject({ code: 'SYNC_BRIDGE_REMOTE_ERROR', message: 'a bare string' });
  });

  it('say SYNC_UNSUPPORTED when the bridge cannot build the connector from its config', () => {
    const config = { kind: 'test-nowhere', package: '@proxystore/no-such-package', options: {} };
    const err = thrown(() => syncBridgeGet(config, { kind: 'test-nowhere', id: 'x' }));
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.code).toBe('SYNC_UNSUPPORTED');
    expect(err.cause).toBeInstanceOf(ConfigError);
    expect((err.cause as ConfigError).code).toBe('UNKNOWN_CONNECTOR');
  });
});

describe('bounded waits', () => {
  it('time out with SYNC_TIMEOUT, and the late reply is dropped by a later read', { timeout: SLOW }, async () => {
    readFault('bytes:1'); // the bridge is up, so the short timeout measures the read alone
    const late = syncBridgeStats().lateReplies;
    const start = performance.now();
    const err = thrown(() => readFault('slow:400', 100));
    const elapsed = performance.now() - start;
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.code).toBe('SYNC_TIMEOUT');
    expect(elapsed).toBeGreaterThanOrEqual(90);
    expect(elapsed).toBeLessThan(10_000);
    // The worker answers ~400 ms in; the next read after that finds the stale reply and drops it.
    await vi.waitFor(
      () => {
        expect(readFault('bytes:1')).toHaveLength(1);
        expect(syncBridgeStats().lateReplies).toBe(late + 1);
      },
      { timeout: 20_000, interval: 200 },
    );
  });

  it('follow the store’s syncTimeoutMs, then the thread-wide setSyncBridgeOptions', () => {
    const timed = new Store('sync-bridge-timeout', faults, { syncTimeoutMs: 50 });
    expect(thrown(() => timed.getSync(faultKey('hang'))).code).toBe('SYNC_TIMEOUT');
    const previous = getSyncBridgeOptions();
    try {
      setSyncBridgeOptions({ timeoutMs: 50 });
      expect(getSyncBridgeOptions().timeoutMs).toBe(50);
      const plain = new Store('sync-bridge-default', faults);
      expect(thrown(() => plain.getSync(faultKey('hang'))).code).toBe('SYNC_TIMEOUT');
    } finally {
      setSyncBridgeOptions(previous);
    }
    expect(() => setSyncBridgeOptions({ timeoutMs: -1 })).toThrow(ConfigError);
    expect(() => setSyncBridgeOptions({ timeoutMs: Number.POSITIVE_INFINITY })).toThrow(ConfigError);
    expect(() => new Store('sync-bridge-bad', faults, { syncTimeoutMs: 0 })).toThrow(ConfigError);
  });
});

describe('a crashed bridge worker', () => {
  it.each([
    ['an uncaught error', 'crash', 'bridge worker crash'],
    ['process.exit', 'exit:7', undefined],
  ])('(%s) fails the read with SYNC_BRIDGE_FAILED, and the next read starts a fresh worker', (_how, id, causeMessage) => {
    readFault('bytes:1');
    const before = syncBridgeStats();
    const err = thrown(() => readFault(id));
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.code).toBe('SYNC_BRIDGE_FAILED');
    if (causeMessage !== undefined) expect((err.cause as Error).message).toBe(causeMessage);
    else expect(err.message).toContain('exit code 7');
    expect(readFault('bytes:3')).toHaveLength(1);
    const after = syncBridgeStats();
    expect(after.started).toBe(before.started + 1);
    expect(after.failures).toBe(before.failures + 1);
    expect(after.threadId).not.toBe(before.threadId);
  }, SLOW);
});

describe('a process that also serves the data', () => {
  it('answers its own keys locally (getLocal), although its event loop is blocked', async () => {
    const server = await serveObjects();
    const local = new Store('sync-bridge-http', new HttpConnector({ url: server.url }));
    try {
      const p = await local.proxy({ name: 'served here', values: new Float64Array([1, 2, 3]) });
      const requests = syncBridgeStats().requests;
      expect(p.name).toBe('served here');
      expect(Array.from(p.values)).toEqual([1, 2, 3]);
      expect(syncBridgeStats().requests).toBe(requests);
    } finally {
      await local.close();
      await server.close();
    }
  });

  it('without getLocal, times out with SYNC_TIMEOUT instead of hanging', async () => {
    const server = await serveObjects();
    const remoteOnly = new Store('sync-bridge-http-remote', new HttpRemoteConnector({ url: server.url }), {
      syncTimeoutMs: 300,
    });
    try {
      const key = await remoteOnly.put({ name: 'served here' });
      // Another thread reads it over HTTP: the server answers while this thread's loop runs.
      readFault('bytes:1');
      const start = performance.now();
      const err = thrown(() => remoteOnly.getSync(key));
      expect(err).toBeInstanceOf(ConnectorError);
      expect(err.code).toBe('SYNC_TIMEOUT');
      expect(err.message).toContain('getLocal');
      expect(performance.now() - start).toBeLessThan(10_000);
      // Once this thread's loop runs again the server answers: async reads still work.
      expect(await remoteOnly.get(key)).toEqual({ name: 'served here' });
    } finally {
      await remoteOnly.close();
      await server.close();
    }
  });
});

describe('many reads', () => {
  it('1000 sequential reads use one worker and leave no handles or listeners behind', async () => {
    const key = await store.put(new Uint8Array(64));
    const fresh = new Store('sync-bridge-many', store.connector, { cacheSize: 0 });
    fresh.getSync(key);
    await new Promise((r) => setImmediate(r));
    const before = syncBridgeStats();
    const resources = process.getActiveResourcesInfo().length;
    for (let i = 0; i < 1000; i += 1) expect(fresh.getSync<Uint8Array>(key)?.value.byteLength).toBe(64);
    await new Promise((r) => setImmediate(r));
    const after = syncBridgeStats();
    expect(after.requests).toBe(before.requests + 1000);
    expect(after.threadId).toBe(before.threadId);
    expect(after.started).toBe(before.started);
    expect(after.timeouts).toBe(before.timeouts);
    expect(process.getActiveResourcesInfo().length).toBeLessThanOrEqual(resources);
  }, SLOW);
});
