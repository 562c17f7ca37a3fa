// The cost of the proxy itself: making one, resolving one on top of the connector's own get, and using
// one after it has resolved, and the fixed cost of the sync bridge that async-only connectors resolve
// through. Baselines are the same operations without the proxy: the plain value, and the connector's get
// of the same object. Creation and access are nanosecond operations, so each sample
// times a batch and every body writes its result to `consume`, which keeps the JIT from deleting the work.
import { type Connector, type Key, MemoryConnector, Store, extract, resolve, resolveAsync } from '@proxystore/core';
import { createProxy, shapeOf, type ProxyFactory } from '@proxystore/proxy';
import { KiB, MiB, formatSize, sizesFor } from '../config.js';
import type { BenchConnector } from '../connectors.js';
import { type Measurement, batched, consume, measureInterleaved, timed } from '../measure.js';
import { payload, sameBytes } from './ops.js';
import type { Row, Suite, SuiteContext } from '../suite.js';

export const RESOLVE_SIZES: readonly number[] = [KiB, 64 * KiB, MiB, 16 * MiB, 64 * MiB];
export const RESOLVE_QUICK_SIZES: readonly number[] = [KiB, MiB];

interface Point {
  x: number;
  y: string;
  z: number[];
}

/** Objects are read round-robin from this many distinct values, so a load cannot be hoisted out of the loop. */
const RING = 16;
const CREATE_BATCH = 1_000;
const ACCESS_BATCH = 20_000;
const ARRAY_LENGTH = 100_000;

function point(i: number): Point {
  return { x: i, y: `point-${i}`, z: [i, i + 1] };
}

async function creation(ctx: SuiteContext, store: Store): Promise<Row[]> {
  const value = point(1);
  const key = await store.put(value);
  const shape = shapeOf(value);
  const factory: ProxyFactory<Point> = { resolveSync: () => value, resolve: async () => value };
  // Results go into a ring that outlives the batch, so escape analysis cannot skip the allocation.
  const ring: unknown[] = new Array(1024).fill(null);

  ctx.progress.step('create');
  const [plain, fromKey, bare] = await measureInterleaved(
    [
      batched(
        'plain object literal',
        (n) => {
          for (let i = 0; i < n; i++) ring[i & 1023] = { x: i, y: 'point', z: ring };
        },
        CREATE_BATCH,
      ),
      batched(
        'store.proxyFromKey(key, { shape })',
        (n) => {
          for (let i = 0; i < n; i++) ring[i & 1023] = store.proxyFromKey<Point>(key, { shape });
        },
        CREATE_BATCH,
      ),
      batched(
        'createProxy(factory, { shape })',
        (n) => {
          for (let i = 0; i < n; i++) ring[i & 1023] = createProxy(factory, { shape });
        },
        CREATE_BATCH,
      ),
    ],
    ctx.budget,
  );
  consume(ring);
  const baseline = { name: 'plain object literal', stats: plain as Measurement };
  return [
    { suite: 'proxy', case: 'create', subject: { name: 'store.proxyFromKey(key, { shape })', stats: fromKey as Measurement }, baseline },
    { suite: 'proxy', case: 'create', subject: { name: 'createProxy(factory, { shape })', stats: bare as Measurement }, baseline },
  ];
}

async function access(ctx: SuiteContext, store: Store): Promise<Row[]> {
  // Resolved store proxies; the baseline objects are the very values behind them (same hidden class).
  const proxies: Point[] = [];
  for (let i = 0; i < RING; i++) {
    const p = await store.proxy(point(i));
    resolve(p);
    proxies.push(p);
  }
  const plain = proxies.map((p) => extract(p));
  if (proxies.some((p, i) => p.x !== i || plain[i]?.x !== i)) throw new Error('proxy access returned a wrong value');

  ctx.progress.step('property access');
  const [plainGet, proxyGet, extractGet] = (await measureInterleaved(
    [
      batched(
        'o.x',
        (n) => {
          let s = 0;
          for (let i = 0; i < n; i++) s += (plain[i & (RING - 1)] as Point).x;
          consume(s);
        },
        ACCESS_BATCH,
      ),
      batched(
        'p.x (resolved)',
        (n) => {
          let s = 0;
          for (let i = 0; i < n; i++) s += (proxies[i & (RING - 1)] as Point).x;
          consume(s);
        },
        ACCESS_BATCH,
      ),
      batched(
        'extract(p).x (resolved)',
        (n) => {
          let s = 0;
          for (let i = 0; i < n; i++) s += extract(proxies[i & (RING - 1)] as Point).x;
          consume(s);
        },
        ACCESS_BATCH,
      ),
    ],
    ctx.budget,
  )) as [Measurement, Measurement, Measurement];

  ctx.progress.step('array loop');
  const array = Array.from({ length: ARRAY_LENGTH }, (_, i) => i);
  const arrayProxy = await store.proxy(array);
  resolve(arrayProxy);
  const arrayPlain = extract(arrayProxy);
  // The same source twice, as a reader writes the loop (length read on each pass). Two literals, not one
  // shared function: a shared one would carry the proxy's type feedback into the plain loop and slow it.
  const sumPlain = (a: readonly number[]): number => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] as number;
    return s;
  };
  const sumProxy = (a: readonly number[]): number => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] as number;
    return s;
  };
  const expected = (ARRAY_LENGTH * (ARRAY_LENGTH - 1)) / 2;
  if (sumProxy(arrayProxy) !== expected || sumPlain(arrayPlain) !== expected) throw new Error('array loop summed wrongly');
  const [loopPlain, loopProxy] = (await measureInterleaved(
    [timed('plain array', () => consume(sumPlain(arrayPlain))), timed('resolved proxy', () => consume(sumProxy(arrayProxy)))],
    ctx.budget,
  )) as [Measurement, Measurement];

  const getBaseline = { name: 'o.x', stats: plainGet };
  return [
    { suite: 'proxy', case: 'get property', subject: { name: 'p.x (resolved)', stats: proxyGet }, baseline: getBaseline },
    {
      suite: 'proxy',
      case: 'get property',
      subject: { name: 'extract(p).x (resolved)', stats: extractGet },
      baseline: getBaseline,
    },
    {
      suite: 'proxy',
      case: `loop ${ARRAY_LENGTH.toExponential(0).replace('+', '')} numbers`,
      subject: { name: 'for (i < p.length) s += p[i]', stats: loopProxy },
      baseline: { name: 'for (i < a.length) s += a[i]', stats: loopPlain },
      note: 'each p.length and p[i] is a get trap (with the index as a string key); extract(p) once is the fast path',
    },
  ];
}

/**
 * From an unresolved proxy to its first use, against the connector's own get of the same object: what
 * resolution adds (deserialize, store bookkeeping, the proxy) beyond fetching the frames. A fresh proxy
 * per sample on a store with cacheSize 0, so every sample is a real first access.
 */
async function resolution(ctx: SuiteContext, bench: BenchConnector, size: number): Promise<Row[]> {
  const session = await bench.open();
  const connector: Connector = session.connector;
  const store = new Store(`bench-proxy-${bench.name}`, connector, { cacheSize: 0 });
  const rows: Row[] = [];
  try {
    const data = payload(size);
    const key: Key = await store.put(data);
    const shape = shapeOf(data);
    const label = `${bench.name} ${formatSize(size)}`;
    const check = store.proxyFromKey<Uint8Array>(key, { shape });
    if (check.byteLength !== size || !sameBytes(check, data)) throw new Error(`${label}: the proxy resolved to other bytes`);
    const budget = ctx.budgetFor(size);
    const common = { suite: 'proxy', connector: bench.name, bytes: size };

    const getSync = connector.getSync?.bind(connector);
    ctx.progress.step(`resolve (sync) ${label}`);
    // An async-only connector's first access reads through the sync bridge (a worker thread runs the
    // connector's get while this thread waits), so its baseline is that get, awaited.
    const baseline =
      getSync === undefined
        ? timed('await connector.get(key)', async () => consume((await connector.get(key))?.length))
        : timed('connector.getSync(key)', () => consume(getSync(key)?.length));
    const [proxiedSync, rawSync] = (await measureInterleaved(
      [timed('proxyFromKey(key).byteLength', () => consume(store.proxyFromKey<Uint8Array>(key, { shape }).byteLength)), baseline],
      budget,
    )) as [Measurement, Measurement];
    rows.push({
      ...common,
      case: 'resolve (sync)',
      subject: { name: 'proxyFromKey(key).byteLength', stats: proxiedSync },
      baseline: { name: baseline.name, stats: rawSync },
      ...(getSync === undefined ? { note: 'the connector has no getSync: the proxy resolves through the sync bridge' } : {}),
    });

    ctx.progress.step(`resolve (async) ${label}`);
    const [proxied, raw] = (await measureInterleaved(
      [
        timed('await resolveAsync(proxyFromKey(key))', async () => {
          const p = store.proxyFromKey<Uint8Array>(key, { shape });
          await resolveAsync(p);
          consume(p.byteLength);
        }),
        timed('await connector.get(key)', async () => consume((await connector.get(key))?.length)),
      ],
      budget,
    )) as [Measurement, Measurement];
    rows.push({
      ...common,
      case: 'resolve (async)',
      subject: { name: 'await resolveAsync(proxyFromKey(key))', stats: proxied },
      baseline: { name: 'await connector.get(key)', stats: raw },
    });
    return rows;
  } finally {
    await store.close({ clear: true });
    await session.raw.close();
    await session.close();
  }
}

/** The connector as one without `getSync` (nor `evictSync`), so synchronous reads take the sync bridge. */
function withoutSyncRead(connector: Connector): Connector {
  return {
    kind: connector.kind,
    put: (frames, options) => connector.put(frames, options),
    get: (key, options) => connector.get(key, options),
    exists: (key, options) => connector.exists(key, options),
    evict: (key, options) => connector.evict(key, options),
    putBatch: (items, options) => connector.putBatch(items, options),
    getBatch: (keys, options) => connector.getBatch(keys, options),
    config: () => connector.config(),
    close: (options) => connector.close(options),
    [Symbol.asyncDispose]: () => connector.close(),
  };
}

/**
 * The sync bridge's fixed cost: `store.getSync(key)` of a 1-byte object through the bridge (post to its
 * worker, the worker's async get, transfer back, wake) against the same connector's `await get(key)` in
 * this thread. A connector with its own getSync is forced through the bridge by hiding it; the row then
 * names it '<name> (via bridge)'. Only cross-process connectors: the bridge worker re-creates the
 * connector from its config, which reaches the same objects only for those.
 */
async function bridgeRoundTrip(ctx: SuiteContext, bench: BenchConnector): Promise<Row[]> {
  const session = await bench.open();
  const direct = session.connector;
  const bridged = direct.getSync === undefined ? direct : withoutSyncRead(direct);
  const name = direct.getSync === undefined ? bench.name : `${bench.name} (via bridge)`;
  const store = new Store(`bench-bridge-${bench.name}`, bridged, { cacheSize: 0 });
  try {
    const data = payload(1);
    const key: Key = await store.put(data);
    const check = store.getSync<Uint8Array>(key)?.value;
    if (check === undefined || !sameBytes(check, data)) throw new Error(`${name}: the bridge read other bytes`);
    ctx.progress.step(`sync bridge round trip ${name}`);
    const [bridge, raw] = (await measureInterleaved(
      [
        timed('store.getSync(key)', () => consume(store.getSync<Uint8Array>(key)?.value.byteLength)),
        timed('await connector.get(key)', async () => consume((await direct.get(key))?.length)),
      ],
      ctx.budget,
    )) as [Measurement, Measurement];
    return [
      {
        suite: 'proxy',
        case: 'sync bridge round trip',
        connector: name,
        subject: { name: 'store.getSync(key)', stats: bridge },
        baseline: { name: 'await connector.get(key)', stats: raw },
        note: 'a 1-byte object: store.getSync through the sync bridge worker vs the connector\'s get awaited in this thread',
      },
    ];
  } finally {
    await store.close({ clear: true });
    await session.raw.close();
    await session.close();
  }
}

export const proxySuite: Suite = {
  name: 'proxy',
  description:
    "Proxy creation, resolution on top of the connector's get, access to a resolved proxy, and the sync bridge's round trip, next to the same work without a proxy",
  async run(ctx) {
    const sizes = sizesFor(ctx.config, { full: RESOLVE_SIZES, quick: RESOLVE_QUICK_SIZES });
    const bridged = ctx.connectors.filter((c) => c.crossProcess);
    ctx.progress.plan(3 + ctx.connectors.length * sizes.length * 2 + bridged.length);
    const store = new Store('bench-proxy', new MemoryConnector(), { cacheSize: 0 });
    const rows: Row[] = [];
    try {
      rows.push(...(await creation(ctx, store)), ...(await access(ctx, store)));
    } finally {
      await store.close({ clear: true });
    }
    for (const bench of ctx.connectors) {
      for (const size of sizes) rows.push(...(await resolution(ctx, bench, size)));
    }
    for (const bench of bridged) rows.push(...(await bridgeRoundTrip(ctx, bench)));
    return rows;
  },
};
