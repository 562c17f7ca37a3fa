// Store operations on the read path: from an unresolved proxy to its first use, which resolves it
// synchronously through the connector, for each payload size. Each connector is compared with the raw
// operation it is built on, on the same bytes: memory with one copy (Uint8Array#slice), files with
// fs.readFileSync. The ratio is what the store, serializer and proxy add on top of moving the bytes.
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileConnector, MemoryConnector, Store } from '@proxystore/core';
import { shapeOf } from '@proxystore/proxy';
import { formatSize } from '../config.js';
import { type Measurement, consume, measureInterleaved, timed } from '../measure.js';
import type { Row, Suite, SuiteContext } from '../suite.js';

/** Random bytes: nothing on the path may get faster by compressing or deduplicating them. */
function payload(bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  // randomFillSync fills at most 2^31-1 bytes per call; chunk to be safe for any size.
  for (let offset = 0; offset < bytes; offset += 1 << 30) {
    randomFillSync(out, offset, Math.min(1 << 30, bytes - offset));
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

async function resolveRows(
  ctx: SuiteContext,
  store: Store,
  label: string,
  data: Uint8Array,
  baseline: { name: string; fn: () => Uint8Array },
): Promise<Row[]> {
  const bytes = data.byteLength;
  const key = await store.put(data);
  const shape = shapeOf(data);
  // Check once, outside the clock, that every path gives back the bytes that went in.
  const check = store.proxyFromKey<Uint8Array>(key, { shape });
  const direct = store.getSync<Uint8Array>(key)?.value;
  if (check.byteLength !== bytes || !sameBytes(check, data) || direct === undefined || !sameBytes(direct, data)) {
    throw new Error(`${label} ${formatSize(bytes)}: the data read back differs from the data written`);
  }
  if (!sameBytes(baseline.fn(), data)) throw new Error(`${label} ${formatSize(bytes)}: the baseline read other bytes`);
  ctx.log(`ops › resolve (${label}) ${formatSize(bytes)}`);
  const [base, proxied, got] = (await measureInterleaved(
    [
      timed(baseline.name, () => consume(baseline.fn().byteLength)),
      timed('store.proxyFromKey(key, { shape }).byteLength', () => {
        // A fresh proxy each time (cacheSize 0), so every sample is a real first access.
        const p = store.proxyFromKey<Uint8Array>(key, { shape });
        consume(p.byteLength);
      }),
      // The same read without a proxy: separates what the connector and serializer cost from what the
      // proxy adds (its creation, and the resolved value's lifetime, which is tied to the proxy's).
      timed('store.getSync(key)', () => consume(store.getSync<Uint8Array>(key)?.value.byteLength)),
    ],
    ctx.budgetFor(bytes),
  )) as [Measurement, Measurement, Measurement];
  await store.evict(key);
  const baselineMeasured = { name: baseline.name, stats: base };
  return [
    {
      suite: 'ops',
      case: `resolve (${label})`,
      bytes,
      subject: { name: 'proxyFromKey(key).byteLength', stats: proxied },
      baseline: baselineMeasured,
    },
    {
      suite: 'ops',
      case: `getSync (${label})`,
      bytes,
      subject: { name: 'store.getSync(key)', stats: got },
      baseline: baselineMeasured,
    },
  ];
}

export const opsSuite: Suite = {
  name: 'ops',
  description: 'Unresolved proxy to first access through the memory and file connectors, per payload size',
  async run(ctx) {
    const rows: Row[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'proxystore-bench-'));
    const memory = new Store('bench-ops-memory', new MemoryConnector(), { cacheSize: 0 });
    const files = new Store('bench-ops-file', new FileConnector({ directory: join(dir, 'store') }), { cacheSize: 0 });
    try {
      for (const size of ctx.config.sizes) {
        const data = payload(size);
        rows.push(...(await resolveRows(ctx, memory, 'memory', data, { name: 'Uint8Array#slice()', fn: () => data.slice() })));
        const raw = join(dir, `raw-${size}.bin`);
        writeFileSync(raw, data);
        rows.push(...(await resolveRows(ctx, files, 'file', data, { name: 'fs.readFileSync(path)', fn: () => readFileSync(raw) })));
        rmSync(raw, { force: true });
      }
      return rows;
    } finally {
      await memory.close({ clear: true });
      await files.close({ clear: true });
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
