// Turns rows into what people read: a console table per suite, and a JSON document that keeps every
// number (the input of later Markdown reports and plots). Rows arrive as suites made them; all derived
// figures (ops/s, GB/s, ratios) are computed here, from stats.ts, in one place.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BenchConfig, formatSize } from './config.js';
import { type MachineInfo, machineLine } from './machine.js';
import { gbPerSecond, opsPerSecond, ratio } from './stats.js';
import type { Measured, Row } from './suite.js';

export const REPORT_SCHEMA = 'proxystore-bench/1';

export interface Report {
  name: string;
  date: Date;
  durationSeconds: number;
  machine: MachineInfo;
  config: BenchConfig;
  rows: Row[];
}

export interface MeasuredJson {
  name: string;
  samples: number;
  medianMs: number;
  p99Ms: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
  opsPerSec: number;
  /** Minor page faults per call in the measured phase: fresh pages the kernel had to map. */
  minorFaultsPerOp: number;
  /** Over the row's `bytes` at the median time; absent where a row has no payload size. */
  gbPerSec?: number;
}

export interface RowJson {
  suite: string;
  case: string;
  bytes?: number;
  subject: MeasuredJson;
  baseline: MeasuredJson;
  /** subject median / baseline median: 1 = as fast as the baseline, 2 = twice as slow. */
  ratio: number;
  /** The same at p99. */
  ratioP99: number;
  note?: string;
}

export interface ReportJson {
  schema: string;
  name: string;
  date: string;
  durationSeconds: number;
  machine: MachineInfo;
  config: { quick: boolean; sizes: number[]; suites: string[] };
  rows: RowJson[];
}

function measuredJson(m: Measured, bytes: number | undefined): MeasuredJson {
  const out: MeasuredJson = {
    name: m.name,
    samples: m.stats.samples,
    medianMs: m.stats.median,
    p99Ms: m.stats.p99,
    meanMs: m.stats.mean,
    minMs: m.stats.min,
    maxMs: m.stats.max,
    opsPerSec: opsPerSecond(m.stats.median),
    minorFaultsPerOp: m.stats.minorFaultsPerOp,
  };
  if (bytes !== undefined) out.gbPerSec = gbPerSecond(bytes, m.stats.median);
  return out;
}

export function rowJson(row: Row): RowJson {
  const out: RowJson = {
    suite: row.suite,
    case: row.case,
    subject: measuredJson(row.subject, row.bytes),
    baseline: measuredJson(row.baseline, row.bytes),
    ratio: ratio(row.subject.stats.median, row.baseline.stats.median),
    ratioP99: ratio(row.subject.stats.p99, row.baseline.stats.p99),
  };
  if (row.bytes !== undefined) out.bytes = row.bytes;
  if (row.note !== undefined) out.note = row.note;
  return out;
}

export function reportJson(report: Report): ReportJson {
  return {
    schema: REPORT_SCHEMA,
    name: report.name,
    date: report.date.toISOString(),
    durationSeconds: report.durationSeconds,
    machine: report.machine,
    config: { quick: report.config.quick, sizes: report.config.sizes, suites: report.config.suites },
    rows: report.rows.map(rowJson),
  };
}

/** `<dir>/<yyyy-mm-dd>-<name>.json` (UTC date); returns the path written. */
export function writeJson(report: Report, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${report.date.toISOString().slice(0, 10)}-${report.name}.json`);
  // JSON has no Infinity/NaN: they become null, which a reader must treat as "not meaningful".
  writeFileSync(path, `${JSON.stringify(reportJson(report), null, 2)}\n`);
  return path;
}

/** 3 significant digits in the unit that keeps the number readable: ns, µs, ms or s. */
export function formatTime(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const abs = Math.abs(ms);
  if (abs < 1e-3) return `${(ms * 1e6).toPrecision(3)} ns`;
  if (abs < 1) return `${(ms * 1e3).toPrecision(3)} µs`;
  if (abs < 1000) return `${ms.toPrecision(3)} ms`;
  return `${(ms / 1000).toPrecision(3)} s`;
}

function formatRate(gbps: number | undefined): string {
  if (gbps === undefined) return '';
  if (!Number.isFinite(gbps)) return '∞';
  return gbps >= 100 ? gbps.toFixed(0) : gbps.toPrecision(3);
}

function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return 'n/a';
  if (r >= 100) return `${r.toFixed(0)}×`;
  return `${r >= 0.001 ? r.toPrecision(3) : r.toExponential(2)}×`;
}

const HEADER = ['case', 'size', 'subject', 'median', 'p99', 'GB/s', 'pf/op', 'baseline', 'median', 'p99', 'GB/s', 'pf/op', 'ratio'];
const RIGHT = new Set([3, 4, 5, 6, 8, 9, 10, 11, 12]);

function formatFaults(n: number): string {
  return n >= 10 ? n.toFixed(0) : n.toFixed(1);
}

function tableLines(rows: readonly RowJson[]): string[] {
  const cells = rows.map((r) => [
    r.case,
    r.bytes === undefined ? '' : formatSize(r.bytes),
    r.subject.name,
    formatTime(r.subject.medianMs),
    formatTime(r.subject.p99Ms),
    formatRate(r.subject.gbPerSec),
    formatFaults(r.subject.minorFaultsPerOp),
    r.baseline.name,
    formatTime(r.baseline.medianMs),
    formatTime(r.baseline.p99Ms),
    formatRate(r.baseline.gbPerSec),
    formatFaults(r.baseline.minorFaultsPerOp),
    formatRatio(r.ratio),
  ]);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]): string =>
    c.map((text, i) => (RIGHT.has(i) ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(HEADER), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)];
}

/** The console report: a header with the machine, then one table per suite, then the notes. */
export function formatReport(report: Report): string {
  const json = reportJson(report);
  const out: string[] = [
    `proxystore benchmarks (${json.name}) — ${json.date}${report.config.quick ? ' — quick' : ''}`,
    machineLine(report.machine),
    'ratio = subject median / baseline median (1× = as fast as the raw baseline; higher is slower). GB/s = 10^9 B/s at the median.',
    'pf/op = minor page faults per call (per batch for the batched proxy rows): fresh memory mapped by the kernel, ~1 per 4 KiB.',
  ];
  const suites = [...new Set(json.rows.map((r) => r.suite))];
  for (const suite of suites) {
    out.push('', `## ${suite}`, ...tableLines(json.rows.filter((r) => r.suite === suite)));
  }
  const notes = [...new Set(json.rows.filter((r) => r.note !== undefined).map((r) => `- ${r.case}: ${r.note}`))];
  if (notes.length > 0) out.push('', 'Notes:', ...notes);
  out.push('', `Total ${report.durationSeconds.toFixed(0)} s.`);
  return out.join('\n');
}
