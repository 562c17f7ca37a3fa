// Every UCX case that depends on the transport, as one suite that tcp.test.ts and sm.test.ts run with
// their own UCX_TLS (UCX reads it once per process, and each vitest file runs in its own process). The
// test process is the consumer; owners and daemons are child processes started with the same UCX_TLS.
import { createHash } from 'node:crypto';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { ControlClient } from '@proxystore/control';
import { Store, extract, fromReference, isProxy, resolve, resolveAsync, toReference } from '@proxystore/core';
import { describeConnectorContract } from '@proxystore/core/testing';
import {
  UcxConnector,
  UcxError,
  encodeRemoteObject,
  decodeRemoteObject,
  releaseValue,
  ucxStats,
  type UcxKey,
} from '@proxystore/ucx';
import { UcxChild, UcxDaemonProcess, patternBytes, ucxSkipReason } from '@proxystore/ucx/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

export const KiB = 1024;
export const MiB = 1024 * KiB;

export function sha256(frames: readonly Uint8Array[]): string {
  const h = createHash('sha256');
  for (const f of frames) h.update(f);
  return h.digest('hex');
}

/** The typed error a promise rejects with (or a function throws). */
async function failure(run: () => unknown): Promise<{ code: string | undefined; name: string | undefined; message: string | undefined; error: unknown }> {
  try {
    await run();
  } catch (error) {
    const e = error as { code?: string; name?: string; message?: string };
    return { code: e.code, name: e.name, message: e.message, error };
  }
  throw new Error('expected a failure, got a result');
}

interface LentGrant {
  rid: string;
  id: string;
  capacity: number;
}

/** The hand-made lending producer (fixtures/lend-raw.mjs) in a child process, one step per call. */
async function startLender(tls: string): Promise<{ step<T>(op: string, args?: Record<string, unknown>): Promise<T>; kill(): Promise<void> }> {
  const child: ChildProcess = fork(new URL('./fixtures/lend-raw.mjs', import.meta.url), [], {
    env: { ...process.env, UCX_TLS: tls },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, (m: { result?: unknown; error?: string }) => void>();
  child.on('message', (m: { seq: number; result?: unknown; error?: string }) => waiting.get(m.seq)?.(m));
  await new Promise<void>((resolve) => waiting.set(0, () => resolve()));
  let seq = 0;
  return {
    step<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
      const s = ++seq;
      return new Promise<T>((resolve, reject) => {
        waiting.set(s, (m) => (m.error === undefined ? resolve(m.result as T) : reject(new Error(`lend-raw ${op}: ${m.error}`))));
        child.send({ seq: s, op, ...args });
      });
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function rssMiB(): number {
  return process.memoryUsage.rss() / MiB;
}

export function describeTransport(tls: 'tcp' | 'sm,self'): void {
  const skip = ucxSkipReason();
  const name = `UCX over ${tls}`;
  if (skip !== undefined) {
    describe(name, () => it.skip(skip, () => {}));
    return;
  }
  const sharedMemory = tls !== 'tcp';
  // Over shared memory a dead peer shows only as a timeout: keep it short there.
  const timeoutMs = sharedMemory ? 4_000 : 15_000;

  describe(name, () => {
    it('runs with this UCX_TLS and the error mode it implies', () => {
      expect(process.env.UCX_TLS).toBe(tls);
      // Neither gets UCX's peer-failure handling: shared memory has none, and over tcp it would cost the
      // zero-copy rendezvous (tcp reports a dead peer anyway; the addon ends its calls).
      expect(new UcxConnector().errorMode).toBe('none');
      expect(new UcxConnector().pushErrorMode).toBe('none');
      expect(new UcxConnector({ errorMode: 'peer' }).pushErrorMode).toBe(sharedMemory ? 'peer' : 'none');
      // Same-host reads replace UCX's shared memory, and stay out of the way of a tcp run.
      expect(new UcxConnector().sameHost).toBe(sharedMemory);
      expect(new UcxConnector({ sameHost: true }).sameHost).toBe(true);
      expect(new UcxConnector({ sameHost: false }).config().options).toMatchObject({ sameHost: false });
      expect(UcxConnector.fromConfig({ sameHost: false }).sameHost).toBe(false);
    });

    // (a) the core contract, local mode (the test process serves its own puts) ...
    describeConnectorContract(`UcxConnector local mode (${tls})`, {
      create: () => new UcxConnector({ timeoutMs }),
      maxSize: 16 * MiB,
    });

    // ... and daemon mode (puts are pulled by a daemon process, gets read from it by RMA).
    describe('daemon mode', () => {
      let daemon: UcxDaemonProcess;
      beforeAll(async () => {
        daemon = await UcxDaemonProcess.start({ tls });
      });
      afterAll(async () => {
        await daemon?.stop();
      });
      describeConnectorContract(`UcxConnector daemon mode (${tls})`, {
        create: () => new UcxConnector({ mode: 'daemon', daemon: daemon.address, timeoutMs }),
        maxSize: 16 * MiB,
      });

      it('objects outlive the producer: put from a child, read after it exited', async () => {
        const producer = await UcxChild.start({ tls, connector: { mode: 'daemon', daemon: daemon.address, timeoutMs } });
        const { key, sha256: digest } = await producer.put([[3 * MiB, 11], [5, 12]]);
        await producer.kill();
        expect(key.server).toBe(daemon.id);
        const c = new UcxConnector({ timeoutMs });
        try {
          expect(sha256((await c.get(key)) ?? [])).toBe(digest);
          expect(sha256(c.getSync(key) ?? [])).toBe(digest);
          expect(await c.exists(key)).toBe(true);
          await c.evict(key);
          expect(await c.get(key)).toBeNull();
        } finally {
          await c.close();
        }
      });
    });

    describe('a producer-served owner in a child process', () => {
      let owner: UcxChild;
      let c: UcxConnector;
      beforeAll(async () => {
        owner = await UcxChild.start({ tls, connector: { timeoutMs }, storeName: `owner-${tls}` });
        c = new UcxConnector({ timeoutMs });
      });
      afterAll(async () => {
        await c?.close();
        await owner?.stop();
      });

      // (b) round trips of every size around the alignment and pool boundaries, get and getSync.
      for (const size of [0, 1, 63, 64, 4097, MiB + 1, 16 * MiB]) {
        it(`round-trips ${size} bytes (get and getSync), bytes verified`, async () => {
          const { key, sha256: digest } = await owner.put([[size, size + 1]]);
          const got = await c.get(key);
          expect(got?.map((f) => f.byteLength)).toEqual([size]);
          expect(sha256(got ?? [])).toBe(digest);
          const again = c.getSync(key);
          expect(sha256(again ?? [])).toBe(digest);
          // Two reads never share memory.
          if (size > 0) expect(again?.[0]?.buffer).not.toBe(got?.[0]?.buffer);
        });
      }

      it('round-trips 256 MiB (get and getSync), bytes verified', async () => {
        const { key, sha256: digest } = await owner.put([[256 * MiB, 7]]);
        expect(sha256((await c.get(key)) ?? [])).toBe(digest);
        expect(sha256(c.getSync(key) ?? [])).toBe(digest);
        await owner.evict(key);
      }, 120_000);

      it('frames are views over one registered block, 64-byte aligned (no copy after the wire)', async () => {
        const { key } = await owner.put([[10, 1], [1000, 2], [0, 3], [70_000, 4]]);
        const got = (await c.get(key)) as Uint8Array[];
        expect(new Set(got.map((f) => f.buffer)).size).toBe(1);
        for (const f of got) expect(f.byteOffset % 64).toBe(0);
        // A view the deserializer can use in place: a Float64Array over frame 1 without a copy.
        expect(new Float64Array(got[1]!.buffer, got[1]!.byteOffset, 125).length).toBe(125);
      });

      it('typed arrays and structured values through a Store and proxies (resolve sync and async)', async () => {
        const consumer = new Store(`consumer-${tls}`, new UcxConnector({ timeoutMs }), { cacheSize: 0 });
        for (const spec of [
          { kind: 'bytes', size: 2 * MiB + 3, seed: 5 },
          { kind: 'float64', size: 100_000, seed: 6 },
          { kind: 'structured', size: 70_000, seed: 7 },
        ] as const) {
          const reference = await owner.proxy(spec);
          // Sync: the proxy resolves just in time through the connector's getSync.
          const p = fromReference(reference);
          expect(isProxy(p)).toBe(true);
          resolve(p as object);
          const sync = extract(p as object) as unknown;
          // Async: a second revival, prefetched.
          const q = fromReference(reference) as object;
          await resolveAsync(q);
          const direct = await consumer.get(reference.key as UcxKey);
          for (const v of [sync, extract(q) as unknown, direct]) {
            if (spec.kind === 'bytes') {
              expect(sha256([v as Uint8Array])).toBe(sha256([patternBytes(spec.size, spec.seed)]));
            } else if (spec.kind === 'float64') {
              const f = v as Float64Array;
              expect(f).toBeInstanceOf(Float64Array);
              expect(f.length).toBe(spec.size);
              expect(f[3]).toBe(patternBytes(32, spec.seed)[24]! + 1.5);
            } else {
              const s = v as { name: string; when: Date; tags: Set<string>; lookup: Map<string, number>; big: bigint; samples: Uint8Array };
              expect(s.name).toBe(`object ${spec.seed}`);
              expect(s.when.getTime()).toBe(1_700_000_000_000 + spec.seed);
              expect([...s.tags]).toEqual(['a', 'b']);
              expect(s.lookup.get('k')).toBe(spec.seed);
              expect(s.big).toBe(123456789012345678901234567890n + BigInt(spec.seed));
              expect(sha256([s.samples])).toBe(sha256([patternBytes(spec.size, spec.seed)]));
            }
          }
        }
        await consumer.close();
      });

      it('a consumer child resolves a reference to what this process put (sync, over UCX)', async () => {
        const producer = new Store(`producer-${tls}`, new UcxConnector({ timeoutMs }), { cacheSize: 0 });
        const value = patternBytes(MiB, 99);
        const reference = toReference(await producer.proxy(value));
        expect(JSON.stringify(reference).length).toBeLessThan(2048);
        const consumer = await UcxChild.start({ tls, connector: { timeoutMs } });
        try {
          // The child revives the store from the reference's config and reads from this process's server.
          expect(await consumer.resolve(reference)).toEqual({ sha256: sha256([value]) });
        } finally {
          await consumer.stop();
          await producer.close();
        }
      });

      // (c) many gets at once: different keys and the same key.
      it('64 concurrent gets of different keys and of the same key', async () => {
        const puts = await Promise.all(Array.from({ length: 16 }, (_, i) => owner.put([[64 * KiB + i * 1000, 100 + i]])));
        const keys = Array.from({ length: 64 }, (_, i) => puts[i % 16]!);
        const results = await Promise.all(keys.map(({ key }) => c.get(key)));
        results.forEach((frames, i) => expect(sha256(frames ?? [])).toBe(keys[i]!.sha256));
        const same = puts[0]!;
        const sameResults = await Promise.all(Array.from({ length: 64 }, () => c.get(same.key)));
        for (const frames of sameResults) expect(sha256(frames ?? [])).toBe(same.sha256);
        expect(new Set(sameResults.map((f) => f?.[0]?.buffer)).size).toBe(64);
        expect(await c.getBatch(puts.map((p) => p.key))).toHaveLength(16);
      });

      // Same-host reads: over sm a get copies from the owner's memfd block (peerRead), never over tcp.
      it(`gets ${sharedMemory ? 'go through same-host reads (peerRead)' : 'go over UCX, not peerRead'} (get and getSync)`, async () => {
        const { key, sha256: digest } = await owner.put([[3 * MiB, 21]]);
        const before = ucxStats();
        expect(sha256((await c.get(key)) ?? [])).toBe(digest);
        expect(sha256(c.getSync(key) ?? [])).toBe(digest);
        const after = ucxStats();
        expect(after.peerReads - before.peerReads).toBe(sharedMemory ? 2 : 0);
        expect(decodeRemoteObject(Buffer.from(key.descriptor, 'base64')).shm).toMatchObject({ pid: expect.any(Number), fd: expect.any(Number) });
        await owner.evict(key);
        // An evicted object read through the same mapping is gone, as over UCX.
        expect(await c.get(key)).toBeNull();
        expect(c.getSync(key)).toBeNull();
      });

      it('sameHost: false reads over UCX, and still correctly', async () => {
        const { key, sha256: digest } = await owner.put([[2 * MiB + 5, 22]]);
        const off = new UcxConnector({ timeoutMs, sameHost: false });
        try {
          const before = ucxStats();
          expect(sha256((await off.get(key)) ?? [])).toBe(digest);
          expect(sha256(off.getSync(key) ?? [])).toBe(digest);
          expect(ucxStats().peerReads - before.peerReads).toBe(0);
        } finally {
          await off.close();
          await owner.evict(key);
        }
      });

      it('a descriptor naming another host reads over UCX', async () => {
        const { key, sha256: digest } = await owner.put([[MiB + 7, 23]]);
        const d = decodeRemoteObject(Buffer.from(key.descriptor, 'base64'));
        expect(d.shm).toBeDefined();
        const elsewhere: UcxKey = {
          ...key,
          descriptor: Buffer.from(encodeRemoteObject({ ...d, shm: { ...d.shm!, hostId: 'another-boot-id:4026531836' } })).toString('base64'),
        };
        const before = ucxStats();
        expect(sha256((await c.get(elsewhere)) ?? [])).toBe(digest);
        expect(sha256(c.getSync(elsewhere) ?? [])).toBe(digest);
        expect(ucxStats().peerReads - before.peerReads).toBe(0);
        if (sharedMemory) {
          // The same descriptor with our host id but another inode at that fd: a typed error, no fallback.
          const wrong: UcxKey = {
            ...key,
            descriptor: Buffer.from(encodeRemoteObject({ ...d, shm: { ...d.shm!, inode: d.shm!.inode + 1n } })).toString('base64'),
          };
          const e = await failure(() => c.get(wrong));
          expect(e.error).toBeInstanceOf(UcxError);
          expect(e.code).toBe('UCX_BAD_KEY');
          expect((await failure(() => c.getSync(wrong))).code).toBe('UCX_BAD_KEY');
        }
        await owner.evict(key);
      });

      // (g) bad input.
      it('a stale key after evict is null; a garbled descriptor is UCX_BAD_KEY; CUDA is refused', async () => {
        const { key } = await owner.put([[1000, 3]]);
        await owner.evict(key);
        expect(await c.get(key)).toBeNull();
        expect(c.getSync(key)).toBeNull();
        expect(await c.exists(key)).toBe(false);

        const { key: live } = await owner.put([[1000, 4]]);
        const bytes = Buffer.from(live.descriptor, 'base64');
        const garbled = Buffer.from(bytes);
        garbled.writeUInt32LE(0xfffff0, 0); // the root offset points far past the end
        for (const descriptor of [garbled.toString('base64'), bytes.subarray(0, 30).toString('base64'), 'A'.repeat(13)]) {
          const bad = { ...live, descriptor };
          const e = await failure(() => c.get(bad));
          expect(e.code).toBe('UCX_BAD_KEY');
          expect(e.error).toBeInstanceOf(UcxError);
          expect((await failure(() => c.getSync(bad))).code).toBe('UCX_BAD_KEY');
        }
        const d = decodeRemoteObject(bytes);
        const cuda: UcxKey = { ...live, descriptor: Buffer.from(encodeRemoteObject({ ...d, memoryType: 'cuda' })).toString('base64') };
        expect((await failure(() => c.get(cuda))).code).toBe('UCX_MEMORY_TYPE_UNSUPPORTED');
        expect((await failure(() => c.getSync(cuda))).code).toBe('UCX_MEMORY_TYPE_UNSUPPORTED');
        // A descriptor pointing at the wrong place in the owner reads something that does not check: null
        // (over UCX the remote address, on the same host the offset in the owner's memfd).
        const shifted: UcxKey = {
          ...live,
          descriptor: Buffer.from(
            encodeRemoteObject({
              ...d,
              remoteAddress: d.remoteAddress + 64n,
              ...(d.shm === undefined ? {} : { shm: { ...d.shm, offset: d.shm.offset + 64 } }),
            }),
          ).toString('base64'),
        };
        expect(await c.get(shifted)).toBeNull();
        // The untouched key still reads.
        expect((await c.get(live))?.[0]?.byteLength).toBe(1000);
      });

      // (e) the pools: 1,000 cycles of 1 MiB reuse registered blocks instead of registering new ones.
      it('1,000 put/get/evict cycles of 1 MiB reuse pooled blocks on both sides', async () => {
        const cycle = async (): Promise<void> => {
          const { key } = await owner.put([[MiB, 0]]);
          const got = await c.get(key);
          expect(got?.[0]?.byteLength).toBe(MiB);
          await owner.evict(key);
        };
        for (let i = 0; i < 50; i++) await cycle();
        const [mine, theirs] = [ucxStats(), await owner.stats()];
        for (let i = 0; i < 1000; i++) await cycle();
        const [mine2, theirs2] = [ucxStats(), await owner.stats()];
        // The owner releases each block on evict: every put after warm-up is a pool hit.
        expect(theirs2.memMaps! - theirs.memMaps!).toBeLessThanOrEqual(4);
        expect(theirs2.poolHits! - theirs.poolHits!).toBeGreaterThanOrEqual(996);
        // The consumer's blocks come back when their frames are garbage-collected: a few new blocks
        // while the collector catches up, hits for the rest.
        expect(mine2.memMaps - mine.memMaps).toBeLessThanOrEqual(64);
        expect(mine2.poolHits - mine.poolHits).toBeGreaterThanOrEqual(900);
        console.log(
          `[${tls}] 1000 cycles of 1 MiB: consumer memMaps +${mine2.memMaps - mine.memMaps}, poolHits +${mine2.poolHits - mine.poolHits}; ` +
            `owner memMaps +${theirs2.memMaps! - theirs.memMaps!}, poolHits +${theirs2.poolHits! - theirs.poolHits!}`,
        );
      }, 120_000);

      // releaseValue: a consumer done with a value gives its block back at once, no collection needed.
      it('releaseValue gives a value\'s block back at once: views empty, the next get a pool hit', async () => {
        const { key: rawKey } = await owner.put([[4 * MiB, 9]]);
        const reference = await owner.proxy({ kind: 'bytes', size: 4 * MiB, seed: 9 });
        const key = reference.key as UcxKey;
        const digest = sha256([patternBytes(4 * MiB, 9)]);
        const store = new Store(`release-${tls}`, new UcxConnector({ timeoutMs }), { cacheSize: 0 });
        try {
          const first = await store.get<Uint8Array>(key);
          expect(sha256([first as Uint8Array])).toBe(digest);
          const other = new Uint8Array((first as Uint8Array).buffer);  // any view of the same memory
          const before = ucxStats();
          expect(releaseValue(first)).toBe(true);
          expect(first?.byteLength).toBe(0);
          expect(other.byteLength).toBe(0);
          expect(ucxStats().poolInUseBytes).toBeLessThan(before.poolInUseBytes);
          expect(releaseValue(first)).toBe(false);  // once only
          // 20 more gets, each released: one block serves them all, no registration.
          for (let i = 0; i < 20; i++) {
            const v = await store.get<Uint8Array>(key);
            expect(v?.byteLength).toBe(4 * MiB);
            expect(releaseValue(v)).toBe(true);
          }
          const after = ucxStats();
          expect(after.memMaps - before.memMaps).toBe(0);
          expect(after.poolHits - before.poolHits).toBe(20);
          // The frames of a connector get, and getSync's, release as an array.
          const frames = await c.get(rawKey);
          expect(releaseValue(frames)).toBe(true);
          expect(frames?.[0]?.byteLength).toBe(0);
          const sync = c.getSync(rawKey);
          expect(releaseValue(sync)).toBe(true);
          // Nothing else is ours: plain bytes, a released buffer, non-views.
          expect(releaseValue(new Uint8Array(4 * MiB))).toBe(false);
          expect(releaseValue(frames?.[0]?.buffer)).toBe(false);
          expect(releaseValue({ bytes: 1 })).toBe(false);
          expect(releaseValue(null)).toBe(false);
          // A key this thread serves reads as a copy, which is not a pool block of the read.
          const localKey = await c.put([new Uint8Array(1000).fill(1)]);
          expect(releaseValue(await c.get(localKey))).toBe(false);
          await c.evict(localKey);
          // The object itself is untouched: a new get reads it whole.
          expect(sha256([(await store.get<Uint8Array>(key)) as Uint8Array])).toBe(digest);
        } finally {
          await store.close();
          await owner.evict(rawKey);
        }
      });

      it('back-to-back gets that leave their values to the collector reuse blocks (the loop turns between gets)', async () => {
        // A get that never waits (a same-host copy) still yields a loop turn: Node runs the finalizers
        // that give collected values' blocks back between turns, so a loop of gets must not map a fresh
        // block each time (it did: 100 misses in 100 gets over shared memory).
        const { key } = await owner.put([[4 * MiB, 4]]);
        try {
          const before = ucxStats();
          for (let i = 0; i < 100; i++) expect((await c.get(key))?.[0]?.byteLength).toBe(4 * MiB);
          const after = ucxStats();
          expect(after.poolMisses - before.poolMisses).toBeLessThanOrEqual(50);
          expect(after.poolHits - before.poolHits).toBeGreaterThanOrEqual(50);
        } finally {
          await owner.evict(key);
        }
      });

      // (d) the owner dies mid-get: a typed error within a bounded time, never a hang.
      it(`over UCX: the owner SIGKILLed mid-get of a large object: ${sharedMemory ? 'UCX_TIMEOUT' : 'UCX_PEER_GONE'}, get and getSync`, async () => {
        const expected = sharedMemory ? 'UCX_TIMEOUT' : 'UCX_PEER_GONE';
        // Over shared memory only the operation's limit ends it: a short one here.
        const limit = sharedMemory ? 1_500 : timeoutMs;
        // The reads run in consumer children (getSync blocks its thread, and over shared memory UCX 1.13
        // can leave a worker whose read from a killed owner timed out unable to deliver later messages:
        // see docs/ucx.md, Failures), with sameHost: false to keep them on UCX over sm too (the
        // same-host path is the next case). This process only kills owners.
        for (const op of ['get', 'getSync'] as const) {
          const victim = await UcxChild.start({ tls, connector: { timeoutMs } });
          const consumer = await UcxChild.start({ tls, connector: { timeoutMs: limit, sameHost: false } });
          try {
            const { key: big } = await victim.put([[768 * MiB, 0]]);
            const { key: tiny } = await victim.put([[10, 1]]);
            expect((await consumer[op](tiny)).found).toBe(true); // the endpoint is up: the kill lands in the transfer
            const started = performance.now();
            const reading = failure(() => consumer[op](big));
            await new Promise((r) => setTimeout(r, op === 'get' ? 5 : 20));
            await victim.kill();
            const e = await reading;
            expect(e.code, op).toBe(expected);
            expect(performance.now() - started, op).toBeLessThan(limit + 5_000);
            // The consumer is still responsive after the failure.
            expect((await consumer.stats()).pendingOps).toBeGreaterThanOrEqual(0);
          } finally {
            await consumer.stop();
            await victim.kill();
          }
        }
      }, 120_000);

      // (d') over sm with same-host reads a get is a memcpy, over before a kill could land in it. What a
      // dead owner means there: a block this process never mapped is UCX_PEER_GONE at once (its
      // /proc/<pid>/fd is gone); a block it mapped before the kill still reads, its pages live while
      // mapped, and the nonces say whether they still hold the object.
      if (sharedMemory) {
        it('same-host reads: the owner SIGKILLed, a block never mapped is UCX_PEER_GONE at once, get and getSync', async () => {
          const reader = new UcxConnector({ timeoutMs });
          const victim = await UcxChild.start({ tls, connector: { timeoutMs } });
          const { key: big } = await victim.put([[48 * MiB, 0]]);
          const { key: small, sha256: smallDigest } = await victim.put([[10, 1]]);
          const before = ucxStats();
          expect(sha256((await reader.get(small)) ?? [])).toBe(smallDigest);
          await victim.kill();
          const started = performance.now();
          const e = await failure(() => reader.get(big));
          expect(e.error).toBeInstanceOf(UcxError);
          expect(e.code).toBe('UCX_PEER_GONE');
          expect((await failure(async () => reader.getSync(big))).code).toBe('UCX_PEER_GONE');
          expect(performance.now() - started).toBeLessThan(1_000);
          // Mapped before the kill: the dead owner's block still reads whole.
          expect(sha256((await reader.get(small)) ?? [])).toBe(smallDigest);
          expect(ucxStats().peerReads - before.peerReads).toBe(2);
          await reader.close();

          // getSync in a consumer child, the owner killed by this process.
          const victim2 = await UcxChild.start({ tls, connector: { timeoutMs } });
          const consumer = await UcxChild.start({ tls, connector: { timeoutMs } });
          try {
            const { key: big2 } = await victim2.put([[48 * MiB, 0]]);
            const { key: tiny } = await victim2.put([[10, 1]]);
            expect((await consumer.getSync(tiny)).found).toBe(true);
            await victim2.kill();
            const started2 = performance.now();
            const e2 = await failure(() => consumer.getSync(big2));
            expect(e2.code).toBe('UCX_PEER_GONE');
            expect(performance.now() - started2).toBeLessThan(2_000);
            expect((await consumer.getSync(tiny)).found).toBe(true);
            expect((await consumer.stats()).peerReads).toBe(2);
          } finally {
            await consumer.stop();
            await victim2.kill();
          }
        }, 60_000);
      }
    });

    // (f) 10,000 cycles through a daemon: staging, pulls, RMA gets and evicts, with RSS bounded.
    it('10,000 put/get/evict cycles keep RSS bounded', async () => {
      const daemon = await UcxDaemonProcess.start({ tls });
      const producer = new UcxConnector({ mode: 'daemon', daemon: daemon.address, timeoutMs });
      const consumer = new UcxConnector({ timeoutMs });
      const frames = [patternBytes(64 * KiB, 3), patternBytes(100, 4)];
      const digest = sha256(frames);
      try {
        const cycle = async (check: boolean): Promise<void> => {
          const key = await producer.put(frames);
          const got = await consumer.get(key);
          if (check) expect(sha256(got ?? [])).toBe(digest);
          await producer.evict(key);
        };
        for (let i = 0; i < 500; i++) await cycle(true);
        const warm = rssMiB();
        for (let i = 0; i < 10_000; i++) await cycle(i % 1000 === 0);
        const end = rssMiB();
        console.log(`[${tls}] 10,000 cycles: RSS ${warm.toFixed(0)} MiB after warm-up, ${end.toFixed(0)} MiB at the end`);
        // 10,000 cycles move ~650 MiB each way; a leak of the blocks or of the frames would show as
        // hundreds of MiB. Allow the collector some slack.
        expect(end - warm).toBeLessThan(96);
      } finally {
        await producer.close();
        await consumer.close();
        await daemon.stop();
      }
    }, 120_000);

    // (g) daemon puts push the object block (one active message the daemon keeps as it landed); the
    // pull the daemon still answers (PROXYSTORE_UCX_PUT=pull) gives the same objects.
    it('daemon puts push, and the pull a daemon still answers gives the same objects', async () => {
      const daemon = await UcxDaemonProcess.start({ tls });
      const frames = [patternBytes(5 * MiB + 3, 21), patternBytes(1000, 22), new Uint8Array(0)];
      const digest = sha256(frames);
      const pushed = new UcxConnector({ mode: 'daemon', daemon: daemon.address, timeoutMs });
      process.env.PROXYSTORE_UCX_PUT = 'pull';
      const pulled = new UcxConnector({ mode: 'daemon', daemon: daemon.address, timeoutMs });
      delete process.env.PROXYSTORE_UCX_PUT;
      const consumer = new UcxConnector({ timeoutMs });
      try {
        for (const producer of [pushed, pulled]) {
          const key = await producer.put(frames);
          expect(key.server).toBe(daemon.id);
          expect(sha256((await consumer.get(key)) ?? [])).toBe(digest);
          await producer.evict(key);
          expect(await consumer.get(key)).toBeNull();
        }
      } finally {
        await pushed.close();
        await pulled.close();
        await consumer.close();
        await daemon.stop();
      }
    });

    // (g') over tcp a put pushes over an endpoint of errorMode 'none' (pushErrorMode): a daemon that dies
    // at any point of a put still fails it as UCX_PEER_GONE, long before the operation's time limit. The
    // kills land before, during and after the bytes move (a 256 MiB push takes 50-150 ms here). Over
    // shared memory UCX notices no dead peer: a put's limit ends it (UCX_TIMEOUT, as for gets).
    if (!sharedMemory) {
      /** Starts `producer.put(frames)`, SIGKILLs the daemon `waitMs` later: the put's error (null if it
       * finished first), and how long it took. */
      async function putAcrossKill(
        producer: UcxConnector,
        daemon: UcxDaemonProcess,
        frames: Uint8Array[],
        waitMs: number,
      ): Promise<{ err: unknown; ms: number }> {
        const started = performance.now();
        const put = producer.put(frames).then(
          () => null,
          (err: unknown) => err,
        );
        await new Promise((resolve) => setTimeout(resolve, waitMs));
        await daemon.kill();
        return { err: await put, ms: performance.now() - started };
      }
      /** Failed as UCX_PEER_GONE, long before the put's time limit (60 s). */
      function expectPeerGone({ err, ms }: { err: unknown; ms: number }): void {
        expect(err).toBeInstanceOf(UcxError);
        expect((err as UcxError).code).toBe('UCX_PEER_GONE');
        expect(ms).toBeLessThan(10_000);
      }

      it('the daemon SIGKILLed during a put (pushed over errorMode none): UCX_PEER_GONE within a bounded time', async () => {
        const big = [patternBytes(256 * MiB, 31)];
        let failed = 0;
        for (const delayMs of [0, 20, 60, 120]) {
          const daemon = await UcxDaemonProcess.start({ tls });
          const producer = new UcxConnector({ mode: 'daemon', daemon: daemon.address, timeoutMs: 60_000 });
          try {
            expect(producer.pushErrorMode).toBe('none');
            await producer.evict(await producer.put([new Uint8Array(1000)])); // connected, warm
            const outcome = await putAcrossKill(producer, daemon, big, delayMs);
            if (outcome.err === null) continue; // it finished before the kill: nothing to see
            failed++;
            expectPeerGone(outcome);
          } finally {
            await producer.close();
            await daemon.stop();
          }
        }
        expect(failed).toBeGreaterThan(0);
      }, 120_000);

      // A small put is one eager message: its send completes once the bytes are in the socket, and the
      // put then waits for the daemon's answer. A daemon stopped before the put and killed after it has
      // taken the bytes (but never answered) must fail the put through its endpoint's failure, not at
      // the put's time limit.
      it('a daemon that dies after a put was sent but before it answered: UCX_PEER_GONE, not the time limit', async () => {
        const daemon = await UcxDaemonProcess.start({ tls });
        const producer = new UcxConnector({ mode: 'daemon', daemon: daemon.address, timeoutMs: 60_000 });
        try {
          await producer.evict(await producer.put([new Uint8Array(1000)])); // connected, warm
          process.kill(daemon.pid, 'SIGSTOP');
          expectPeerGone(await putAcrossKill(producer, daemon, [patternBytes(1000, 32)], 200));
        } finally {
          await producer.close();
          await daemon.stop();
        }
      }, 60_000);
    }

    it('a daemon restarted at the same address takes the next put (lent, pushed, and a large frame in place)', async () => {
      let daemon = await UcxDaemonProcess.start({ tls });
      const port = Number(daemon.address.split(':').pop());
      const producer = new UcxConnector({ mode: 'daemon', daemon: daemon.address, timeoutMs });
      // Puts that are not lent push over UCX. Over shared memory nothing tells UCX a daemon died: the
      // daemon's control plane, now answered by another daemon, ends the push (not timeoutMs).
      process.env.PROXYSTORE_UCX_RESERVE = '0';
      const pusher = new UcxConnector({ mode: 'daemon', daemon: daemon.address, timeoutMs: 120_000 });
      delete process.env.PROXYSTORE_UCX_RESERVE;
      try {
        // Twice each, so that the lending producer holds grants of the old daemon.
        for (const c of [producer, pusher]) for (let i = 0; i < 2; i++) await c.evict(await c.put([patternBytes(MiB, i)]));
        const before = await producer.put([patternBytes(64 * KiB, 9)]);
        await daemon.kill();
        daemon = await UcxDaemonProcess.start({ tls, port });
        const control = new ControlClient(daemon.address);
        try {
          for (const [c, frames] of [
            [producer, [patternBytes(MiB, 3)]],
            [pusher, [patternBytes(MiB, 4)]],
            [pusher, [patternBytes(16, 5), patternBytes(2 * MiB, 6)]],
          ] as const) {
            const key = await c.put([...frames]);
            expect(key.server).toBe(daemon.id);
            expect(sha256((await control.get({ id: key.id, owner: daemon.id })) ?? [])).toBe(sha256(frames));
            await c.evict(key);
          }
          expect((await control.identity()).objects).toBe(0);
        } finally {
          control.close();
        }
        // A key of the old daemon names an object that is gone with it: a typed error, not a hang.
        const old = await failure(() => producer.get(before));
        expect(old.code).toMatch(/^UCX_(PEER_GONE|UNREACHABLE|TIMEOUT)$/);
      } finally {
        await producer.close();
        await pusher.close();
        await daemon.stop();
      }
    }, 60_000);

    it('a push to a daemon that was killed fails as gone, not at its time limit', async () => {
      const daemon = await UcxDaemonProcess.start({ tls });
      process.env.PROXYSTORE_UCX_RESERVE = '0';
      const pusher = new UcxConnector({ mode: 'daemon', daemon: daemon.address, timeoutMs: 120_000 });
      delete process.env.PROXYSTORE_UCX_RESERVE;
      try {
        await pusher.evict(await pusher.put([patternBytes(MiB, 1)])); // connected, warm
        await daemon.kill();
        // Over shared memory UCX never sees the daemon die: its control plane's silence ends the push.
        const gone = await failure(() => pusher.put([patternBytes(MiB, 2)]));
        expect(gone.code).toMatch(/^UCX_(PEER_GONE|UNREACHABLE)$/);
      } finally {
        await pusher.close();
        await daemon.stop();
      }
    }, 30_000);

    it('a daemon refuses pushes over its limits with typed errors and keeps nothing of them', async () => {
      const daemon = await UcxDaemonProcess.start({ tls, maxObjectSize: 3 * MiB, maxBytes: 5 * MiB });
      const producer = new UcxConnector({ mode: 'daemon', daemon: daemon.address, timeoutMs });
      const control = new ControlClient(daemon.address);
      try {
        const tooLarge = await failure(() => producer.put([new Uint8Array(3 * MiB + 1)]));
        expect(tooLarge.code).toBe('UCX_DAEMON');
        expect((tooLarge.error as UcxError).reason).toBe('CONTROL_OBJECT_TOO_LARGE');
        // Blocks over any limit of the daemon's are dropped by its addon before they land; the daemon is
        // still told, and answers (not a timeout): far too large, and larger than all of maxBytes.
        const farTooLarge = await failure(() => producer.put([new Uint8Array(6 * MiB)]));
        expect((farTooLarge.error as UcxError).reason).toBe('CONTROL_OBJECT_TOO_LARGE');
        const first = await producer.put([patternBytes(3 * MiB, 1)]);
        const full = await failure(() => producer.put([new Uint8Array(3 * MiB)]));
        expect((full.error as UcxError).reason).toBe('CONTROL_STORAGE_FULL');
        expect((await control.identity()).objects).toBe(1);
        await producer.evict(first);
        // Room again: the refused blocks were given back, not counted.
        await producer.evict(await producer.put([new Uint8Array(3 * MiB)]));
        expect((await control.identity()).objects).toBe(0);
      } finally {
        control.close();
        await producer.close();
        await daemon.stop();
      }
      // maxBytes under maxObjectSize: a put larger than all of it is refused as full, not left unanswered.
      const small = await UcxDaemonProcess.start({ tls, maxBytes: 2 * MiB });
      const other = new UcxConnector({ mode: 'daemon', daemon: small.address, timeoutMs });
      try {
        const over = await failure(() => other.put([new Uint8Array(4 * MiB)]));
        expect((over.error as UcxError).reason).toBe('CONTROL_STORAGE_FULL');
        await other.evict(await other.put([patternBytes(MiB, 2)]));
      } finally {
        await other.close();
        await small.stop();
      }
    });

    it('hand-made pushes: a wrong token, a block that does not match or is oversized, bad frames are refused; garbage is ignored', async () => {
      const daemon = await UcxDaemonProcess.start({ tls, token: 'push-token' });
      const control = new ControlClient(daemon.address, { token: 'push-token' });
      try {
        const worker = new Worker(new URL('./fixtures/push-raw.mjs', import.meta.url), {
          workerData: {
            workerAddress: daemon.ready.workerAddress,
            server: daemon.id,
            token: 'push-token',
            errorMode: 'none', // what a producer pushes with (pushErrorMode) on both transports
            cases: ['garbage', 'oversize', 'wrong-token', 'wrong-nonce', 'truncated', 'bad-frames', 'no-server', 'in-place-mismatch', 'valid', 'in-place'],
          },
        });
        const [results] = (await once(worker, 'message')) as [Record<string, { ok: boolean; code?: string; id?: string } | null>];
        expect(results.garbage).toBeNull();
        expect(results.oversize).toMatchObject({ ok: false, code: 'CONTROL_INVALID_ARGUMENT' });
        expect(results['in-place-mismatch']).toMatchObject({ ok: false, code: 'CONTROL_INVALID_ARGUMENT' });
        expect(results['wrong-token']).toMatchObject({ ok: false, code: 'CONTROL_UNAUTHENTICATED' });
        expect(results['wrong-nonce']).toMatchObject({ ok: false, code: 'CONTROL_INVALID_ARGUMENT' });
        expect(results.truncated).toMatchObject({ ok: false, code: 'CONTROL_INVALID_ARGUMENT' });
        expect(results['bad-frames']).toMatchObject({ ok: false, code: 'CONTROL_INVALID_ARGUMENT' });
        expect(results['no-server']).toMatchObject({ ok: false, code: 'UCX_DAEMON' });
        // The daemon is still up and kept exactly the two valid pushes; the one sent in place reads back
        // as its frames (the big one where UCX put it, the small one from the header).
        expect(results.valid).toMatchObject({ ok: true });
        expect(results['in-place']).toMatchObject({ ok: true });
        const identity = await control.identity();
        expect(identity.objects).toBe(2);
        const placed = await control.get({ id: results['in-place']?.id as string, owner: daemon.id });
        expect(placed?.map((f) => f.byteLength)).toEqual([4 << 20, 10]);
        expect(placed?.[0]?.every((b) => b === 6)).toBe(true);
        expect(placed?.[1]?.every((b) => b === 7)).toBe(true);
        expect(await control.evict({ id: results.valid?.id as string, owner: daemon.id })).toBe(true);
        expect(await control.evict({ id: results['in-place']?.id as string, owner: daemon.id })).toBe(true);
        expect(daemon.running).toBe(true);
      } finally {
        control.close();
        await daemon.stop();
      }
    });

    // (g''') how a get reads: over tcp alone it asks the owner to send the block (a fetch), getSync too
    // (waiting for the answer by blocking progress); PROXYSTORE_UCX_GET=rma reads by RMA get; over shared
    // memory a same-host copy. The same bytes each way.
    it(`gets ${sharedMemory ? 'copy from the owner on this host (no fetch)' : 'and getSync fetch (the owner sends the block); PROXYSTORE_UCX_GET=rma reads by RMA'}: the same bytes`, async () => {
      const daemon = await UcxDaemonProcess.start({ tls });
      const producer = new UcxConnector({ mode: 'daemon', daemon: daemon.address, timeoutMs });
      process.env.PROXYSTORE_UCX_GET = 'rma';
      const rma = new UcxConnector({ timeoutMs });
      delete process.env.PROXYSTORE_UCX_GET;
      const reader = new UcxConnector({ timeoutMs });
      try {
        const frames = [patternBytes(6 * MiB + 5, 41), patternBytes(100, 42)];
        const digest = sha256(frames);
        const key = await producer.put(frames);
        const before = ucxStats().fetches;
        expect(sha256((await reader.get(key)) ?? [])).toBe(digest);
        expect(ucxStats().fetches - before).toBe(sharedMemory ? 0 : 1);
        expect(sha256(reader.getSync(key) ?? [])).toBe(digest);
        expect(ucxStats().fetches - before).toBe(sharedMemory ? 0 : 2);
        expect(sha256((await rma.get(key)) ?? [])).toBe(digest);
        expect(sha256(rma.getSync(key) ?? [])).toBe(digest);
        expect(ucxStats().fetches - before).toBe(sharedMemory ? 0 : 2);
        await producer.evict(key);
        expect(await reader.get(key)).toBeNull();
        expect(reader.getSync(key)).toBeNull();
        expect(await rma.get(key)).toBeNull();
      } finally {
        await producer.close();
        await rma.close();
        await reader.close();
        await daemon.stop();
      }
    });

    // (g'''') each process serves the other while it blocks on it: over tcp a getSync fetches, and the
    // owner's answer is a message its server handles in JS; a thread blocked in its own getSync still
    // handles fetch requests (duringSync), or two processes resolving each other's proxies at once would
    // each wait for the other until their time limits.
    it('two processes getSync each other\'s objects at the same moment: both get them, within their time limits', async () => {
      const a = await UcxChild.start({ tls, connector: { timeoutMs: 5_000 } });
      const b = await UcxChild.start({ tls, connector: { timeoutMs: 5_000 } });
      try {
        const { key: ka } = await a.put([[8 * MiB, 51]]);
        const { key: kb } = await b.put([[8 * MiB, 52]]);
        for (let round = 0; round < 3; round++) {
          const started = performance.now();
          const [fromB, fromA] = await Promise.all([a.getSync(kb), b.getSync(ka)]);
          expect(fromB.found && fromA.found).toBe(true);
          expect(performance.now() - started).toBeLessThan(4_000);
        }
      } finally {
        await a.stop();
        await b.stop();
      }
    }, 60_000);

    // (g'') the owner's side of a fetch (how gets read over tcp alone), by hand: only a request naming the
    // very block a key describes gets it; anything else gets NOT_FOUND (the get's null) or nothing.
    it('hand-made fetches: only one naming the exact block gets it; the others NOT_FOUND, garbage ignored', async () => {
      const daemon = await UcxDaemonProcess.start({ tls });
      const producer = new UcxConnector({ mode: 'daemon', daemon: daemon.address, timeoutMs });
      try {
        const key = await producer.put([new Uint8Array(3000).fill(9), new Uint8Array(5)]);
        const d = decodeRemoteObject(Buffer.from(key.descriptor, 'base64'));
        const worker = new Worker(new URL('./fixtures/fetch-raw.mjs', import.meta.url), {
          workerData: {
            workerAddress: daemon.ready.workerAddress,
            server: daemon.id,
            id: key.id,
            address: d.remoteAddress.toString(),
            length: d.length,
            frameLengths: d.frameLengths,
            errorMode: new UcxConnector().errorMode,
          },
        });
        const [results] = (await once(worker, 'message')) as [Record<string, { kind: string; code?: string; length?: number; memory?: string; frame?: number[] } | null>];
        expect(results.garbage).toBeNull();
        for (const name of ['no-server', 'unknown-id', 'wrong-address', 'wrong-length', 'no-id']) {
          expect(results[name], name).toEqual({ kind: 'error', code: 'NOT_FOUND' });
        }
        expect(results.valid?.kind).toBe('ok');
        expect(results.valid?.length).toBe(d.length);
        expect(results.valid?.memory).toBe('private'); // setAmHandler(…, { receive: 'pool', shared: false })
        expect(results.valid?.frame).toEqual(new Array(3000).fill(9));
        expect(daemon.running).toBe(true);
        expect(await producer.exists(key)).toBe(true);
      } finally {
        await producer.close({ clear: true });
        await daemon.stop();
      }
    });

    // (g'''') blocks lent to a same-host producer (reserve.ts): it writes its object into a block the
    // daemon lent and commits it without waiting for an answer. By hand from a child process, so that the
    // daemon can be looked at between the steps; over tcp too (lending needs only the same host).
    describe('blocks lent to a same-host producer', () => {
      const frames: [number, number][] = [[2 * MiB, 3], [100, 4]];
      const bytesOf = (f: [number, number][]): Uint8Array[] => f.map(([n, fill]) => new Uint8Array(n).fill(fill));
      type Written = { key: UcxKey; nonce: string; frameLengths: number[] };
      type Asked = { pushed: string | null; capacity: number; grants: LentGrant[] };

      it('an object in a lent block is pending until its commit: lookups wait; a wrong commit, a return or the producer\'s death end the loan', async () => {
        const daemon = await UcxDaemonProcess.start({ tls });
        const control = new ControlClient(daemon.address);
        const reader = new UcxConnector({ timeoutMs });
        const lender = await startLender(tls);
        const ref = (id: string): { id: string; owner: string } => ({ id, owner: daemon.id });
        try {
          await lender.step('init', { workerAddress: daemon.ready.workerAddress, server: daemon.id, errorMode: 'none' });
          const asked = await lender.step<Asked>('ask', { frames, count: 2 });
          expect(asked.pushed).not.toBeNull();
          expect(asked.grants.map((g) => g.capacity)).toEqual([asked.capacity, asked.capacity]);
          const [g1, g2] = asked.grants as [LentGrant, LentGrant];

          // Written, not committed: a lookup of its id waits for the commit (not false, not an error).
          const w1 = await lender.step<Written>('write', { rid: g1.rid, frames });
          let settled = false;
          const exists1 = control.exists(ref(g1.id)).then((v) => ((settled = true), v));
          await sleep(300);
          expect(settled).toBe(false);
          if (sharedMemory) {
            // A same-host reader with the key copies the block already: the producer's put has returned.
            expect(sha256((await reader.get(w1.key)) ?? [])).toBe(sha256(bytesOf(frames)));
          }
          await lender.step('commit', { rid: g1.rid, nonce: w1.nonce, frameLengths: w1.frameLengths });
          expect(await exists1).toBe(true);
          expect(sha256((await reader.get(w1.key)) ?? [])).toBe(sha256(bytesOf(frames)));
          expect((await control.stat(ref(g1.id)))?.frameLengths).toEqual(frames.map(([n]) => n));

          // A commit naming a nonce the block does not hold keeps nothing: the waiting lookup ends false.
          const w2 = await lender.step<Written>('write', { rid: g2.rid, frames });
          const exists2 = control.exists(ref(g2.id));
          await lender.step('commit', { rid: g2.rid, nonce: Buffer.alloc(16, 7).toString('base64'), frameLengths: w2.frameLengths });
          expect(await exists2).toBe(false);
          expect(await reader.get(w2.key)).toBeNull();

          // Given back: lookups end false at once, and a commit of it afterwards keeps nothing.
          const again = await lender.step<Asked>('ask', { frames, count: 2 });
          const [g3, g4] = again.grants as [LentGrant, LentGrant];
          const w3 = await lender.step<Written>('write', { rid: g3.rid, frames });
          const exists3 = control.exists(ref(g3.id));
          await lender.step('giveBack', { rids: [g3.rid] });
          expect(await exists3).toBe(false);
          await lender.step('commit', { rid: g3.rid, nonce: w3.nonce, frameLengths: w3.frameLengths });
          expect(await control.exists(ref(g3.id))).toBe(false);

          // The producer dies holding g4, written but not committed: the daemon takes the block back on
          // its next sweep, so a lookup ends in about a second, not at the daemon's 30 s limit.
          await lender.step<Written>('write', { rid: g4.rid, frames });
          const objects = (await control.identity()).objects;
          await lender.kill();
          const started = performance.now();
          expect(await control.exists(ref(g4.id))).toBe(false);
          expect(performance.now() - started).toBeLessThan(5_000);
          expect((await control.identity()).objects).toBe(objects);
          expect(daemon.running).toBe(true);
        } finally {
          await lender.kill();
          control.close();
          await reader.close();
          await daemon.stop();
        }
      }, 60_000);

      it('blocks left unused are asked back (REVOKE): a producer that answers gives them back; one that does not keeps them', async () => {
        const daemon = await UcxDaemonProcess.start({ tls, env: { PROXYSTORE_UCX_LEND_IDLE_MS: '200' } });
        const control = new ControlClient(daemon.address);
        const lender = await startLender(tls);
        try {
          await lender.step('init', { workerAddress: daemon.ready.workerAddress, server: daemon.id, errorMode: 'none' });
          const [g1, g2] = (await lender.step<Asked>('ask', { frames, count: 2 })).grants as [LentGrant, LentGrant];
          // Not answered: revoked (again and again), still lent (a lookup of its id still waits).
          let unanswered = await lender.step<{ held: string[]; revoked: string[] }>('state');
          for (let i = 0; i < 100 && !(unanswered.revoked.includes(g1.rid) && unanswered.revoked.includes(g2.rid)); i++) {
            await sleep(50);
            unanswered = await lender.step<{ held: string[]; revoked: string[] }>('state');
          }
          expect(unanswered.revoked).toEqual(expect.arrayContaining([g1.rid, g2.rid]));
          expect(unanswered.held.sort()).toEqual([g1.rid, g2.rid].sort());
          let settled = false;
          const exists1 = control.exists({ id: g1.id, owner: daemon.id }).then((v) => ((settled = true), v));
          await sleep(200);
          expect(settled).toBe(false);
          // Answered: both go back; the waiting lookup ends false.
          await lender.step('answerRevokes', { on: true });
          expect(await exists1).toBe(false);
          expect(await control.exists({ id: g2.id, owner: daemon.id })).toBe(false);
          expect((await lender.step<{ held: string[] }>('state')).held).toEqual([]);
        } finally {
          await lender.kill();
          control.close();
          await daemon.stop();
        }
      }, 30_000);

      if (sharedMemory) {
        it('a daemon killed while the producer holds lent blocks: the next put fails with a typed error, not a key to nowhere', async () => {
          const daemon = await UcxDaemonProcess.start({ tls });
          const producer = new UcxConnector({ mode: 'daemon', daemon: daemon.address, timeoutMs });
          try {
            const f = [patternBytes(2 * MiB, 1)];
            // Grants come after the put's answer: wait for them, put into one (its block is mapped here
            // now), and wait for the next.
            const granted = async (): Promise<void> => {
              for (let i = 0; i < 200 && ucxStats().grantsHeld === 0; i++) await sleep(10);
            };
            await producer.evict(await producer.put(f));
            // Puts and evictions until the daemon lends only blocks this process has mapped already (its
            // pool gives the evicted blocks out again): a write into one needs no new mapping.
            let maps = -1;
            for (let i = 0; i < 20 && ucxStats().peerMaps !== maps; i++) {
              maps = ucxStats().peerMaps;
              await granted();
              const lent = ucxStats().lentPuts;
              await producer.evict(await producer.put(f));
              expect(ucxStats().lentPuts).toBe(lent + 1);
            }
            expect(ucxStats().peerMaps).toBe(maps);
            await granted();
            const before = ucxStats();
            expect(before.grantsHeld).toBeGreaterThan(0);
            await daemon.kill();
            const started = performance.now();
            const e = await failure(() => producer.put(f));
            expect(e.error).toBeInstanceOf(UcxError);
            expect(['UCX_PEER_GONE', 'UCX_TIMEOUT', 'UCX_UNREACHABLE']).toContain(e.code);
            expect(performance.now() - started).toBeLessThan(timeoutMs + 5_000);
            expect(ucxStats().lentPuts).toBe(before.lentPuts);
          } finally {
            await producer.close();
            await daemon.stop();
          }
        }, 30_000);
      }

      it(`a daemon-mode connector ${sharedMemory ? 'puts into lent blocks after its first put of a size' : 'pushes every put (UCX_TLS=tcp: no same-host path)'}; another process reads, finds and evicts each at once`, async () => {
        const daemon = await UcxDaemonProcess.start({ tls });
        const producer = new UcxConnector({ mode: 'daemon', daemon: daemon.address, timeoutMs });
        process.env.PROXYSTORE_UCX_RESERVE = '0';
        const pusher = new UcxConnector({ mode: 'daemon', daemon: daemon.address, timeoutMs });
        delete process.env.PROXYSTORE_UCX_RESERVE;
        const consumer = await UcxChild.start({ connector: { timeoutMs } });
        const control = new ControlClient(daemon.address);
        try {
          const before = ucxStats();
          for (let i = 0; i < 12; i++) {
            const f = [patternBytes(3 * MiB + i, 40 + i), patternBytes(200, i)];
            const key = await producer.put(f);
            // At once, from elsewhere: the commit may still be on its way; lookups wait for it.
            const [got, exists] = await Promise.all([consumer.get(key), control.exists({ id: key.id, owner: daemon.id })]);
            expect(got.sha256).toBe(sha256(f));
            expect(exists).toBe(true);
            expect(await control.evict({ id: key.id, owner: daemon.id })).toBe(true);
            expect((await consumer.get(key)).found).toBe(false);
          }
          const mid = ucxStats();
          if (sharedMemory) {
            // The first put of the class pushes (and asks for blocks); the rest go into lent blocks.
            expect(mid.lentPuts - before.lentPuts).toBeGreaterThanOrEqual(10);
            expect(mid.peerWrites - before.peerWrites).toBe(mid.lentPuts - before.lentPuts);
            expect(mid.grantsHeld).toBeGreaterThan(0);
          } else {
            expect(mid.lentPuts).toBe(before.lentPuts);
          }
          // PROXYSTORE_UCX_RESERVE=0: pushes, and still the same objects.
          const f = [patternBytes(3 * MiB, 99)];
          const key = await pusher.put(f);
          expect((await consumer.get(key)).sha256).toBe(sha256(f));
          expect(ucxStats().lentPuts).toBe(mid.lentPuts);
          // The last connector of this process using the daemon gives its blocks back when it closes.
          await pusher.close();
          expect(ucxStats().grantsHeld).toBe(mid.grantsHeld);
          await producer.close();
          expect(ucxStats().grantsHeld).toBe(0);
          // A grant still on its way when the last connector closed is given back too, not kept.
          await sleep(200);
          expect(ucxStats().grantsHeld).toBe(0);
          expect((await control.identity()).objects).toBe(1);
        } finally {
          await consumer.stop();
          control.close();
          await pusher.close();
          await producer.close();
          await daemon.stop();
        }
      }, 60_000);
    });

    // (h) the daemon side of bad input.
    it('a wrong token and a daemon that is not running are typed errors', async () => {
      const daemon = await UcxDaemonProcess.start({ tls, token: 'right-token' });
      try {
        const wrong = new UcxConnector({ mode: 'daemon', daemon: daemon.address, token: 'wrong-token', timeoutMs });
        const e = await failure(() => wrong.put([new Uint8Array(10)]));
        expect(e.code).toBe('UCX_DAEMON');
        expect((e.error as UcxError).reason).toBe('CONTROL_UNAUTHENTICATED');
        await wrong.close();
        const right = new UcxConnector({ mode: 'daemon', daemon: daemon.address, token: 'right-token', timeoutMs });
        const key = await right.put([new Uint8Array(10).fill(1)]);
        const reader = new UcxConnector({ token: 'wrong-token', timeoutMs });
        // Reads need no token (the key is the capability); control calls do.
        expect((await reader.get(key))?.[0]?.byteLength).toBe(10);
        expect((await failure(() => reader.exists(key))).code).toBe('CONTROL_UNAUTHENTICATED');
        await reader.close();
        await right.close({ clear: true });
        // SIGTERM closes the daemon cleanly.
        expect(await daemon.stop()).toEqual({ code: 0, signal: null });
      } finally {
        await daemon.stop();
      }
      const address = daemon.address; // nobody listens there now
      const orphan = new UcxConnector({ mode: 'daemon', daemon: address, timeoutMs: 2_000 });
      const started = performance.now();
      const e = await failure(() => orphan.put([new Uint8Array(10)]));
      expect(e.code).toBe('UCX_UNREACHABLE');
      expect(e.message).toMatch(/proxystore-ucx-daemon/);
      expect(performance.now() - started).toBeLessThan(10_000);
      await orphan.close();
    });
  });
}
