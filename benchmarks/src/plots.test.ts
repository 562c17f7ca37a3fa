import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BY_VALUE,
  estimateTextWidth,
  logTicks,
  memoryBars,
  memorySpec,
  opsBandwidthSpec,
  opsLatencySpec,
  opsRatioSpec,
  proxyOverheadSpec,
  ratioBarsSpec,
  renderPlots,
  renderSvg,
  rttPoints,
  serializeSpec,
  speedupPoints,
  taskRttSpec,
} from './plots.js';
import type { TopLevelSpec } from 'vega-lite';
import type { Plot } from './plots.js';
import type { ReportJson, RowJson } from './report.js';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/sample-results.json', import.meta.url), 'utf8')) as ReportJson;

function only(...suites: string[]): ReportJson {
  return { ...fixture, rows: fixture.rows.filter((r) => suites.includes(r.suite)) };
}

function values(spec: unknown): Record<string, unknown>[] {
  return (spec as { data: { values: Record<string, unknown>[] } }).data.values;
}

function row(suite: string, kase: string, pred: (r: RowJson) => boolean = () => true): RowJson {
  const r = fixture.rows.find((x) => x.suite === suite && x.case === kase && pred(x));
  if (r === undefined) throw new Error(`fixture has no ${suite}/${kase} row`);
  return r;
}

describe('renderPlots', () => {
  let plots: Plot[] = [];
  const svgOf = (file: string): string => {
    const plot = plots.find((p) => p.file === file);
    if (plot === undefined) throw new Error(`no ${file}`);
    return plot.svg;
  };

  it('draws every plot the full fixture has data for, in a fixed order, each tagged with its suite', async () => {
    plots = await renderPlots(fixture);
    expect(plots.map((p) => [p.file, p.suite])).toEqual([
      ['ops-latency.svg', 'ops'],
      ['ops-bandwidth.svg', 'ops'],
      ['ops-ratio.svg', 'ops'],
      ['proxy-ratio.svg', 'proxy'],
      ['proxy-overhead.svg', 'proxy'],
      ['task-rtt.svg', 'task-rtt'],
      ['task-rtt-speedup.svg', 'task-rtt'],
      ['memory.svg', 'memory'],
      ['serialize.svg', 'serialize'],
    ]);
    for (const p of plots) expect(p.title).not.toBe('');
  }, 30_000);

  it('returns well-formed standalone SVG of a readable size', () => {
    for (const p of plots) {
      expect(p.svg.startsWith('<svg'), p.file).toBe(true);
      expect(p.svg.trimEnd().endsWith('</svg>'), p.file).toBe(true);
      const size = /^<svg[^>]*\swidth="(\d+)"\s+height="(\d+)"/.exec(p.svg);
      expect(size, p.file).not.toBeNull();
      const [width, height] = [Number(size?.[1]), Number(size?.[2])];
      expect(width, p.file).toBeGreaterThan(300);
      expect(width, p.file).toBeLessThan(720);
      expect(height, p.file).toBeGreaterThan(100);
    }
  });

  it('labels the ops plots: axis titles with units, sizes, connectors and both series', () => {
    const latency = svgOf('ops-latency.svg');
    for (const text of ['median latency (log scale)', 'payload size (log scale)', '1 KiB', '1 MiB', '64 MiB', 'memory', 'file', 'ProxyStore', 'raw baseline', 'put', 'evict', '10 µs']) {
      expect(latency).toContain(`>${text}<`);
    }
    expect(svgOf('ops-bandwidth.svg')).toContain('>bandwidth (GB/s, log scale)<');
    expect(svgOf('ops-bandwidth.svg')).not.toContain('>exists<');
    expect(svgOf('ops-ratio.svg')).toContain('>ratio to raw op (×, log scale)<');
  });

  it('marks the sizes that are impossible by value in the task-rtt plot', () => {
    const rtt = svgOf('task-rtt.svg');
    for (const text of ['impossible by value', BY_VALUE, 'by proxy (file)', 'by proxy (redis)', 'task input size (log scale)', '100 MB', '10 MB']) {
      expect(rtt).toContain(`>${text}<`);
    }
    expect(svgOf('task-rtt-speedup.svg')).toContain('>speedup (×, log scale)<');
  });

  it('labels the memory bars and the ratio bars', () => {
    const memory = svgOf('memory.svg');
    for (const text of ['peak RSS (MiB)', 'by value', 'proxy', 'proxy + evict', 'peak RSS (producer)', 'peak RSS (consumer)', '64 MiB']) {
      expect(memory).toContain(`>${text}<`);
    }
    const serialize = svgOf('serialize.svg');
    expect(serialize).toContain('>records 10k: round trip<');
    expect(serialize).toContain('>1.19×<');
    // The row whose ratio is null has no bar.
    expect(serialize).not.toContain('deserialize');
    expect(svgOf('proxy-overhead.svg')).toContain('>create: store.proxyFromKey(key, { shape })<');
  });

  it('is deterministic: the same report renders to the same bytes', async () => {
    const again = await renderPlots(fixture);
    expect(again.map((p) => p.svg)).toEqual(plots.map((p) => p.svg));
  }, 30_000);

  it('numbers clip paths per file, not from vega process-wide counter', async () => {
    const spec: TopLevelSpec = {
      data: { values: [{ x: 1, y: 2 }, { x: 2, y: 3 }] },
      mark: { type: 'line', clip: true },
      encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } },
    };
    const [a, b] = [await renderSvg(spec, 'chart'), await renderSvg(spec, 'chart')];
    expect(a).toBe(b);
    expect(a).toContain('id="chart-clip1"');
    expect(a).toContain('url(#chart-clip1)');
  });

  it('draws nothing for suites that are absent', async () => {
    expect(await renderPlots({ ...fixture, rows: [] })).toEqual([]);
    const serializeOnly = await renderPlots(only('serialize'));
    expect(serializeOnly.map((p) => p.file)).toEqual(['serialize.svg']);
    const rttOnly = await renderPlots(only('task-rtt'));
    expect(rttOnly.map((p) => p.file)).toEqual(['task-rtt.svg', 'task-rtt-speedup.svg']);
  }, 30_000);
});

describe('spec builders', () => {
  it('return null without rows of their suite', () => {
    const empty = { ...fixture, rows: [] };
    for (const build of [opsLatencySpec, opsBandwidthSpec, opsRatioSpec, proxyOverheadSpec, taskRttSpec, memorySpec, serializeSpec]) {
      expect(build(empty)).toBeNull();
    }
  });

  it('ops latency: one subject and one baseline point per row, at the medians', () => {
    const points = values(opsLatencySpec(fixture));
    const ops = fixture.rows.filter((r) => r.suite === 'ops');
    expect(points).toHaveLength(ops.length * 2);
    const put = row('ops', 'put', (r) => r.connector === 'file' && r.bytes === 1024 ** 2);
    expect(points).toContainEqual({ op: 'put', connector: 'file', series: 'ProxyStore', size: 1024 ** 2, value: put.subject.median });
    expect(points).toContainEqual({ op: 'put', connector: 'file', series: 'raw baseline', size: 1024 ** 2, value: put.baseline?.median });
  });

  it('ops bandwidth: put and get only, from gbPerSec', () => {
    const points = values(opsBandwidthSpec(fixture));
    expect(new Set(points.map((p) => p['op']))).toEqual(new Set(['put', 'get']));
    const get = row('ops', 'get', (r) => r.connector === 'memory' && r.bytes === 64 * 1024 ** 2);
    expect(points).toContainEqual({ op: 'get', connector: 'memory', series: 'ProxyStore', size: 64 * 1024 ** 2, value: get.subject.gbPerSec });
  });

  it('ops ratio: the rows ratios, and a y domain that holds the 1× rule', () => {
    const spec = opsRatioSpec(fixture) as unknown as { spec: { layer: { encoding: { y: { scale: { domain: number[] } } } }[] } };
    const points = values(spec);
    const evict = row('ops', 'evict', (r) => r.connector === 'memory' && r.bytes === 1024);
    expect(points).toContainEqual({ op: 'evict', connector: 'memory', series: 'ProxyStore', size: 1024, value: evict.ratio });
    const [lo, hi] = spec.spec.layer[0]?.encoding.y.scale.domain ?? [];
    expect(lo).toBeLessThanOrEqual(1);
    expect(hi).toBeGreaterThanOrEqual(Math.max(...points.map((p) => p['value'] as number)));
    expect(JSON.stringify(spec.spec.layer[1])).toContain('"datum":1');
  });

  it('task-rtt speedup = by-value median / by-proxy median; impossible rows have none', () => {
    const points = speedupPoints(fixture);
    const rtt = fixture.rows.filter((r) => r.suite === 'task-rtt');
    expect(points).toHaveLength(rtt.filter((r) => r.baseline !== undefined).length);
    for (const r of rtt.filter((x) => x.baseline !== undefined)) {
      expect(points).toContainEqual({ connector: r.connector, size: r.bytes, speedup: (r.baseline?.median ?? 0) / r.subject.median });
    }
    expect(points.some((p) => p.size === 1e8)).toBe(false);
    expect(values(taskRttSpec(fixture))).toBeDefined();
  });

  it('task-rtt RTT: by value once per size where it was possible, by proxy per connector', () => {
    const points = rttPoints(fixture);
    const byValue = points.filter((p) => p.series === BY_VALUE);
    expect(byValue.map((p) => p.size)).toEqual([1e3, 1e6]);
    expect(points.filter((p) => p.series === 'by proxy (redis)').map((p) => p.size)).toEqual([1e3, 1e6, 1e8]);
    const region = JSON.stringify(taskRttSpec(fixture));
    expect(region).toContain('"from":10000000');
    expect(region).toContain('"to":100000000');
    expect(region).toContain('impossible by value');
  });

  it('task-rtt without impossible sizes has no shaded region', () => {
    const possible = { ...fixture, rows: fixture.rows.filter((r) => r.suite === 'task-rtt' && r.impossible === undefined) };
    expect(JSON.stringify(taskRttSpec(possible))).not.toContain('impossible by value');
  });

  it('memory: the by-value bar once per case and size, each variant, in MiB', () => {
    const bars = memoryBars(fixture);
    const producer = bars.filter((b) => b.case === 'peak RSS (producer)');
    expect(producer.map((b) => b.series)).toEqual(['by value', 'proxy', 'proxy + evict']);
    const evict = row('memory', 'peak RSS (producer)', (r) => r.params?.['variant'] === 'proxy + evict');
    expect(producer[2]).toEqual({ case: 'peak RSS (producer)', group: '64 MiB', series: 'proxy + evict', mib: evict.subject.median / 2 ** 20 });
    expect(producer[0]?.mib).toBe((evict.baseline?.median ?? 0) / 2 ** 20);
  });

  it('ratio bars: one per row with a ratio, labelled with the subject where a case repeats', () => {
    const proxy = fixture.rows.filter((r) => r.suite === 'proxy' && r.bytes === undefined);
    const bars = values(ratioBarsSpec('t', proxy));
    expect(bars.map((b) => b['label'])).toEqual([
      'create: store.proxyFromKey(key, { shape })',
      'create: createProxy(factory, { shape })',
      'get property',
      'loop 1e5 numbers',
    ]);
    expect(bars[2]).toMatchObject({ ratio: proxy[2]?.ratio, text: '17.5×', side: 'slower than baseline' });
    const serialize = values(serializeSpec(fixture));
    expect(serialize.map((b) => b['label'])).toEqual(['Float64Array 64 MiB: serialize', 'records 10k: round trip']);
    expect(serialize[0]).toMatchObject({ side: 'faster than baseline', textAt: 1 });
  });
});

describe('axis helpers', () => {
  it('logTicks spans the values with 1-2-5 ticks, or decades over a wide range', () => {
    expect(logTicks([1.2, 3])).toEqual({ domain: [1, 5], values: [1, 2, 5] });
    const wide = logTicks([0.001, 30]);
    expect(wide.values).toEqual([0.001, 0.01, 0.1, 1, 10, 100]);
    expect(wide.domain).toEqual([0.001, 100]);
  });

  it('estimateTextWidth is narrower than vega 0.8 em guess and respects the limit', () => {
    expect(estimateTextWidth({ fontSize: 10 }, 'illicit')).toBeLessThan(0.8 * 7 * 10 * 0.6);
    expect(estimateTextWidth({ fontSize: 10 }, 'MMMM')).toBeGreaterThan(estimateTextWidth({ fontSize: 10 }, 'iiii'));
    expect(estimateTextWidth({ fontSize: 10, fontWeight: 'bold' }, 'abc')).toBeGreaterThan(estimateTextWidth({ fontSize: 10 }, 'abc'));
    expect(estimateTextWidth({ fontSize: 10, limit: 20 }, 'a long label that is cut')).toBe(20);
    expect(estimateTextWidth({}, null)).toBe(0);
  });
});
