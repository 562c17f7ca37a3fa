import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { KiB, defaultConfig } from '../config.js';
import { endpointBench, endpointUnavailable, memoryBench } from '../connectors.js';
import { budgets } from '../run.js';
import type { Row, Skipped, SuiteContext } from '../suite.js';
import { CHUNK_SIZES, QPS_CLIENTS, QPS_PAYLOADS, combine, endpointQpsSuite, qpsPlan, runEndpointQps, shares } from './endpoint-qps.js';

const unavailable = await endpointUnavailable();

function context(connectors = [endpointBench]): { ctx: SuiteContext; steps: string[]; skipped: Skipped[]; planned: () => number } {
  const config = defaultConfig(tmpdir(), { quick: true, repeat: 2 });
  const steps: string[] = [];
  const skipped: Skipped[] = [];
  let planned = -1;
  const ctx: SuiteContext = {
    config,
    ...budgets(config),
    connectors,
    progress: { plan: (n) => void (planned = n), step: (label) => void steps.push(label) },
    skip: (s) => void skipped.push({ suite: 'endpoint-qps', ...s }),
    log: () => {},
  };
  return { ctx, steps, skipped, planned: () => planned };
}

describe('endpoint-qps plan', () => {
  it('spreads clients over the processes as evenly as they go', () => {
    expect(shares(1, 2)).toEqual([1, 0]);
    expect(shares(8, 2)).toEqual([4, 4]);
    expect(shares(5, 2)).toEqual([3, 2]);
  });

  it('rates a cell over the wall time from the first start to the last call, over every process', () => {
    const cell = combine([
      { ops: 30, beginAt: 1000, endAt: 1500, latencies: Array(30).fill(1) },
      { ops: 20, beginAt: 1010, endAt: 1250, latencies: Array(20).fill(2) },
      { ops: 0, beginAt: 0, endAt: 9999, latencies: [] },
    ]);
    expect(cell.ops).toBe(50);
    expect(cell.rate).toBe(100);
    expect(cell.latencies).toHaveLength(50);
  });

  it('sweeps 1-64 clients and four payloads in a full run, fewer in a quick one; --sizes sets the payloads', () => {
    const full = qpsPlan(defaultConfig('/o'));
    expect(full.clients).toEqual([...QPS_CLIENTS]);
    expect(full.payloads).toEqual([...QPS_PAYLOADS]);
    expect(full.chunkSizes).toEqual([...CHUNK_SIZES]);
    const quick = qpsPlan(defaultConfig('/o', { quick: true }));
    expect(quick.clients).toEqual([1, 8, 64]);
    expect(quick.cellMs).toBeLessThan(full.cellMs);
    expect(qpsPlan(defaultConfig('/o', { sizes: [2 * KiB] })).payloads).toEqual([2 * KiB]);
  });

  it('is skipped, with the reason, when the endpoint connector is not selected', async () => {
    const { ctx, skipped } = context([memoryBench]);
    expect(await endpointQpsSuite.run(ctx)).toEqual([]);
    expect(skipped[0]?.reason).toMatch(/endpoint connector is not selected/);
  });
});

describe.skipIf(unavailable !== null)(`endpoint-qps on a tiny plan${unavailable === null ? '' : ` (skipped: ${unavailable})`}`, () => {
  it('gives a well-formed row per op, payload and client count, and per chunk size', async () => {
    const { ctx, steps, planned } = context();
    const rows = await runEndpointQps(ctx, {
      clients: [1, 3],
      payloads: [KiB],
      ops: ['get', 'exists', 'put', 'evict'],
      cellMs: 60,
      processes: 2,
      chunkSizes: [64 * KiB, 256 * KiB],
      chunkPayloads: [300 * KiB],
    });
    expect(steps).toHaveLength(planned());
    const cells = rows.filter((r) => r.params?.['clients'] !== undefined);
    expect(cells.map((r) => `${r.case}/${r.params?.['clients']}`)).toEqual([
      'get/1', 'exists/1', 'put/1', 'evict/1', 'get/3', 'exists/3', 'put/3', 'evict/3',
    ]);
    for (const r of cells) {
      expect(r).toMatchObject({ suite: 'endpoint-qps', connector: 'endpoint', bytes: KiB });
      expect(r.params?.['opsPerSec']).toBeGreaterThan(0);
      expect(r.params?.['baselineOpsPerSec']).toBeGreaterThan(0);
      expect(r.params?.['rateRatio']).toBeGreaterThan(0);
      expect(r.params?.['clientProcesses']).toBe(2);
      expect(r.params?.['ops']).toBeGreaterThanOrEqual(r.params?.['clients'] as number);
      expect(r.subject.stats.samples).toBe(r.params?.['ops']);
      expect('aggregateGBps' in (r.params ?? {})).toBe(r.case === 'get' || r.case === 'put');
      positive(r);
    }
    const sweep = rows.filter((r) => r.params?.['chunkSize'] !== undefined);
    expect(sweep.map((r) => `${r.case}@${r.params?.['chunkSize']}`)).toEqual([
      'chunk put@65536', 'chunk put@262144', 'chunk get@65536', 'chunk get@262144',
    ]);
    sweep.forEach(positive);
  }, 120_000);
});

function positive(row: Row): void {
  expect(row.subject.stats.median).toBeGreaterThan(0);
  expect(row.baseline?.stats.median).toBeGreaterThan(0);
}
