// Proxies made here resolve in a worker thread and in a child process that receive only references:
// the store is re-created there from the reference's config, with no user code.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRun } from './run-fixture.js';
import { FileConnector, Store, isResolved, packMessage, toReference } from '@proxystore/core';

const consumer = fileURLToPath(new URL('./fixtures/consumer.mjs', import.meta.url));

type Reply = { ok: true; result: Record<string, unknown> } | { ok: false; error: string };

interface Peer {
  request(message: unknown): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

function unwrap(reply: Reply): Record<string, unknown> {
  if (!reply.ok) throw new Error(`consumer failed: ${reply.error}`);
  return reply.result;
}

function workerPeer(): Peer {
  const worker = new Worker(consumer);
  return {
    request: (message) =>
      new Promise((resolve, reject) => {
        worker.once('message', (reply: Reply) => {
          try {
            resolve(unwrap(reply));
          } catch (err) {
            reject(err);
          }
        });
        worker.once('error', reject);
        worker.postMessage(message);
      }),
    stop: async () => {
      await worker.terminate();
    },
  };
}

function childPeer(): Peer {
  // Default IPC carries JSON only: references and base64 messages are built for it.
  const child: ChildProcess = fork(consumer, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    request: (message) =>
      new Promise((resolve, reject) => {
        child.once('message', (reply) => {
          try {
            resolve(unwrap(reply as Reply));
          } catch (err) {
            reject(err);
          }
        });
        child.once('exit', (code) => reject(new Error(`consumer exited with ${code}`)));
        child.send(message as object);
      }),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill();
      await exited;
    },
  };
}

let dir: string;
let store: Store;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ps-xproc-'));
  store = new Store('cross-process', new FileConnector({ directory: dir }));
});
afterAll(async () => {
  await store.close({ clear: true });
  rmSync(dir, { recursive: true, force: true });
});

describe.each([
  ['a worker thread', workerPeer],
  ['a child process', childPeer],
])('a proxy passed by reference to %s', (_where, makePeer) => {
  it('resolves there synchronously, just in time, and matches the checksum', async () => {
    const { run, sum } = makeRun(1_000_000);
    const p = await store.proxy(run);
    const reference = toReference(p);
    expect(Buffer.byteLength(JSON.stringify(reference))).toBeLessThan(1024);
    const peer = makePeer();
    try {
      const result = await peer.request({ type: 'reference', reference });
      expect(result).toEqual({
        resolvedBefore: false,
        name: 'run-7',
        length: 1_000_000,
        sum,
        tag: 1,
        resolvedAfter: true,
      });
      expect(isResolved(p)).toBe(false);
    } finally {
      await peer.stop();
    }
  });

  it('carries a value holding nested proxies without fetching their data', async () => {
    const payload = new Float32Array(500_000).fill(2);
    const inner = await store.proxy({ payload });
    const message = packMessage({ label: 'outer', inner }, { encoding: 'base64' });
    expect(JSON.stringify(message).length).toBeLessThan(4096);
    expect(isResolved(inner)).toBe(false);
    const peer = makePeer();
    try {
      const result = await peer.request({ type: 'nested', message });
      expect(result).toEqual({ innerIsProxy: true, resolvedBefore: false, label: 'outer', sum: 1_000_000 });
    } finally {
      await peer.stop();
    }
  });

  it('reports a missing object as ProxyResolveMissingKeyError at the access site', async () => {
    const p = await store.proxy({ name: 'soon gone' });
    const reference = toReference(p);
    await store.evict(reference.key);
    const peer = makePeer();
    try {
      const result = await peer.request({ type: 'missing', reference });
      expect(result).toEqual({ error: { name: 'ProxyResolveMissingKeyError', code: 'PROXY_RESOLVE_MISSING_KEY' } });
    } finally {
      await peer.stop();
    }
  });
});
