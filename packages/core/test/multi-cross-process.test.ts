// A proxy stored through a MultiConnector resolves in a child process that receives only its reference:
// the child re-creates the MultiConnector from the store's config, builds the file child the key names,
// and leaves a child that is dormant on this host unbuilt.
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRun } from './run-fixture.js';
import { FileConnector, MultiConnector, Store, toReference, type MultiKey } from '@proxystore/core';

const consumer = fileURLToPath(new URL('./fixtures/consumer.mjs', import.meta.url));

type Reply = { ok: true; result: Record<string, unknown> } | { ok: false; error: string };

/** Sends one message to a fresh child process and returns its answer. */
async function askChild(message: unknown): Promise<Record<string, unknown>> {
  const child = fork(consumer, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const reply = await new Promise<Reply>((resolve, reject) => {
      child.once('message', (m) => resolve(m as Reply));
      child.once('exit', (code) => reject(new Error(`consumer exited with ${code}`)));
      child.send(message as object);
    });
    if (!reply.ok) throw new Error(`consumer failed: ${reply.error}`);
    return reply.result;
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill();
      await exited;
    }
  }
}

let dir: string;
let store: Store;
let dormantDir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ps-multi-xproc-'));
  dormantDir = join(dir, 'never-built');
  const elsewhere = `${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-elsewhere`;
  const multi = new MultiConnector({
    connectors: {
      elsewhere: {
        connector: { kind: 'file', package: '@proxystore/core', options: { directory: dormantDir } },
        policy: { hostPattern: elsewhere, priority: 9 },
      },
      small: {
        connector: new FileConnector({ directory: join(dir, 'small') }),
        policy: { maxSize: 64 * 1024, priority: 1 },
      },
      large: { connector: new FileConnector({ directory: join(dir, 'large') }) },
    },
  });
  store = new Store('multi-cross-process', multi);
});
afterAll(async () => {
  await store.close({ clear: true });
  rmSync(dir, { recursive: true, force: true });
});

describe('a proxy backed by a MultiConnector, passed by reference to a child process', () => {
  it.each<[string, number]>([
    ['small', 100],
    ['large', 1_000_000],
  ])('resolves from the %s child there, synchronously, and matches the checksum', async (child, length) => {
    const { run, sum } = makeRun(length);
    const p = await store.proxy(run);
    const reference = toReference(p);
    expect(reference.store.connector.kind).toBe('multi');
    expect((reference.key as MultiKey).child).toBe(child);
    // Three children and their policies ride in the store config, and still well under 1 KiB.
    expect(Buffer.byteLength(JSON.stringify(reference))).toBeLessThan(1024);
    const result = await askChild({ type: 'reference', reference });
    expect(result).toEqual({ resolvedBefore: false, name: 'run-7', length, sum, tag: 1, resolvedAfter: true });
    // Neither process built the dormant child: its directory was never created.
    expect(existsSync(dormantDir)).toBe(false);
  });
});
