// The four store operations, per connector and payload size, each next to the raw operation the
// connector is built on, on the same bytes and in the same run (BenchConnector.raw): put, get, exists,
// evict latency, and put/get bandwidth. The ratio is what ProxyStore (key, serializer, framing,
// connector bookkeeping) adds on top of moving the bytes.
import { randomFillSync } from 'node:crypto';
import { type Key, Store } from '@proxystore/core';
import { KiB, MiB, formatSize, sizesFor } from '../config.js';
import type { BenchConnector, BenchSession } from '../connectors.js';
import { type Measurement, consume, measureInterleaved, timed } from '../measure.js';
import type { Row, Suite, SuiteContext } from '../suite.js';

/** 1 KiB … 256 MiB in steps of 4. */
export const OPS_SIZES: readonly number[] = Array.from({ length: 10 }, (_, i) => KiB * 4 ** i);
export const OPS_QUICK_SIZES: readonly number[] = [KiB, MiB, 16 * MiB];

export const OPS = ['put', 'get', 'exists', 'evict'] as const;

/** Random bytes: nothing on the path may get faster by compressing or deduplicating them. */
export function payload(bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  // randomFillSync fills at most 2^31-1 bytes per call.
  for (let offset = 0; offset < bytes; offset += 1 << 30) randomFillSync(out, offset, Math.min(1 << 30, bytes - offset));
  return out;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

async function sizeRows(ctx: SuiteContext, bench: BenchConnector, session: BenchSession, store: Store, data: Uint8Array): Promise<Row[]> {
  const bytes = data.byteLength;
  const { raw } = session;
  const label = `${bench.name} ${formatSize(bytes)}`;
  const budget = ctx.budgetFor(bytes);
  // put and evict pay an untimed hook per call (the evict after a put, the put before an evict) that
  // costs more than the timed call at small sizes: a tighter wall-clock cap keeps their wall time in line.
  const hookCap = ctx.config.quick ? 1500 : 4000;
  // Their warmup counts calls, not clock time: a warmup budget in timed milliseconds would run hundreds of
  // thousands of untimed hooks first.
  const hooked = { ...budget, warmupTime: 0, wallLimit: Math.min(budget.wallLimit ?? hookCap, hookCap) };

  // Check once, outside the clock, that both paths give back the bytes that went in.
  const key = await store.put(data);
  await raw.put('get', data);
  const viaStore = await store.get<Uint8Array>(key);
  if (!(viaStore instanceof Uint8Array) || !sameBytes(viaStore, data)) throw new Error(`${label}: store.get returned other bytes`);
  if (!sameBytes(await raw.get('get'), data)) throw new Error(`${label}: the raw get returned other bytes`);
  if (!(await store.exists(key)) || !(await raw.exists('get'))) throw new Error(`${label}: exists is false after put`);

  const rows: Row[] = [];
  const row = (op: (typeof OPS)[number], subject: string, stats: [Measurement, Measurement]): void => {
    rows.push({
      suite: 'ops',
      case: op,
      connector: bench.name,
      bytes,
      subject: { name: subject, stats: stats[0] },
      baseline: { name: raw.names[op], stats: stats[1] },
    });
  };

  // put: every sample writes a new object; the one it made is removed after the clock stops.
  ctx.progress.step(`put ${label}`);
  let putKey: Key | undefined;
  row(
    'put',
    'store.put(bytes)',
    (await measureInterleaved(
      [
        timed('store.put(bytes)', async () => void (putKey = await store.put(data)), {
          afterEach: async () => putKey !== undefined && (await store.evict(putKey)),
        }),
        timed(raw.names.put, () => raw.put('put', data), { afterEach: () => raw.evict('put') }),
      ],
      hooked,
    )) as [Measurement, Measurement],
  );

  ctx.progress.step(`get ${label}`);
  row(
    'get',
    'store.get(key)',
    (await measureInterleaved(
      [
        timed('store.get(key)', async () => consume((await store.get<Uint8Array>(key))?.byteLength)),
        timed(raw.names.get, async () => consume((await raw.get('get')).byteLength)),
      ],
      budget,
    )) as [Measurement, Measurement],
  );

  ctx.progress.step(`exists ${label}`);
  row(
    'exists',
    'store.exists(key)',
    (await measureInterleaved(
      [
        timed('store.exists(key)', async () => consume(await store.exists(key))),
        timed(raw.names.exists, async () => consume(await raw.exists('get'))),
      ],
      // exists does not touch the payload: the small-operation budget at every size.
      ctx.budget,
    )) as [Measurement, Measurement],
  );

  // evict: every sample removes an object put before the clock started.
  ctx.progress.step(`evict ${label}`);
  let evictKey: Key | undefined;
  row(
    'evict',
    'store.evict(key)',
    (await measureInterleaved(
      [
        timed('store.evict(key)', async () => evictKey !== undefined && (await store.evict(evictKey)), {
          beforeEach: async () => void (evictKey = await store.put(data)),
        }),
        timed(raw.names.evict, () => raw.evict('evict'), { beforeEach: () => raw.put('evict', data) }),
      ],
      hooked,
    )) as [Measurement, Measurement],
  );

  await store.evict(key);
  await raw.evict('get');
  if (await store.exists(key)) throw new Error(`${label}: the object still exists after evict`);
  return rows;
}

export const opsSuite: Suite = {
  name: 'ops',
  description: 'put / get / exists / evict per connector and size, next to the raw operation on the same bytes',
  async run(ctx) {
    const sizes = sizesFor(ctx.config, { full: OPS_SIZES, quick: OPS_QUICK_SIZES });
    ctx.progress.plan(ctx.connectors.length * sizes.length * OPS.length);
    const rows: Row[] = [];
    for (const bench of ctx.connectors) {
      const session = await bench.open();
      const store = new Store(`bench-ops-${bench.name}`, session.connector, { cacheSize: 0 });
      try {
        for (const size of sizes) rows.push(...(await sizeRows(ctx, bench, session, store, payload(size))));
      } finally {
        await store.close({ clear: true });
        await session.raw.close();
        await session.close();
      }
    }
    return rows;
  },
};
