// The memory suite end to end, in real processes (built dist/ scripts): rows in bytes with a by-value
// baseline, what each variant leaves in the store, and a failing consumer surfacing as an error that
// names it. No assertion on the sizes of the peaks beyond "positive": those depend on the machine.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '@proxystore/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KiB, defaultConfig, type BenchConfig } from '../config.js';
import { type BenchConnector, type BenchSession, fileBench, memoryBench } from '../connectors.js';
import type { MeasureOptions } from '../measure.js';
import type { Row, Skipped, SuiteContext } from '../suite.js';
import { type MemoryShape, createMemorySuite, memorySuite } from '../suites/memory.js';
import { MemoryChildError } from './children.js';
import { runMemoryWorkload } from './workload.js';

const SIZE = 256 * KiB;
const TINY: MemoryShape = { sizes: [SIZE], objects: 2, consumers: 2, repeat: 1 };
const tiny = createMemorySuite({ full: TINY, quick: TINY });

let outDir: string;
beforeAll(() => {
  outDir = mkdtempSync(join(tmpdir(), 'bench-memory-test-'));
});
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

function context(connectors: readonly BenchConnector[], overrides: Partial<BenchConfig> = {}) {
  const budget: MeasureOptions = { time: 1, iterations: 1, warmupTime: 0, warmupIterations: 0 };
  const steps: string[] = [];
  const plans: number[] = [];
  const skipped: Array<Omit<Skipped, 'suite'>> = [];
  const ctx: SuiteContext = {
    config: defaultConfig(outDir, { repeat: 1, ...overrides }),
    budget,
    budgetFor: () => budget,
    connectors,
    progress: { plan: (n) => plans.push(n), step: (label) => steps.push(label) },
    skip: (s) => skipped.push(s),
    log: () => {},
  };
  return { ctx, steps, plans, skipped };
}

describe('memory suite', () => {
  it('returns producer and consumer rows in bytes, each against by value', async () => {
    const { ctx, steps, plans } = context([memoryBench, fileBench]);
    const rows = await tiny.run(ctx);

    expect(plans).toEqual([3]);
    expect(steps).toHaveLength(3);
    expect(rows.map((r) => [r.case, r.params?.['variant']])).toEqual([
      ['peak RSS (producer)', 'proxy'],
      ['peak RSS (consumer)', 'proxy'],
      ['peak RSS (producer)', 'proxy + evict'],
      ['peak RSS (consumer)', 'proxy + evict'],
    ]);
    for (const row of rows) {
      expect(row).toMatchObject({ suite: 'memory', connector: 'file', bytes: SIZE });
      expect(row.params).toMatchObject({ objects: 2, objectBytes: SIZE, consumers: 2 });
      expect(row.subject.unit).toBe('bytes');
      expect(row.subject.name).toBe(`${String(row.params?.['variant'])} (file)`);
      expect(row.baseline).toMatchObject({ name: 'by value', unit: 'bytes' });
      for (const stats of [row.subject.stats, (row.baseline as NonNullable<Row['baseline']>).stats]) {
        expect(stats.samples).toBe(1);
        expect(stats.median).toBeGreaterThan(0);
      }
    }
  });

  it('leaves every object in the store with proxy, and none with proxy + evict', async () => {
    const { ctx } = context([fileBench]);
    const rows = await tiny.run(ctx);
    const left = (variant: string) => rows.find((r) => r.params?.['variant'] === variant)?.params;

    // Each object is used by exactly one consumer: evict-on-use removes all of them.
    expect(left('proxy')).toMatchObject({ storeObjectsLeft: 2, storeBytesLeft: 2 * SIZE });
    expect(left('proxy + evict')).toMatchObject({ storeObjectsLeft: 0, storeBytesLeft: 0 });
  });

  it('skips, with a reason, when no selected connector reaches other processes', async () => {
    const { ctx, skipped, plans } = context([memoryBench]);
    expect(await memorySuite.run(ctx)).toEqual([]);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]?.reason).toMatch(/cross-process/);
    expect(plans).toEqual([]);
  });

  it('skips a size whose by-value run would not fit in memory, without starting a process', async () => {
    const { ctx, skipped, steps } = context([fileBench], { sizes: [2 ** 40] });
    expect(await tiny.run(ctx)).toEqual([]);
    expect(steps).toEqual([]);
    expect(skipped[0]?.reason).toMatch(/^1024 GiB: by value would need/);
  });
});

describe('runMemoryWorkload', () => {
  let session: BenchSession;
  let store: Store;
  beforeAll(async () => {
    session = await fileBench.open();
    store = new Store('memory-test', session.connector, { cacheSize: 0 });
  });
  afterAll(async () => {
    await store.close({ clear: true });
    await session.close();
  });

  it('reports a peak RSS per process, with an odd split of objects over consumers', async () => {
    const run = await runMemoryWorkload({ variant: 'proxy + evict', objects: 3, objectBytes: 64 * KiB, consumers: 2, store });
    expect(run.producerPeakRss).toBeGreaterThan(0);
    expect(run.consumerPeakRss).toHaveLength(2);
    expect(run.consumerPeakRss.every((rss) => rss > 0)).toBe(true);
    expect(run).toMatchObject({ storeObjectsLeft: 0, storeBytesLeft: 0 });
  });

  for (const variant of ['by value', 'proxy'] as const) {
    it(`names a consumer that fails, with its stderr (${variant})`, async () => {
      const failing = runMemoryWorkload({
        variant,
        objects: 2,
        objectBytes: 64 * KiB,
        consumers: 2,
        store,
        failConsumer: 1,
        timeoutMs: 20_000,
      });
      await expect(failing).rejects.toThrow(MemoryChildError);
      await expect(failing).rejects.toThrow(
        new RegExp(`^producer \\(${variant.replace('+', '\\+')}\\): consumer 1 exited with code 1 before sending its report; stderr:\\n[^]*failing on purpose`),
      );
    });
  }

  it('gives up on a producer that stays silent past the timeout, instead of hanging', async () => {
    const silent = runMemoryWorkload({ variant: 'by value', objects: 1, objectBytes: 1, consumers: 1, timeoutMs: 1 });
    await expect(silent).rejects.toThrow(/^producer \(by value\) did not send the pids of its consumers within 1 ms/);
  });

  it('rejects a proxy variant without a store', async () => {
    await expect(runMemoryWorkload({ variant: 'proxy', objects: 1, objectBytes: 1, consumers: 1 })).rejects.toThrow(/needs a store/);
  });
});
