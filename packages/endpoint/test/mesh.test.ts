// Three endpoints A, B and C that know each other (static peers, or through a directory endpoint D): an
// object put at A is read through C, which forwards to its owner, one hop, piped chunk by chunk; a proxy
// made at A resolves in a child process attached to C, synchronously and with resolveAsync.
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Store, isResolved, toReference } from '@proxystore/core';
import { ControlError, EndpointConnector, type EndpointKey } from '@proxystore/endpoint';
import { afterEach, describe, expect, it } from 'vitest';
import { KiB, pattern, same, useMesh, type MeshKind } from './endpoints.js';

const child = fileURLToPath(new URL('./fixtures/resolve-child.mjs', import.meta.url));
const CHUNK = 64 * KiB;

type Reply = { ok: true; result: Record<string, unknown> } | { ok: false; error: string };

describe.each<MeshKind>(['static peers', 'a directory'])('a 3-endpoint mesh found through %s', (kind) => {
  const mesh = useMesh(kind, { chunkSize: CHUNK });
  const opened: EndpointConnector[] = [];
  const connect = (address: string): EndpointConnector => {
    const c = new EndpointConnector({ address, chunkSize: CHUNK });
    opened.push(c);
    return c;
  };
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close({ clear: true });
  });

  it('an object of 2 chunks + 1 byte put at A is read through C (one hop), and stat and exists agree', async () => {
    const a = connect(mesh.a.address);
    const c = connect(mesh.c.address);
    const frames = [pattern(2 * CHUNK + 1), pattern(10)];
    const key = await a.put(frames);
    expect(key).toEqual({ kind: 'endpoint', id: expect.any(String), endpoint: mesh.a.id });
    const got = await c.get(key);
    expect(got?.map((f) => f.byteLength)).toEqual([2 * CHUNK + 1, 10]);
    expect(same(got?.[0], frames[0]) && same(got?.[1], frames[1])).toBe(true);
    expect(await c.exists(key)).toBe(true);
    expect(await c.client.stat({ id: key.id, owner: key.endpoint })).toMatchObject({
      size: 2 * CHUNK + 11,
      frameLengths: [2 * CHUNK + 1, 10],
      location: mesh.a.id,
    });
    // The object lives at A only: C holds nothing.
    expect((await c.client.identity()).objects).toBe(0);
    // Evicted through C, gone at A.
    await c.evict(key);
    expect(await a.exists(key)).toBe(false);
  });

  it('a missing key is null, locally and forwarded; an unknown owner is CONTROL_PEER_UNKNOWN', async () => {
    const a = connect(mesh.a.address);
    const c = connect(mesh.c.address);
    const missing: EndpointKey = { kind: 'endpoint', id: randomUUID(), endpoint: mesh.a.id };
    expect(await a.get(missing)).toBeNull();
    expect(await c.get(missing)).toBeNull();
    expect(await c.exists(missing)).toBe(false);
    await expect(c.evict(missing)).resolves.toBeUndefined();
    expect(await c.getBatch([missing, missing])).toEqual([null, null]);

    const stranger: EndpointKey = { kind: 'endpoint', id: randomUUID(), endpoint: randomUUID() };
    const err = await c.get(stranger).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControlError);
    expect(err).toMatchObject({ code: 'CONTROL_PEER_UNKNOWN' });
    expect((err as Error).message).toContain(stranger.endpoint);
    await expect(c.exists(stranger)).rejects.toMatchObject({ code: 'CONTROL_PEER_UNKNOWN' });
  });

  it('every endpoint reaches every other: keys owned by A, B and C read through each', async () => {
    const cs = [mesh.a, mesh.b, mesh.c].map((e) => connect(e.address));
    const keys = await Promise.all(cs.map((c, i) => c.put([pattern(100 + i)])));
    for (const reader of cs) {
      const got = await reader.getBatch(keys);
      expect(got.map((f) => f?.[0]?.byteLength)).toEqual([100, 101, 102]);
    }
  });

  it.each([
    ['with await resolveAsync(p)', 'async'],
    ['synchronously on first use (through core\'s sync bridge)', 'sync'],
  ])('a proxy made at A resolves in a child process attached to C %s', async (_how, mode) => {
    await using store = new Store(
      `endpoint-mesh-${kind.replace(/ /g, '-')}-${mode}`,
      new EndpointConnector({ address: mesh.a.address }),
    );
    const weights = new Float64Array(100_000).map((_, i) => i % 7);
    const sum = weights.reduce((x, y) => x + y, 0);
    const p = await store.proxy({ name: 'run-9', weights });
    const reference = toReference(p);
    expect(Buffer.byteLength(JSON.stringify(reference))).toBeLessThan(1024);

    const proc = fork(child, [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, PROXYSTORE_ENDPOINT: mesh.c.address },
    });
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
    expect(reply.result).toEqual({
      resolvedBefore: false,
      name: 'run-9',
      length: 100_000,
      sum,
      address: mesh.c.address,
    });
    expect(isResolved(p)).toBe(false);
    await exited;
    await store.close({ clear: true });
  });
});
