// The figures of a results file, as SVG files next to report.md. Each plot is a pure vega-lite spec
// built from the rows (exported, so tests check the data points without parsing SVG), compiled and
// rendered headless. Why vega-lite + vega: a declarative grammar (scales, log axes, facets, legends come
// from a few lines of JSON rather than hand-drawn SVG), a headless SVG renderer with no native canvas
// dependency (so `npm ci` stays free of node-gyp), and both are maintained by the UW Interactive Data Lab.
import * as vega from 'vega';
import { compile } from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { formatSize } from './config.js';
import { formatRatio } from './report.js';
import type { ReportJson, RowJson } from './report.js';

export interface Plot {
  /** File name inside the output directory, e.g. 'ops-latency.svg'. */
  file: string;
  title: string;
  /** The suite the plot belongs to, so the Markdown report embeds it in that suite's section. */
  suite: string;
  svg: string;
}

/** One chart's width in px; faceted charts split it between two columns. */
export const PLOT_WIDTH = 560;
const CELL_WIDTH = 250;
const CELL_HEIGHT = 180;
const HEIGHT = 300;

/** The store operations of the ops suite, in the order a reader expects them; others follow in row order. */
export const OPS = ['put', 'get', 'exists', 'evict'] as const;

const SUBJECT = 'ProxyStore';
const RAW = 'raw baseline';
const SOLID: number[] = [1, 0];
const DASHED: number[] = [6, 4];
const FASTER = 'faster than baseline';
const SLOWER = 'slower than baseline';

// ---------------------------------------------------------------------------------------------------
// Axes. Explicit tick values keep log axes readable (no 2..9 minor labels) and output deterministic.

function unique<T>(values: Iterable<T>): T[] {
  return [...new Set(values)];
}

/** Order of first appearance, so colours and facets follow the rows and are stable for the same input. */
function inOrder(rows: readonly RowJson[], key: (r: RowJson) => string | undefined): string[] {
  return unique(rows.map(key).filter((k): k is string => k !== undefined));
}

/** At most `max` ticks, keeping the first and the last. */
function thin(values: readonly number[], max: number): number[] {
  if (values.length <= max) return [...values];
  const step = Math.ceil((values.length - 1) / (max - 1));
  const out = values.filter((_, i) => i % step === 0);
  const last = values[values.length - 1] as number;
  if (out[out.length - 1] !== last) out.push(last);
  return out;
}

/** A vega expression mapping each tick value to its label, falling back to vega's own label. */
function labelLookup(labels: ReadonlyArray<readonly [number, string]>): string {
  return labels.reduceRight((rest, [value, text]) => `datum.value === ${value} ? ${JSON.stringify(text)} : ${rest}`, 'datum.label');
}

/** The x axis of every size sweep: log scale, a tick at each measured size, labelled "1 KiB", "10 MB". */
function sizeX(field: string, sizes: readonly number[], title = 'payload size (log scale)') {
  const ticks = thin(unique(sizes).sort((a, b) => a - b), 10);
  return {
    field,
    type: 'quantitative' as const,
    title,
    scale: { type: 'log' as const, nice: false },
    axis: { values: ticks, labelExpr: labelLookup(ticks.map((s) => [s, formatSize(s)] as const)), labelOverlap: true, labelAngle: 0 },
  };
}

/**
 * Ticks for a log axis over `values`: the 1-2-5 sequence when that gives a few, else powers of ten. The
 * domain runs from the tick below the smallest value to the tick above the largest.
 */
export function logTicks(values: readonly number[]): { domain: [number, number]; values: number[] } {
  const positive = values.filter((v) => v > 0 && Number.isFinite(v));
  if (positive.length === 0) return { domain: [0.1, 10], values: [0.1, 1, 10] };
  const lo = Math.min(...positive);
  const hi = Math.max(...positive);
  const clean = (v: number): number => Number(v.toPrecision(6));
  const candidates = (mantissas: readonly number[]): number[] => {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)) - 1; e <= Math.ceil(Math.log10(hi)) + 1; e++) {
      for (const m of mantissas) out.push(clean(m * 10 ** e));
    }
    return out;
  };
  const span = (mantissas: readonly number[]): { domain: [number, number]; values: number[] } => {
    const all = candidates(mantissas);
    const below = all.filter((t) => t <= lo).pop() ?? lo;
    const above = all.find((t) => t >= hi) ?? hi;
    const ticks = all.filter((t) => t >= below && t <= above);
    return { domain: [below, above === below ? clean(below * 10) : above], values: ticks.length > 1 ? ticks : [below, clean(below * 10)] };
  };
  const fine = span([1, 2, 5]);
  return fine.values.length <= 8 ? fine : span([1]);
}

/** "1 µs", "10 ms": a time axis in milliseconds whose labels carry their unit. */
const TIME_LABEL =
  "datum.value >= 1000 ? format(datum.value / 1000, '~g') + ' s' : datum.value >= 1 ? format(datum.value, '~g') + ' ms' : " +
  "datum.value >= 0.001 ? format(datum.value * 1000, '~g') + ' µs' : format(datum.value * 1e6, '~g') + ' ns'";

function logY(field: string, values: readonly number[], title: string, labelExpr = "format(datum.value, '~g')") {
  const ticks = logTicks(values);
  return {
    field,
    type: 'quantitative' as const,
    title,
    scale: { type: 'log' as const, domain: ticks.domain, nice: false },
    axis: { values: ticks.values, labelExpr },
  };
}

const CONFIG = {
  font: 'Helvetica, Arial, "Liberation Sans", sans-serif',
  title: { fontSize: 14, anchor: 'start' as const, subtitleColor: '#555' },
  axis: { titleFontWeight: 'normal' as const, labelFontSize: 10, titleFontSize: 11 },
  legend: { orient: 'bottom' as const, direction: 'horizontal' as const, titleFontWeight: 'normal' as const, labelLimit: 400 },
  header: { labelFontSize: 12, labelFontWeight: 'bold' as const },
  line: { strokeWidth: 2 },
  point: { size: 30 },
};

function title(text: string, subtitle: string | string[]) {
  return { text, subtitle };
}

/** Legends of line charts show a line (dashed where the series is), not a dot. */
const LINE_LEGEND = { symbolType: 'stroke', symbolStrokeWidth: 2, symbolSize: 300 } as const;

const RULE_AT_1 = { mark: { type: 'rule' as const, color: '#888', strokeDash: [2, 2] }, encoding: { y: { datum: 1 } } };

// ---------------------------------------------------------------------------------------------------
// ops

function opsRows(report: ReportJson): RowJson[] {
  return report.rows.filter((r) => r.suite === 'ops' && r.bytes !== undefined && r.connector !== undefined);
}

function opOrder(rows: readonly RowJson[]): string[] {
  const present = inOrder(rows, (r) => r.case);
  return [...OPS.filter((op) => present.includes(op)), ...present.filter((op) => !(OPS as readonly string[]).includes(op))];
}

export interface SeriesPoint {
  /** The facet: the store op, or the task-rtt case. */
  op: string;
  connector: string;
  /** SUBJECT ('ProxyStore') or RAW ('raw baseline'). */
  series: string;
  size: number;
  value: number;
}

/** The label of an ops row's baseline where its connector has several (params.baseline), else undefined. */
function baselineLabel(r: RowJson): string | undefined {
  const label = r.params?.['baseline'];
  return typeof label === 'string' ? label : undefined;
}

/** The series of a labelled baseline: 'raw grpc-js'; an unlabelled one is RAW. */
function rawSeries(label: string | undefined): string {
  return label === undefined ? RAW : `raw ${label}`;
}

function seriesPoints(rows: readonly RowJson[], value: (m: RowJson['subject']) => number | undefined): SeriesPoint[] {
  const out: SeriesPoint[] = [];
  // A connector with several baselines has one row per baseline, each with the same subject: draw it once.
  const subjects = new Set<string>();
  for (const r of rows) {
    const base = { op: r.case, connector: r.connector ?? '', size: r.bytes ?? 0 };
    const s = value(r.subject);
    const id = `${base.op}\u0000${base.connector}\u0000${base.size}`;
    if (s !== undefined && s > 0 && Number.isFinite(s) && !subjects.has(id)) {
      subjects.add(id);
      out.push({ ...base, series: SUBJECT, value: s });
    }
    const b = r.baseline === undefined ? undefined : value(r.baseline);
    if (b !== undefined && b > 0 && Number.isFinite(b)) out.push({ ...base, series: rawSeries(baselineLabel(r)), value: b });
  }
  return out;
}

/** Dash patterns of the baselines after the first: dotted, dash-dot, long dashes. */
const MORE_DASHES: number[][] = [[2, 3], [8, 3, 2, 3], [12, 4]];

/** Solid for the subject, dashed for the raw baseline, then one pattern per further labelled baseline. */
function dashScale(points: readonly SeriesPoint[]): { domain: string[]; range: number[][] } {
  const labelled = unique(points.map((p) => p.series)).filter((s) => s !== SUBJECT && s !== RAW);
  const hasRaw = points.some((p) => p.series === RAW);
  const domain = [SUBJECT, ...(hasRaw || labelled.length === 0 ? [RAW] : []), ...labelled];
  const patterns = [SOLID, DASHED, ...MORE_DASHES];
  return { domain, range: domain.map((_, i) => patterns[Math.min(i, patterns.length - 1)] as number[]) };
}

function facetedLines(opts: {
  heading: ReturnType<typeof title>;
  points: readonly SeriesPoint[];
  ops: readonly string[];
  connectors: readonly string[];
  y: ReturnType<typeof logY>;
  rule?: boolean;
  dashes?: boolean;
}): TopLevelSpec {
  const encoding = {
    x: sizeX('size', opts.points.map((p) => p.size)),
    y: opts.y,
    color: { field: 'connector', type: 'nominal' as const, title: 'connector', scale: { domain: [...opts.connectors] }, legend: LINE_LEGEND },
    ...(opts.dashes === false
      ? {}
      : {
          strokeDash: {
            field: 'series',
            type: 'nominal' as const,
            title: null,
            scale: dashScale(opts.points),
            legend: { ...LINE_LEGEND, symbolStrokeColor: '#444' },
          },
        }),
  };
  const line = { mark: { type: 'line' as const, point: true }, encoding };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: opts.heading,
    data: { values: opts.points.map((p) => ({ ...p })) },
    facet: { field: 'op', type: 'nominal', title: null, sort: [...opts.ops] },
    columns: Math.min(2, opts.ops.length),
    spec: {
      width: opts.ops.length === 1 ? PLOT_WIDTH : CELL_WIDTH,
      height: CELL_HEIGHT,
      layer: opts.rule === true ? [line, RULE_AT_1] : [line],
    },
    config: CONFIG,
  };
}

/** Median latency of each store op against its raw op, per size and connector; null without ops rows. */
export function opsLatencySpec(report: ReportJson): TopLevelSpec | null {
  const rows = opsRows(report);
  const points = seriesPoints(rows, (m) => (m.unit === 'ms' ? m.median : undefined));
  if (points.length === 0) return null;
  return facetedLines({
    heading: title('ops: median latency', 'solid: the store op; dashed: the raw op of the same connector on the same bytes'),
    points,
    ops: opOrder(rows),
    connectors: inOrder(rows, (r) => r.connector),
    y: logY('value', points.map((p) => p.value), 'median latency (log scale)', TIME_LABEL),
  });
}

/** GB/s at the median for put and get, against the raw op; null when neither was measured. */
export function opsBandwidthSpec(report: ReportJson): TopLevelSpec | null {
  const rows = opsRows(report).filter((r) => r.case === 'put' || r.case === 'get');
  const points = seriesPoints(rows, (m) => m.gbPerSec);
  if (points.length === 0) return null;
  return facetedLines({
    heading: title('ops: bandwidth of put and get', 'GB/s = 10^9 B/s at the median; solid: the store op; dashed: the raw op'),
    points,
    ops: opOrder(rows),
    connectors: inOrder(rows, (r) => r.connector),
    y: logY('value', points.map((p) => p.value), 'bandwidth (GB/s, log scale)'),
  });
}

/** subject / baseline median per size, one line per connector, a rule at 1×; null without ratios. */
export function opsRatioSpec(report: ReportJson): TopLevelSpec | null {
  const rows = opsRows(report);
  // A connector with several baselines gets a line per baseline: "endpoint ÷ raw grpc-js".
  const lineOf = (r: RowJson): string => {
    const label = baselineLabel(r);
    return label === undefined ? (r.connector ?? '') : `${r.connector ?? ''} ÷ raw ${label}`;
  };
  const points: SeriesPoint[] = rows.flatMap((r) =>
    r.ratio !== null && r.ratio > 0 ? [{ op: r.case, connector: lineOf(r), series: SUBJECT, size: r.bytes ?? 0, value: r.ratio }] : [],
  );
  if (points.length === 0) return null;
  return facetedLines({
    heading: title('ops: time relative to the raw op', 'ratio = store median / raw median; 1× = as fast as the raw op, higher is slower'),
    points,
    ops: opOrder(rows),
    connectors: inOrder(rows, lineOf),
    y: logY('value', [...points.map((p) => p.value), 1], 'ratio to raw op (×, log scale)', "format(datum.value, '~g') + '×'"),
    rule: true,
    dashes: false,
  });
}

// ---------------------------------------------------------------------------------------------------
// proxy and serialize

/** The proxy rows swept over sizes (resolve, getSync per connector): ratio vs size; null without any. */
export function proxyRatioSpec(report: ReportJson): TopLevelSpec | null {
  const rows = report.rows.filter((r) => r.suite === 'proxy' && r.bytes !== undefined && r.connector !== undefined);
  const points: SeriesPoint[] = rows.flatMap((r) =>
    r.ratio !== null && r.ratio > 0 ? [{ op: r.case, connector: r.connector ?? '', series: SUBJECT, size: r.bytes ?? 0, value: r.ratio }] : [],
  );
  if (points.length === 0) return null;
  return facetedLines({
    heading: title('proxy: time relative to the baseline, by size', 'ratio = subject median / baseline median; 1× = as fast as the baseline'),
    points,
    ops: inOrder(rows, (r) => r.case),
    connectors: inOrder(rows, (r) => r.connector),
    y: logY('value', [...points.map((p) => p.value), 1], 'ratio to baseline (×, log scale)', "format(datum.value, '~g') + '×'"),
    rule: true,
    dashes: false,
  });
}

export interface RatioBar {
  label: string;
  ratio: number;
  /** formatRatio(ratio), drawn at the end of the bar. */
  text: string;
  /** Where the text starts: the bar's far end on the slow side, 1× on the fast side. */
  textAt: number;
  side: string;
}

/** Horizontal bars from 1× to each row's ratio (log x), labelled with the case (and the subject where cases repeat). */
export function ratioBarsSpec(heading: string, rows: readonly RowJson[]): TopLevelSpec | null {
  const withRatio = rows.filter((r) => r.ratio !== null && r.ratio > 0 && Number.isFinite(r.ratio));
  if (withRatio.length === 0) return null;
  const caseCount = new Map<string, number>();
  for (const r of withRatio) caseCount.set(r.case, (caseCount.get(r.case) ?? 0) + 1);
  const bars: RatioBar[] = withRatio.map((r) => {
    const ratio = r.ratio as number;
    return {
      label: (caseCount.get(r.case) ?? 0) > 1 ? `${r.case}: ${r.subject.name}` : r.case,
      ratio,
      text: formatRatio(ratio),
      textAt: Math.max(ratio, 1),
      side: ratio > 1 ? SLOWER : FASTER,
    };
  });
  const ticks = logTicks([...bars.map((b) => b.ratio), 1]);
  // Room on the right for the text after the longest bar.
  const domain: [number, number] = [ticks.domain[0], ticks.domain[1] * 3];
  const x = {
    field: 'ratio',
    type: 'quantitative' as const,
    title: 'ratio = subject median / baseline median (×, log scale)',
    scale: { type: 'log' as const, domain, nice: false },
    axis: { values: ticks.values, labelExpr: "format(datum.value, '~g') + '×'" },
  };
  const y = { field: 'label', type: 'nominal' as const, title: null, sort: unique(bars.map((b) => b.label)), axis: { labelLimit: 260 } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: title(heading, 'bars run from 1× (as fast as the baseline) to the ratio; right of 1× is slower'),
    width: PLOT_WIDTH - 260,
    height: { step: 22 },
    data: { values: bars.map((b) => ({ ...b })) },
    layer: [
      {
        mark: { type: 'bar', height: { band: 0.7 } },
        encoding: {
          y,
          x,
          x2: { datum: 1 },
          color: { field: 'side', type: 'nominal', title: null, scale: { domain: [FASTER, SLOWER], range: ['#4c9a5a', '#c0504d'] } },
        },
      },
      {
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 10 },
        encoding: { y, x: { field: 'textAt', type: 'quantitative' }, text: { field: 'text' } },
      },
      { mark: { type: 'rule', color: '#333' }, encoding: { x: { datum: 1 } } },
    ],
    config: CONFIG,
  };
}

export function proxyOverheadSpec(report: ReportJson): TopLevelSpec | null {
  return ratioBarsSpec(
    'proxy: cost relative to the plain operation',
    report.rows.filter((r) => r.suite === 'proxy' && r.bytes === undefined),
  );
}

export function serializeSpec(report: ReportJson): TopLevelSpec | null {
  return ratioBarsSpec(
    'serialize: @proxystore/serialize relative to node:v8',
    report.rows.filter((r) => r.suite === 'serialize'),
  );
}

// ---------------------------------------------------------------------------------------------------
// task-rtt

export const BY_VALUE = 'by value (broker)';

export interface RttPoint {
  series: string;
  size: number;
  /** Median round-trip time, ms. */
  rtt: number;
}

export interface SpeedupPoint {
  connector: string;
  size: number;
  /** baseline (by value) median / subject (by proxy) median: 2 = the proxy round trip is twice as fast. */
  speedup: number;
}

function rttRows(report: ReportJson): RowJson[] {
  return report.rows.filter((r) => r.suite === 'task-rtt' && r.bytes !== undefined);
}

function limitOf(report: ReportJson, rows: readonly RowJson[]): number {
  for (const r of rows) {
    const limit = r.params?.['brokerLimit'];
    if (typeof limit === 'number' && limit > 0) return limit;
  }
  return report.config.brokerLimit;
}

/** The points of the RTT plot: by value once per size (the first row's), by proxy per connector. */
export function rttPoints(report: ReportJson): RttPoint[] {
  const rows = rttRows(report);
  const byValue = new Map<number, number>();
  const out: RttPoint[] = [];
  for (const r of rows) {
    const size = r.bytes as number;
    if (r.baseline !== undefined && r.baseline.median > 0 && !byValue.has(size)) byValue.set(size, r.baseline.median);
    if (r.subject.median > 0) out.push({ series: r.subject.name, size, rtt: r.subject.median });
  }
  return [...[...byValue].map(([size, rtt]) => ({ series: BY_VALUE, size, rtt })), ...out];
}

export function speedupPoints(report: ReportJson): SpeedupPoint[] {
  return rttRows(report).flatMap((r) =>
    r.baseline !== undefined && r.baseline.median > 0 && r.subject.median > 0
      ? [{ connector: r.connector ?? r.subject.name, size: r.bytes as number, speedup: r.baseline.median / r.subject.median }]
      : [],
  );
}

/** RTT vs size, log-log, by value and by proxy per connector; the sizes beyond the broker's limit shaded. */
export function taskRttSpec(report: ReportJson): TopLevelSpec | null {
  const rows = rttRows(report);
  const points = rttPoints(report);
  if (points.length === 0) return null;
  const limit = limitOf(report, rows);
  const impossible = rows.filter((r) => r.impossible !== undefined).map((r) => r.bytes as number);
  const maxSize = Math.max(...rows.map((r) => r.bytes as number));
  const sizes = [...points.map((p) => p.size), ...(impossible.length > 0 ? [limit] : [])];
  const x = sizeX('size', sizes, 'task input size (log scale)');
  const series = unique([BY_VALUE, ...points.map((p) => p.series)]).filter((s) => points.some((p) => p.series === s));
  const layers: unknown[] = [];
  if (impossible.length > 0) {
    const region = { from: Math.min(limit, ...impossible), to: maxSize, label: 'impossible by value' };
    layers.push(
      {
        data: { values: [region] },
        mark: { type: 'rect', color: '#999', opacity: 0.18 },
        encoding: { x: { ...x, field: 'from' }, x2: { field: 'to' } },
      },
      {
        data: { values: [region] },
        mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, dy: 4, fontStyle: 'italic', color: '#555' },
        encoding: { x: { ...x, field: 'from' }, y: { value: 0 }, text: { field: 'label' } },
      },
    );
  }
  layers.push({
    mark: { type: 'line', point: true },
    encoding: {
      x,
      y: logY('rtt', points.map((p) => p.rtt), 'median round-trip time (log scale)', TIME_LABEL),
      color: { field: 'series', type: 'nominal', title: null, scale: { domain: series }, legend: LINE_LEGEND },
    },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: title(
      'task-rtt: round trip of a task with its input',
      [
        `by value: the input travels in the task message (the broker caps messages at ${formatSize(limit)});`,
        'by proxy: the message carries a proxy and the worker resolves it from the store',
      ],
    ),
    width: PLOT_WIDTH,
    height: HEIGHT,
    data: { values: points.map((p) => ({ ...p })) },
    layer: layers,
    config: CONFIG,
  } as TopLevelSpec;
}

/** by-value median / by-proxy median per size and connector, a rule at 1 (above 1 the proxy is faster). */
export function taskSpeedupSpec(report: ReportJson): TopLevelSpec | null {
  const points = speedupPoints(report);
  if (points.length === 0) return null;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: title('task-rtt: speedup of passing a proxy', 'speedup = by-value median / by-proxy median; above 1 the proxy round trip is faster'),
    width: PLOT_WIDTH,
    height: HEIGHT,
    data: { values: points.map((p) => ({ ...p })) },
    layer: [
      {
        mark: { type: 'line', point: true },
        encoding: {
          x: sizeX('size', points.map((p) => p.size), 'task input size (log scale)'),
          y: logY('speedup', [...points.map((p) => p.speedup), 1], 'speedup (×, log scale)', "format(datum.value, '~g') + '×'"),
          color: { field: 'connector', type: 'nominal', title: 'connector', scale: { domain: unique(points.map((p) => p.connector)) }, legend: LINE_LEGEND },
        },
      },
      RULE_AT_1,
    ],
    config: CONFIG,
  };
}

// ---------------------------------------------------------------------------------------------------
// memory

export const BY_VALUE_RSS = 'by value';

export interface MemoryBar {
  case: string;
  /** The payload size (and the connector where there are several): the x group. */
  group: string;
  /** 'by value', or the proxy variant ('proxy', 'proxy + evict'). */
  series: string;
  mib: number;
}

export function memoryBars(report: ReportJson): MemoryBar[] {
  const rows = report.rows
    .filter((r) => r.suite === 'memory' && r.subject.unit === 'bytes')
    .sort((a, b) => (a.bytes ?? 0) - (b.bytes ?? 0));
  const connectors = inOrder(rows, (r) => r.connector);
  const group = (r: RowJson): string =>
    [r.bytes === undefined ? undefined : formatSize(r.bytes), connectors.length > 1 ? r.connector : undefined].filter((s) => s !== undefined).join(' · ') ||
    'all';
  const out: MemoryBar[] = [];
  const seen = new Set<string>();
  const push = (bar: MemoryBar): void => {
    const key = `${bar.case}\u0000${bar.group}\u0000${bar.series}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(bar);
  };
  for (const r of rows) {
    const g = group(r);
    if (r.baseline !== undefined) push({ case: r.case, group: g, series: BY_VALUE_RSS, mib: r.baseline.median / 2 ** 20 });
    const variant = r.params?.['variant'];
    push({ case: r.case, group: g, series: typeof variant === 'string' ? variant : r.subject.name, mib: r.subject.median / 2 ** 20 });
  }
  return out;
}

/** Grouped bars of peak RSS (MiB): by value next to each proxy variant, per size, one panel per case. */
export function memorySpec(report: ReportJson): TopLevelSpec | null {
  const bars = memoryBars(report);
  if (bars.length === 0) return null;
  const cases = unique(bars.map((b) => b.case));
  const series = unique([BY_VALUE_RSS, ...bars.map((b) => b.series)]).filter((s) => bars.some((b) => b.series === s));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: title('memory: peak RSS', 'by value: the object itself crosses to the consumer; proxy: only a proxy does'),
    data: { values: bars.map((b) => ({ ...b })) },
    facet: { field: 'case', type: 'nominal', title: null, sort: cases },
    columns: Math.min(2, cases.length),
    spec: {
      width: cases.length === 1 ? PLOT_WIDTH : CELL_WIDTH,
      height: CELL_HEIGHT,
      mark: 'bar',
      encoding: {
        x: { field: 'group', type: 'nominal', title: 'object size', sort: unique(bars.map((b) => b.group)), axis: { labelAngle: 0 } },
        xOffset: { field: 'series', type: 'nominal', sort: series },
        y: { field: 'mib', type: 'quantitative', title: 'peak RSS (MiB)' },
        color: { field: 'series', type: 'nominal', title: null, scale: { domain: series } },
      },
    },
    config: CONFIG,
  };
}

// ---------------------------------------------------------------------------------------------------
// endpoint-qps

export const ENDPOINT_SERIES = 'endpoint';
export const RAW_GRPC_SERIES = 'raw grpc-js';

export interface RatePoint {
  op: string;
  payload: string;
  series: string;
  clients: number;
  rate: number;
}

function numberParam(r: RowJson, name: string): number | undefined {
  const v = r.params?.[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Aggregate ops/s of the endpoint and of the raw grpc-js server, per op, payload and client count. */
export function qpsRatePoints(report: ReportJson): RatePoint[] {
  const rows = report.rows
    .filter((r) => r.suite === 'endpoint-qps' && numberParam(r, 'clients') !== undefined)
    .sort((a, b) => (a.bytes ?? 0) - (b.bytes ?? 0));
  return rows.flatMap((r) => {
    const base = { op: r.case.toUpperCase(), payload: r.bytes === undefined ? 'n/a' : formatSize(r.bytes), clients: numberParam(r, 'clients') as number };
    const mine = numberParam(r, 'opsPerSec');
    const theirs = numberParam(r, 'baselineOpsPerSec');
    return [
      ...(mine !== undefined && mine > 0 ? [{ ...base, series: ENDPOINT_SERIES, rate: mine }] : []),
      ...(theirs !== undefined && theirs > 0 ? [{ ...base, series: RAW_GRPC_SERIES, rate: theirs }] : []),
    ];
  });
}

/** Request rate against the number of clients, a panel per op, a colour per payload; dashed: raw grpc-js. */
export function qpsRateSpec(report: ReportJson): TopLevelSpec | null {
  const points = qpsRatePoints(report);
  if (points.length === 0) return null;
  const ops = unique(points.map((p) => p.op));
  const order = ['GET', 'PUT', 'EXISTS', 'EVICT'];
  const sorted = [...order.filter((o) => ops.includes(o)), ...ops.filter((o) => !order.includes(o))];
  const clients = unique(points.map((p) => p.clients)).sort((a, b) => a - b);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: title('endpoint-qps: request rate vs clients', [
      'aggregate ops/s of one endpoint (solid) and of a raw grpc-js server (dashed) on the same machine;',
      'each client its own channel, one call in flight, spread over two client processes',
    ]),
    data: { values: points.map((p) => ({ ...p })) },
    facet: { field: 'op', type: 'nominal', title: null, sort: sorted },
    columns: Math.min(2, sorted.length),
    spec: {
      width: sorted.length === 1 ? PLOT_WIDTH : CELL_WIDTH,
      height: CELL_HEIGHT,
      mark: { type: 'line', point: true },
      encoding: {
        x: {
          field: 'clients',
          type: 'quantitative',
          title: 'clients (log scale)',
          scale: { type: 'log', base: 2, nice: false },
          axis: { values: clients, format: 'd', labelAngle: 0 },
        },
        y: logY('rate', points.map((p) => p.rate), 'ops/s (log scale)'),
        color: { field: 'payload', type: 'nominal', title: 'payload', scale: { domain: unique(points.map((p) => p.payload)) }, legend: LINE_LEGEND },
        strokeDash: {
          field: 'series',
          type: 'nominal',
          title: null,
          scale: { domain: [ENDPOINT_SERIES, RAW_GRPC_SERIES], range: [SOLID, DASHED] },
          legend: { ...LINE_LEGEND, symbolStrokeColor: '#444' },
        },
      },
    },
    config: CONFIG,
  };
}

export interface ChunkPoint {
  op: string;
  payload: string;
  series: string;
  chunk: number;
  gbps: number;
}

export function chunkPoints(report: ReportJson): ChunkPoint[] {
  const rows = report.rows
    .filter((r) => r.suite === 'endpoint-qps' && numberParam(r, 'chunkSize') !== undefined)
    .sort((a, b) => (a.bytes ?? 0) - (b.bytes ?? 0));
  return rows.flatMap((r) => {
    const base = { op: r.case.replace(/^chunk /, ''), payload: r.bytes === undefined ? 'n/a' : formatSize(r.bytes), chunk: numberParam(r, 'chunkSize') as number };
    const mine = r.subject.gbPerSec;
    const theirs = r.baseline?.gbPerSec;
    return [
      ...(mine !== undefined && mine > 0 && Number.isFinite(mine) ? [{ ...base, series: ENDPOINT_SERIES, gbps: mine }] : []),
      ...(theirs !== undefined && theirs > 0 && Number.isFinite(theirs) ? [{ ...base, series: RAW_GRPC_SERIES, gbps: theirs }] : []),
    ];
  });
}

/** Put and get bandwidth against the chunk size, a colour per payload; dashed: raw grpc-js at the same chunk size. */
export function chunkSizeSpec(report: ReportJson): TopLevelSpec | null {
  const points = chunkPoints(report);
  if (points.length === 0) return null;
  const chunks = unique(points.map((p) => p.chunk)).sort((a, b) => a - b);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: title('endpoint-qps: bandwidth vs chunk size', [
      'GB/s at the median of one put or get, endpoint and client set to the chunk size;',
      'solid: the endpoint; dashed: raw grpc-js at the same chunk size',
    ]),
    data: { values: points.map((p) => ({ ...p })) },
    facet: { field: 'op', type: 'nominal', title: null, sort: ['put', 'get'] },
    columns: 2,
    spec: {
      width: CELL_WIDTH,
      height: CELL_HEIGHT,
      mark: { type: 'line', point: true },
      encoding: {
        x: sizeX('chunk', chunks, 'chunk size (log scale)'),
        y: logY('gbps', points.map((p) => p.gbps), 'GB/s (log scale)'),
        color: { field: 'payload', type: 'nominal', title: 'payload', scale: { domain: unique(points.map((p) => p.payload)) }, legend: LINE_LEGEND },
        strokeDash: {
          field: 'series',
          type: 'nominal',
          title: null,
          scale: { domain: [ENDPOINT_SERIES, RAW_GRPC_SERIES], range: [SOLID, DASHED] },
          legend: { ...LINE_LEGEND, symbolStrokeColor: '#444' },
        },
      },
    },
    config: CONFIG,
  };
}

// ---------------------------------------------------------------------------------------------------
// Rendering

// Helvetica's advance widths (1/1000 em) for ASCII 32..126; anything else counts as 600.
const HELVETICA = [
  278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556, 556, 556,
  556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778,
  722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222,
  500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/** Room for viewers without Helvetica: Arial is as wide, DejaVu Sans (Linux's fallback) about 12% wider. */
const WIDER_FONTS = 1.12;

interface TextItem {
  fontSize?: number;
  fontWeight?: string | number;
  limit?: number;
}

/**
 * Width in px of one line of text, from Helvetica's metrics. Without a canvas vega guesses 0.8 em per
 * character, which makes every label, legend and title look half again as wide as it is: charts get a
 * wide empty margin and labels are cut short. A truncated label is as wide as its limit.
 */
export function estimateTextWidth(item: TextItem, text: unknown): number {
  const line = text === null || text === undefined ? '' : String(text).trim();
  const size = typeof item.fontSize === 'number' ? item.fontSize : 11;
  let em = 0;
  for (const ch of line) {
    const code = ch.charCodeAt(0);
    em += (code >= 32 && code <= 126 ? (HELVETICA[code - 32] as number) : 600) / 1000;
  }
  const bold = item.fontWeight === 'bold' || (typeof item.fontWeight === 'number' && item.fontWeight >= 600);
  const width = Math.ceil(em * size * (bold ? 1.08 : 1) * WIDER_FONTS);
  return typeof item.limit === 'number' && item.limit > 0 ? Math.min(width, item.limit) : width;
}

/** vega's documented hook for a renderer without canvas (vl-convert sets it the same way). */
function useTextEstimate(): void {
  const metrics = (vega as unknown as { textMetrics?: { width: (item: TextItem, text: unknown) => number } }).textMetrics;
  if (metrics !== undefined) metrics.width = estimateTextWidth;
}

interface PlotDef {
  file: string;
  title: string;
  suite: string;
  spec: (report: ReportJson) => TopLevelSpec | null;
}

const PLOTS: readonly PlotDef[] = [
  { file: 'ops-latency.svg', title: 'ops: median latency vs size', suite: 'ops', spec: opsLatencySpec },
  { file: 'ops-bandwidth.svg', title: 'ops: bandwidth of put and get vs size', suite: 'ops', spec: opsBandwidthSpec },
  { file: 'ops-ratio.svg', title: 'ops: ratio to the raw op vs size', suite: 'ops', spec: opsRatioSpec },
  { file: 'proxy-ratio.svg', title: 'proxy: ratio to the baseline vs size', suite: 'proxy', spec: proxyRatioSpec },
  { file: 'proxy-overhead.svg', title: 'proxy: ratio to the plain operation', suite: 'proxy', spec: proxyOverheadSpec },
  { file: 'task-rtt.svg', title: 'task-rtt: round-trip time vs input size', suite: 'task-rtt', spec: taskRttSpec },
  { file: 'task-rtt-speedup.svg', title: 'task-rtt: speedup of passing a proxy', suite: 'task-rtt', spec: taskSpeedupSpec },
  { file: 'memory.svg', title: 'memory: peak RSS by value and by proxy', suite: 'memory', spec: memorySpec },
  { file: 'serialize.svg', title: 'serialize: ratio to node:v8', suite: 'serialize', spec: serializeSpec },
  { file: 'endpoint-qps-rate.svg', title: 'endpoint-qps: request rate vs clients', suite: 'endpoint-qps', spec: qpsRateSpec },
  { file: 'endpoint-qps-chunks.svg', title: 'endpoint-qps: bandwidth vs chunk size', suite: 'endpoint-qps', spec: chunkSizeSpec },
];

/**
 * vega numbers clip paths from a process-wide counter, so the same chart rendered twice differs; number
 * them per file (prefixed with the file's name, so SVGs inlined in one page do not collide).
 */
function stableIds(svg: string, prefix: string): string {
  const ids = new Map<string, string>();
  return svg.replace(/\bclip(\d+)\b/g, (_, n: string) => {
    let id = ids.get(n);
    if (id === undefined) {
      id = `${prefix}-clip${ids.size + 1}`;
      ids.set(n, id);
    }
    return id;
  });
}

/** Compiles a vega-lite spec and renders it to an SVG string, headless (no canvas, no DOM). */
export async function renderSvg(spec: TopLevelSpec, idPrefix = 'plot'): Promise<string> {
  const compiled = compile(spec).spec;
  useTextEstimate();
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return stableIds(await view.toSVG(), idPrefix);
  } finally {
    view.finalize();
  }
}

/** Every plot the report has data for, in a fixed order (ops, proxy, task-rtt, memory, serialize). */
export async function renderPlots(report: ReportJson): Promise<Plot[]> {
  const out: Plot[] = [];
  for (const def of PLOTS) {
    const spec = def.spec(report);
    if (spec === null) continue;
    out.push({ file: def.file, title: def.title, suite: def.suite, svg: await renderSvg(spec, def.file.replace(/\.svg$/, '')) });
  }
  return out;
}
