// report.md and the plots for what the endpoint connectors add: ops rows with several baselines per
// connector (params.baseline), and the endpoint-qps suite's rate cells and chunk-size sweep.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { baselineLabel, markdownReport } from './markdown.js';
import { chunkPoints, chunkSizeSpec, opsLatencySpec, opsRatioSpec, qpsRatePoints, qpsRateSpec, renderPlots } from './plots.js';
import { type ReportJson, type RowJson, rowJson } from './report.js';
import type { Row } from './suite.js';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/sample-results.json', import.meta.url), 'utf8')) as ReportJson;
const MiB = 1024 ** 2;

function stats(median: number) {
  return { samples: 10, median, p99: median * 2, mean: median, min: median / 2, max: median * 3 };
}

function row(partial: Omit<Row, 'subject' | 'baseline'> & { subject: [string, number]; baseline: [string, number] }): RowJson {
  return rowJson({
    ...partial,
    subject: { name: partial.subject[0], stats: stats(partial.subject[1]) },
    baseline: { name: partial.baseline[0], stats: stats(partial.baseline[1]) },
  });
}

const opsRows: RowJson[] = ['put', 'get'].flatMap((op) =>
  [1024, MiB].flatMap((bytes) => [
    row({ suite: 'ops', case: op, connector: 'endpoint', bytes, params: { baseline: 'grpc-js' }, subject: [`store.${op}`, 2], baseline: [`grpc-js ${op}`, 1] }),
    row({ suite: 'ops', case: op, connector: 'endpoint', bytes, params: { baseline: 'tcp' }, subject: [`store.${op}`, 2], baseline: [`tcp ${op}`, 0.5] }),
  ]),
);

const qpsRows: RowJson[] = [
  ...[1, 8].flatMap((clients) =>
    ['get', 'exists'].map((op) =>
      row({
        suite: 'endpoint-qps',
        case: op,
        connector: 'endpoint',
        bytes: MiB,
        params: {
          clients,
          clientProcesses: 2,
          cellMs: 250,
          ops: 100,
          baselineOps: 150,
          opsPerSec: 1000 * clients,
          baselineOpsPerSec: 1500 * clients,
          rateRatio: 1.5,
          ...(op === 'get' ? { aggregateGBps: 0.5, baselineAggregateGBps: 0.75 } : {}),
        },
        subject: [`EndpointConnector.${op}(key)`, 1],
        baseline: [`grpc-js ${op}`, 0.7],
      }),
    ),
  ),
  ...[64 * 1024, MiB].flatMap((chunkSize) =>
    ['put', 'get'].map((op) =>
      row({
        suite: 'endpoint-qps',
        case: `chunk ${op}`,
        connector: 'endpoint',
        bytes: 16 * MiB,
        params: { chunkSize },
        // 1 MiB chunks are faster here.
        subject: ['store.' + op, chunkSize === MiB ? 40 : 80],
        baseline: [`grpc-js ${op}`, 30],
      }),
    ),
  ),
];

const report: ReportJson = { ...fixture, rows: [...opsRows, ...qpsRows] };

describe('ops rows with several baselines', () => {
  const md = markdownReport(report, { plots: [], imageDir: '.' });

  it('names every baseline and gives each its ratio column', () => {
    expect(md).toContain('- put: `store.put` vs grpc-js: `grpc-js put`; tcp: `tcp put`');
    const header = md.split('\n').find((l) => l.startsWith('| size | put median'));
    expect(header).toBe('| size | put median | put ratio (grpc-js) | put ratio (tcp) | get median | get ratio (grpc-js) | get ratio (tcp) |');
    expect(md).toContain('| 1 KiB | 2.00 ms | 2.00× | 4.00× | 2.00 ms | 2.00× | 4.00× |');
    expect(baselineLabel(opsRows[1] as RowJson)).toBe('tcp');
  });

  it('draws the subject once and each baseline as its own dashed series; a ratio line per baseline', () => {
    const points = (opsLatencySpec(report) as unknown as { data: { values: { series: string }[] } }).data.values;
    expect(points.filter((p) => p.series === 'ProxyStore')).toHaveLength(4);
    expect(points.filter((p) => p.series === 'raw grpc-js')).toHaveLength(4);
    expect(points.filter((p) => p.series === 'raw tcp')).toHaveLength(4);
    const dash = JSON.stringify(opsLatencySpec(report));
    expect(dash).toContain('"domain":["ProxyStore","raw grpc-js","raw tcp"]');
    const ratios = (opsRatioSpec(report) as unknown as { data: { values: { connector: string }[] } }).data.values;
    expect(new Set(ratios.map((p) => p.connector))).toEqual(new Set(['endpoint ÷ raw grpc-js', 'endpoint ÷ raw tcp']));
  });
});

describe('endpoint-qps in the report', () => {
  const md = markdownReport(report, { plots: [], imageDir: '.' });

  it('has a rate table per op with the rate ratio, and GB/s only where the op moves the payload', () => {
    expect(md).toContain('## endpoint-qps');
    expect(md).toContain('on 2 cores shared by the endpoint');
    expect(md).toContain('| size | clients | ops/s | raw ops/s | rate ratio | GB/s | raw GB/s | p50 | p99 | raw p50 | raw p99 |');
    expect(md).toContain('| 1 MiB | 8 | 8,000 | 12,000 | 1.50× | 0.500 | 0.750 |');
    expect(md).toContain('| size | clients | ops/s | raw ops/s | rate ratio | p50 | p99 | raw p50 | raw p99 |');
  });

  it('marks the fastest chunk size and names it under the sweep', () => {
    expect(md).toContain('### Chunk size');
    expect(md).toMatch(/\| 16 MiB \| \*\*1 MiB\*\* \| \*\*/);
    expect(md).toContain('Fastest chunk size (put + get): 1 MiB at 16 MiB.');
  });

  it('plots rate against clients for both sides, and bandwidth against chunk size', async () => {
    const points = qpsRatePoints(report);
    expect(points).toContainEqual({ op: 'GET', payload: '1 MiB', series: 'endpoint', clients: 8, rate: 8000 });
    expect(points).toContainEqual({ op: 'GET', payload: '1 MiB', series: 'raw grpc-js', clients: 8, rate: 12000 });
    expect(points).toHaveLength(8);
    expect(chunkPoints(report).filter((p) => p.series === 'endpoint')).toHaveLength(4);
    expect(qpsRateSpec({ ...report, rows: opsRows })).toBeNull();
    expect(chunkSizeSpec({ ...report, rows: opsRows })).toBeNull();
    const files = (await renderPlots(report)).map((p) => [p.file, p.suite]);
    expect(files).toContainEqual(['endpoint-qps-rate.svg', 'endpoint-qps']);
    expect(files).toContainEqual(['endpoint-qps-chunks.svg', 'endpoint-qps']);
  });
});
