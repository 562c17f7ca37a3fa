// The measuring process of the UCX rows, started by session.ts with the transport's UCX_TLS (UCX reads it
// once per process, so each transport gets its own). It times one implementation at a time, on request:
// a batch of calls, one in flight, after a warm-up; the parent interleaves the batches of the subject and
// the baselines (and ucx_perftest, which it runs itself).
import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { type Key, Store } from '@proxystore/core';
import { type Endpoint, type MemoryRegion, type RemoteKey, loadNative } from '@proxystore/ucx/native';
import {
  AM_RAW_PULL,
  AM_RAW_PULL_DONE,
  AM_RAW_PUSH,
  type RemoteBlock,
  type RunResult,
  type SetupOptions,
  type UcxImpl,
  digest,
  fromBase64,
  toBase64,
} from './protocol.js';
import { type Request, serveRequests } from './rpc.js';

/** A source of calls to time: `call(bytes)` does one; `after`, if any, cleans up after each, off the clock. */
interface Op {
  call(bytes: number): Promise<unknown>;
  after?: () => Promise<unknown>;
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = (sorted.length - 1) / 2;
  return ((sorted[Math.floor(mid)] as number) + (sorted[Math.ceil(mid)] as number)) / 2;
}

async function timeCalls(op: Op, bytes: number, iterations: number, warmup: number): Promise<RunResult> {
  for (let i = 0; i < warmup; i++) {
    await op.call(bytes);
    await op.after?.();
  }
  const times = new Array<number>(iterations);
  let total = 0;
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    await op.call(bytes);
    const took = performance.now() - start;
    times[i] = took;
    total += took;
    await op.after?.();
  }
  return { msPerOp: total / iterations, p50Ms: medianOf(times), calls: iterations };
}

function randomBytes(bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let at = 0; at < bytes; at += 1 << 30) randomFillSync(out, at, Math.min(1 << 30, bytes - at));
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

await serveRequests(async () => {
  const ucx = loadNative();
  let raw: { ep: Endpoint; pushEp: Endpoint; rkey: RemoteKey; address: bigint; dest: MemoryRegion; putSource: MemoryRegion } | undefined;
  let pullDone: (() => void) | undefined;
  const empty = new Uint8Array(0);
  let pushSource: MemoryRegion | undefined;
  const header = new DataView(new ArrayBuffer(8));

  ucx.setAmHandler(AM_RAW_PULL_DONE, () => {
    const done = pullDone;
    pullDone = undefined;
    done?.();
  });

  // The store over UcxConnector (daemon mode, to the owner's UcxServer), once `connectorSetup` made it;
  // the object each get reads and the payload each put writes, per size (`connectorPrepare`).
  let store: Store | undefined;
  let releaseValue: ((value: unknown) => boolean) | undefined;
  let getKey: Key | undefined;
  let payload: Uint8Array | undefined;
  let putKey: Key | undefined;
  const needStore = (): Store => {
    if (store === undefined) throw new Error('connectorSetup first');
    return store;
  };

  const ops: Partial<Record<UcxImpl, Op>> = {
    'rma-get': {
      call(bytes) {
        if (raw === undefined) throw new Error('setup first');
        return raw.ep.get(raw.dest, 0, bytes, raw.address, raw.rkey);
      },
    },
    'pull-put': {
      async call(bytes) {
        if (raw === undefined) throw new Error('setup first');
        const done = new Promise<void>((resolve) => (pullDone = resolve));
        header.setBigUint64(0, BigInt(bytes), true);
        await raw.ep.amSend(AM_RAW_PULL, header, empty);
        await done;
      },
    },
    'push-put': {
      async call(bytes) {
        if (raw === undefined) throw new Error('setup first');
        if (pushSource?.byteLength !== bytes) {
          pushSource?.release();
          pushSource = ucx.acquire(bytes);
          if (bytes > 0) randomFillSync(new Uint8Array(pushSource.buffer, pushSource.byteOffset, bytes));
        }
        const done = new Promise<void>((resolve) => (pullDone = resolve));
        await raw.pushEp.amSend(AM_RAW_PUSH, empty, pushSource);
        await done;
      },
    },
    'connector-get': {
      async call(bytes) {
        const value = await needStore().get<Uint8Array>(getKey as Key);
        if (value?.byteLength !== bytes) throw new Error(`store.get returned ${value?.byteLength ?? 'nothing'}, not ${bytes} B`);
      },
    },
    'connector-get-release': {
      async call(bytes) {
        const value = await needStore().get<Uint8Array>(getKey as Key);
        if (value?.byteLength !== bytes) throw new Error(`store.get returned ${value?.byteLength ?? 'nothing'}, not ${bytes} B`);
        if (bytes > 0 && releaseValue?.(value) !== true) throw new Error('releaseValue did not take the value\'s block');
      },
    },
    'connector-getsync-release': {
      async call(bytes) {
        const value = needStore().getSync<Uint8Array>(getKey as Key)?.value;
        if (value?.byteLength !== bytes) throw new Error(`store.getSync returned ${value?.byteLength ?? 'nothing'}, not ${bytes} B`);
        if (bytes > 0 && releaseValue?.(value) !== true) throw new Error('releaseValue did not take the value\'s block');
      },
    },
    'connector-put': {
      async call(bytes) {
        if (payload?.byteLength !== bytes) throw new Error(`connectorPrepare ${bytes} first`);
        putKey = await needStore().put(payload);
      },
      // Each put makes an object in the owner; it is removed off the clock.
      async after() {
        if (putKey !== undefined) await needStore().evict(putKey);
        putKey = undefined;
      },
    },
  };

  const handlers: Record<string, (req: Request) => unknown> = {
    /** Connects to the owner's block; returns how the owner reaches this process's put source. */
    async setup(req) {
      const { maxBytes, errorMode, owner } = req as unknown as SetupOptions & { owner: RemoteBlock };
      const ep = await ucx.connectAddress(fromBase64(owner.worker), { errorMode });
      // Raw pushes go over an endpoint of the errorMode the connector's daemon puts push with (over tcp
      // 'none': UCX 1.13 gives a 'peer' endpoint there no zero-copy rendezvous), so both move bytes alike.
      const { pushErrorMode } = await import('@proxystore/ucx');
      const pushMode = pushErrorMode(errorMode);
      const pushEp = pushMode === errorMode ? ep : await ucx.connectAddress(fromBase64(owner.worker), { errorMode: pushMode });
      const dest = ucx.allocate(maxBytes);
      const putSource = ucx.allocate(maxBytes);
      const bytes = new Uint8Array(putSource.buffer, putSource.byteOffset, putSource.byteLength);
      for (let at = 0; at < maxBytes; at += 1 << 30) randomFillSync(bytes, at, Math.min(1 << 30, maxBytes - at));
      raw = { ep, pushEp, rkey: ep.unpackRkey(fromBase64(owner.rkey)), address: BigInt(owner.address), dest, putSource };
      const block: RemoteBlock = { worker: toBase64(ucx.workerAddress()), address: putSource.address.toString(), rkey: toBase64(putSource.packRkey()) };
      return block;
    },
    /** One call of `impl` outside any clock, for the byte checks. */
    async once(req) {
      const { impl, bytes } = req as unknown as { impl: UcxImpl; bytes: number };
      const op = ops[impl];
      if (op === undefined) throw new Error(`no implementation ${impl} here`);
      await op.call(bytes);
      await op.after?.();
      return null;
    },
    /** A store over a daemon-mode UcxConnector to the owner's UcxServer at `daemon`. */
    async connectorSetup(req) {
      const { daemon, token, errorMode } = req as unknown as { daemon: string; token: string; errorMode: SetupOptions['errorMode'] };
      const { UcxConnector, releaseValue: release } = await import('@proxystore/ucx');
      releaseValue = release;
      store = new Store('bench-ucx', new UcxConnector({ mode: 'daemon', daemon, token, errorMode }), { cacheSize: 0 });
      return null;
    },
    /**
     * The object the gets of this size read (the previous one evicted) and the payload its puts write;
     * checks outside any clock that a put and a get through the store give back the same bytes.
     */
    async connectorPrepare(req) {
      const { bytes } = req as unknown as { bytes: number };
      const s = needStore();
      if (getKey !== undefined) await s.evict(getKey);
      payload = randomBytes(bytes);
      getKey = await s.put(payload);
      const back = await s.get<Uint8Array>(getKey);
      if (!(back instanceof Uint8Array) || !sameBytes(back, payload)) throw new Error(`store.get of ${bytes} B returned other bytes`);
      return null;
    },
    /** The addon's counters (pool hits and misses, registrations, wakeups): what a batch cost besides time. */
    stats() {
      return ucx.stats();
    },
    digest(req) {
      const { what, bytes } = req as unknown as { what: 'dest' | 'putSource'; bytes: number };
      if (raw === undefined) throw new Error('setup first');
      const region = raw[what];
      return digest(region.buffer, bytes, region.byteOffset);
    },
    async run(req): Promise<RunResult> {
      const { impl, bytes, iterations, warmup } = req as unknown as { impl: UcxImpl; bytes: number; iterations: number; warmup: number };
      const op = ops[impl];
      if (op === undefined) throw new Error(`no implementation ${impl} here`);
      return timeCalls(op, bytes, iterations, warmup);
    },
  };

  return {
    info: { pid: process.pid, version: ucx.contextInfo().version },
    handlers,
    async close() {
      await store?.close({ clear: true });
      if (raw !== undefined) await raw.ep.close({ force: true });
    },
  };
});
