// Turns rows into what people read: the JSON document that keeps every number (the input of the
// Markdown report and the plots, and of `proxystore-bench report` later), and the console tables. Rows
// arrive as suites made them; every derived figure (ops/s, GB/s, ratios) is computed here, once.
import { formatSize } from './config.js';
import type { BenchConfig } from './config.js';
import { type MachineInfo, machineLine } from './machine.js';
import { gbPerSecond, opsPerSecond, ratio } from './stats.js';
import type { Measured, Row, Skipped, Unit } from './suite.js';

export const REPORT_SCHEMA = 'proxystore-bench/2';

export interface Report {
  /** "full" for the default run, "quick" for --quick, "custom" when sizes, suites or connectors were picked. */
  name: string;
  date: Date;
  durationSeconds: number;
  machine: MachineInfo;
  config: BenchConfig;
  rows: Row[];
  skipped: Skipped[];
}

/**
 * One side of a row. Times are per operation in milliseconds; `unit: 'bytes'` rows (peak RSS) hold
 * bytes in the same fields.
 */
export interface MeasuredJson {
  name: string;
  unit: Unit;
  samples: number;
  median: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
  /** Time rows: 1000 / median. */
  opsPerSec?: number;
  /** Time rows with a payload size: bytes / median, in 10^9 B/s. */
  gbPerSec?: number;
  /** Measured in this process only: minor page faults per call in the measured phase. */
  minorFaultsPerOp?: number;
}

export interface RowJson {
  suite: string;
  case: string;
  connector?: string;
  bytes?: number;
  params?: Record<string, string | number | boolean>;
  subject: MeasuredJson;
  baseline?: MeasuredJson;
  impossible?: string;
  /** subject median / baseline median: 1 = as fast (or as large) as the baseline, 2 = twice as slow. null without a baseline. */
  ratio: number | null;
  /** The same at p99. */
  ratioP99: number | null;
  note?: string;
}

export interface ReportJson {
  schema: typeof REPORT_SCHEMA;
  name: string;
  /** ISO 8601, UTC. */
  date: string;
  durationSeconds: number;
  machine: MachineInfo;
  config: {
    quick: boolean;
    sizes: number[] | null;
    repeat: number | null;
    suites: string[];
    connectors: string[];
    brokerLimit: number;
    workers: number;
  };
  skipped: Skipped[];
  rows: RowJson[];
}

function finite(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}

function measuredJson(m: Measured, bytes: number | undefined): MeasuredJson {
  const unit = m.unit ?? 'ms';
  const out: MeasuredJson = {
    name: m.name,
    unit,
    samples: m.stats.samples,
    median: m.stats.median,
    p99: m.stats.p99,
    mean: m.stats.mean,
    min: m.stats.min,
    max: m.stats.max,
  };
  if (unit === 'ms') {
    out.opsPerSec = opsPerSecond(m.stats.median);
    if (bytes !== undefined) out.gbPerSec = gbPerSecond(bytes, m.stats.median);
  }
  if (m.stats.minorFaultsPerOp !== undefined) out.minorFaultsPerOp = m.stats.minorFaultsPerOp;
  return out;
}

export function rowJson(row: Row): RowJson {
  if (row.baseline !== undefined && (row.baseline.unit ?? 'ms') !== (row.subject.unit ?? 'ms')) {
    throw new TypeError(`Row ${row.suite}/${row.case}: subject and baseline have different units`);
  }
  const out: RowJson = {
    suite: row.suite,
    case: row.case,
    subject: measuredJson(row.subject, row.bytes),
    ratio: row.baseline === undefined ? null : finite(ratio(row.subject.stats.median, row.baseline.stats.median)),
    ratioP99: row.baseline === undefined ? null : finite(ratio(row.subject.stats.p99, row.baseline.stats.p99)),
  };
  if (row.connector !== undefined) out.connector = row.connector;
  if (row.bytes !== undefined) out.bytes = row.bytes;
  if (row.params !== undefined) out.params = row.params;
  if (row.baseline !== undefined) out.baseline = measuredJson(row.baseline, row.bytes);
  if (row.impossible !== undefined) out.impossible = row.impossible;
  if (row.note !== undefined) out.note = row.note;
  return out;
}

export function reportJson(report: Report): ReportJson {
  const c = report.config;
  return {
    schema: REPORT_SCHEMA,
    name: report.name,
    date: report.date.toISOString(),
    durationSeconds: report.durationSeconds,
    machine: report.machine,
    config: {
      quick: c.quick,
      sizes: c.sizes ?? null,
      repeat: c.repeat ?? null,
      suites: [...c.suites],
      connectors: [...c.connectors],
      brokerLimit: c.brokerLimit,
      workers: c.workers,
    },
    skipped: report.skipped,
    rows: report.rows.map(rowJson),
  };
}

/** JSON has no Infinity or NaN; JSON.stringify writes them as null, which readers treat as "no meaning". */
export function stringifyReport(json: ReportJson): string {
  return `${JSON.stringify(json, null, 2)}\n`;
}

/** Checks that a parsed document is a results file this version can read; returns it typed. */
export function parseReportJson(text: string, source = 'results'): ReportJson {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new Error(`${source} is not JSON`, { cause });
  }
  const d = doc as Partial<ReportJson> | null;
  if (d === null || typeof d !== 'object' || d.schema !== REPORT_SCHEMA) {
    throw new Error(`${source} is not a ${REPORT_SCHEMA} results file (schema: ${JSON.stringify(d?.schema)})`);
  }
  if (!Array.isArray(d.rows) || typeof d.date !== 'string' || typeof d.machine !== 'object') {
    throw new Error(`${source}: a ${REPORT_SCHEMA} file needs date, machine and rows`);
  }
  return d as ReportJson;
}

/** 3 significant digits in the unit that keeps the number readable: ns, µs, ms or s. */
export function formatTime(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return 'n/a';
  const abs = Math.abs(ms);
  if (abs < 1e-3) return `${(ms * 1e6).toPrecision(3)} ns`;
  if (abs < 1) return `${(ms * 1e3).toPrecision(3)} µs`;
  if (abs < 1000) return `${ms.toPrecision(3)} ms`;
  return `${(ms / 1000).toPrecision(3)} s`;
}

/** A median or p99 in its own unit. */
export function formatValue(value: number | null, unit: Unit): string {
  if (unit === 'ms') return formatTime(value);
  if (value === null || !Number.isFinite(value)) return 'n/a';
  return formatSize(Math.round(value));
}

export function formatRate(gbps: number | null | undefined): string {
  if (gbps === undefined) return '';
  if (gbps === null || !Number.isFinite(gbps)) return '∞';
  if (gbps >= 100) return gbps.toFixed(0);
  return gbps >= 0.001 || gbps === 0 ? gbps.toPrecision(3) : gbps.toExponential(2);
}

export function formatRatio(r: number | null): string {
  if (r === null || !Number.isFinite(r)) return 'n/a';
  if (r >= 100) return `${r.toFixed(0)}×`;
  return `${r >= 0.001 ? r.toPrecision(3) : r.toExponential(2)}×`;
}

const HEADER = ['case', 'connector', 'size', 'subject', 'median', 'p99', 'GB/s', 'baseline', 'median', 'p99', 'GB/s', 'ratio'];
const RIGHT = new Set([2, 4, 5, 6, 8, 9, 10, 11]);

function tableLines(rows: readonly RowJson[]): string[] {
  const cells = rows.map((r) => [
    r.case,
    r.connector ?? '',
    r.bytes === undefined ? '' : formatSize(r.bytes),
    r.subject.name,
    formatValue(r.subject.median, r.subject.unit),
    formatValue(r.subject.p99, r.subject.unit),
    formatRate(r.subject.gbPerSec),
    r.baseline?.name ?? 'impossible',
    r.baseline === undefined ? '' : formatValue(r.baseline.median, r.baseline.unit),
    r.baseline === undefined ? '' : formatValue(r.baseline.p99, r.baseline.unit),
    formatRate(r.baseline?.gbPerSec),
    formatRatio(r.ratio),
  ]);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]): string =>
    c
      .map((text, i) => (RIGHT.has(i) ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(HEADER), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)];
}

/** The console report: a header with the machine, one table per suite, what was skipped, the notes. */
export function formatReport(json: ReportJson): string {
  const out: string[] = [
    `proxystore benchmarks (${json.name}) — ${json.date}`,
    machineLine(json.machine),
    'ratio = subject median / baseline median (1× = as fast as the raw baseline; higher is slower). GB/s = 10^9 B/s at the median.',
  ];
  const suites = [...new Set(json.rows.map((r) => r.suite))];
  for (const suite of suites) {
    out.push('', `## ${suite}`, ...tableLines(json.rows.filter((r) => r.suite === suite)));
  }
  if (json.skipped.length > 0) {
    out.push('', 'Skipped:', ...json.skipped.map((s) => `- ${s.suite}${s.connector === undefined ? '' : ` (${s.connector})`}: ${s.reason}`));
  }
  const notes = [
    ...new Set(
      json.rows.flatMap((r) => [
        ...(r.note === undefined ? [] : [`- ${r.suite} › ${r.case}: ${r.note}`]),
        ...(r.impossible === undefined ? [] : [`- ${r.suite} › ${r.case}: ${r.impossible}`]),
      ]),
    ),
  ];
  if (notes.length > 0) out.push('', 'Notes:', ...notes);
  out.push('', `Total ${json.durationSeconds.toFixed(0)} s.`);
  return out.join('\n');
}
