// The four store operations, per connector and payload size, each next to the raw operation the
// connector is built on, on the same bytes and in the same run (BenchSession.raw, or each of
// BenchSession.baselines, a row each): put, get, exists, evict latency, and put/get bandwidth. The
// ratio is what ProxyStore (key, serializer, framing, connector bookkeeping) adds on top of moving the bytes.
import { randomFillSync } from 'node:crypto';
import { type Key, Store } from '@proxystore/core';
import { KiB, MiB, formatSize, sizesFor } from '../config.js';
import { type BenchConnector, type BenchSession, baselinesOf } from '../connectors.js';
import { type MeasureOptions, type Measurement, type TaskSpec, consume, measureInterleaved, timed } from '../measure.js';
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
  const raws = baselinesOf(session);
  const label = `${bench.name} ${formatSize(bytes)}`;
  const budget = ctx.budgetFor(bytes);
  // put and evict pay an untimed hook per call (the evict after a put, the put before an evict) that
  // costs more than the timed call at small sizes: a tighter wall-clock cap keeps their wall time in line.
  const hookCap = ctx.config.quick ? 1500 : 4000;
  // Their warmup counts calls, not clock time: a warmup budget in timed milliseconds would run hundreds of
  // thousands of untimed hooks first.
  const hooked = { ...budget, warmupTime: 0, wallLimit: Math.min(budget.wallLimit ?? hookCap, hookCap) };

  // Check once, outside the clock, that every path gives back the bytes that went in.
  const key = await store.put(data);
  const viaStore = await store.get<Uint8Array>(key);
  if (!(viaStore instanceof Uint8Array) || !sameBytes(viaStore, data)) throw new Error(`${label}: store.get returned other bytes`);
  if (!(await store.exists(key))) throw new Error(`${label}: exists is false after put`);
  for (const raw of raws) {
    const which = raw.label === undefined ? 'the raw' : `the raw ${raw.label}`;
    await raw.put('get', data);
    if (!sameBytes(await raw.get('get'), data)) throw new Error(`${label}: ${which} get returned other bytes`);
    if (!(await raw.exists('get'))) throw new Error(`${label}: ${which} exists is false after put`);
  }

  const rows: Row[] = [];
  // One measurement per op: the subject and every baseline interleaved (AB…BA); a row per baseline.
  const measure = async (op: (typeof OPS)[number], subject: TaskSpec, baselines: TaskSpec[], options: MeasureOptions): Promise<void> => {
    const [mine, ...theirs] = await measureInterleaved([subject, ...baselines], options);
    raws.forEach((raw, i) => {
      rows.push({
        suite: 'ops',
        case: op,
        connector: bench.name,
        bytes,
        ...(raw.label === undefined ? {} : { params: { baseline: raw.label } }),
        subject: { name: subject.name, stats: mine as Measurement },
        baseline: { name: raw.names[op], stats: theirs[i] as Measurement },
      });
    });
  };

  // put: every sample writes a new object; the one it made is removed after the clock stops.
  ctx.progress.step(`put ${label}`);
  let putKey: Key | undefined;
  await measure(
    'put',
    timed('store.put(bytes)', async () => void (putKey = await store.put(data)), {
      afterEach: async () => putKey !== undefined && (await store.evict(putKey)),
    }),
    raws.map((raw) => timed(raw.names.put, () => raw.put('put', data), { afterEach: () => raw.evict('put') })),
    hooked,
  );

  ctx.progress.step(`get ${label}`);
  await measure(
    'get',
    timed('store.get(key)', async () => consume((await store.get<Uint8Array>(key))?.byteLength)),
    raws.map((raw) => timed(raw.names.get, async () => consume((await raw.get('get')).byteLength))),
    budget,
  );

  ctx.progress.step(`exists ${label}`);
  await measure(
    'exists',
    timed('store.exists(key)', async () => consume(await store.exists(key))),
    raws.map((raw) => timed(raw.names.exists, async () => consume(await raw.exists('get')))),
    // exists does not touch the payload: the small-operation budget at every size.
    ctx.budget,
  );

  // evict: every sample removes an object put before the clock started.
  ctx.progress.step(`evict ${label}`);
  let evictKey: Key | undefined;
  await measure(
    'evict',
    timed('store.evict(key)', async () => evictKey !== undefined && (await store.evict(evictKey)), {
      beforeEach: async () => void (evictKey = await store.put(data)),
    }),
    raws.map((raw) => timed(raw.names.evict, () => raw.evict('evict'), { beforeEach: () => raw.put('evict', data) })),
    hooked,
  );

  await store.evict(key);
  for (const raw of raws) await raw.evict('get');
  if (await store.exists(key)) throw new Error(`${label}: the object still exists after evict`);
  return rows;
}

export const opsSuite: Suite = {
  name: 'ops',
  description: 'put / get / exists / evict per connector and size, next to the raw operation on the same bytes',
  async run(ctx) {
    const sizes = sizesFor(ctx.config, { full: OPS_SIZES, quick: OPS_QUICK_SIZES });
    ctx.progress.plan(ctx.connectors.reduce((steps, c) => steps + (c.ops?.steps(ctx.config) ?? sizes.length * OPS.length), 0));
    const rows: Row[] = [];
    for (const bench of ctx.connectors) {
      // Measured in processes of its own (UCX), with its own sizes and baselines.
      if (bench.ops !== undefined) {
        rows.push(...(await bench.ops.measure(ctx)));
        continue;
      }
      const session = await bench.open();
      const store = new Store(`bench-ops-${bench.name}`, session.connector, { cacheSize: 0 });
      try {
        for (const size of sizes) rows.push(...(await sizeRows(ctx, bench, session, store, payload(size))));
      } finally {
        await store.close({ clear: true });
        for (const raw of baselinesOf(session)) await raw.close();
        await session.close();
      }
    }
    return rows;
  },
};
