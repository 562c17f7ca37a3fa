import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../config.js';
import { fileBench, memoryBench } from '../connectors.js';
import { budgets } from '../run.js';
import type { Row, Skipped, SuiteContext } from '../suite.js';
import { opsSuite, OPS } from './ops.js';
import { proxySuite } from './proxy.js';

function context(sizes: number[]): { ctx: SuiteContext; steps: string[]; skipped: Skipped[] } {
  const config = defaultConfig(tmpdir(), { quick: true, sizes, repeat: 2 });
  const steps: string[] = [];
  const skipped: Skipped[] = [];
  let planned = -1;
  const ctx: SuiteContext = {
    config,
    ...budgets(config),
    connectors: [memoryBench, fileBench],
    progress: {
      plan: (n) => void (planned = n),
      step: (label) => void steps.push(label),
    },
    skip: (s) => void skipped.push({ suite: 'test', ...s }),
    log: () => {},
  };
  Object.defineProperty(steps, 'planned', { get: () => planned });
  return { ctx, steps, skipped };
}

function positive(row: Row): void {
  expect(row.subject.stats.samples).toBeGreaterThanOrEqual(1);
  expect(row.subject.stats.median).toBeGreaterThan(0);
  expect(row.baseline?.stats.median).toBeGreaterThan(0);
}

describe('ops suite', () => {
  it('times every operation on every connector and size next to its raw baseline', async () => {
    const sizes = [1024, 300 * 1024];
    const { ctx, steps } = context(sizes);
    const rows = await opsSuite.run(ctx);
    expect(rows).toHaveLength(2 * sizes.length * OPS.length);
    expect(steps).toHaveLength((steps as unknown as { planned: number }).planned);
    for (const connector of ['memory', 'file']) {
      for (const size of sizes) {
        const cases = rows.filter((r) => r.connector === connector && r.bytes === size).map((r) => r.case);
        expect(cases).toEqual([...OPS]);
      }
    }
    rows.forEach(positive);
    expect(rows.find((r) => r.connector === 'file' && r.case === 'get')?.baseline?.name).toBe('fs.promises.readFile(path)');
    expect(rows.find((r) => r.connector === 'memory' && r.case === 'put')?.subject.name).toBe('store.put(bytes)');
  }, 60_000);
});

describe('proxy suite', () => {
  it('measures creation, access and resolution on both connectors', async () => {
    const { ctx, steps, skipped } = context([2048]);
    const rows = await proxySuite.run(ctx);
    expect(steps).toHaveLength((steps as unknown as { planned: number }).planned);
    expect(skipped).toEqual([]);
    expect(rows.filter((r) => r.case === 'create')).toHaveLength(2);
    expect(rows.filter((r) => r.case === 'get property')).toHaveLength(2);
    for (const connector of ['memory', 'file']) {
      const resolved = rows.filter((r) => r.connector === connector && r.bytes === 2048).map((r) => r.case);
      expect(resolved).toEqual(['resolve (sync)', 'resolve (async)']);
    }
    rows.forEach(positive);
  }, 60_000);
});
