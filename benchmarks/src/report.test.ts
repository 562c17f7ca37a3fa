import { describe, expect, it } from 'vitest';
import { defaultConfig } from './config.js';
import { describeMachine } from './machine.js';
import type { Measurement } from './measure.js';
import {
  REPORT_SCHEMA,
  formatRate,
  formatRatio,
  formatReport,
  formatTime,
  formatValue,
  parseReportJson,
  reportJson,
  rowJson,
  stringifyReport,
} from './report.js';
import { summarize } from './stats.js';
import type { Row } from './suite.js';

const stats = (samples: number[]): Measurement => summarize(samples);

describe('rowJson', () => {
  it('derives ops/s, GB/s and the ratios at the median and p99 from the samples', () => {
    const row: Row = {
      suite: 'ops',
      case: 'get',
      connector: 'file',
      bytes: 1e6,
      subject: { name: 'store.get(key)', stats: stats([2, 2, 2]) },
      baseline: { name: 'readFile', stats: stats([1, 1, 1]) },
    };
    const json = rowJson(row);
    expect(json.ratio).toBe(2);
    expect(json.ratioP99).toBe(2);
    expect(json.subject).toMatchObject({ unit: 'ms', median: 2, opsPerSec: 500, gbPerSec: 0.5 });
    expect(json.baseline).toMatchObject({ median: 1, gbPerSec: 1 });
  });

  it('has a null ratio and keeps the reason when there is no baseline', () => {
    const json = rowJson({
      suite: 'task-rtt',
      case: 'rtt',
      connector: 'file',
      bytes: 2e7,
      subject: { name: 'by proxy (file)', stats: stats([30]) },
      impossible: 'by value: too large',
    });
    expect(json.ratio).toBeNull();
    expect(json.ratioP99).toBeNull();
    expect(json.baseline).toBeUndefined();
    expect(json.impossible).toBe('by value: too large');
  });

  it('reports byte rows in bytes, with no throughput', () => {
    const json = rowJson({
      suite: 'memory',
      case: 'peak RSS (consumer)',
      bytes: 1 << 20,
      subject: { name: 'proxy', unit: 'bytes', stats: stats([50e6]) },
      baseline: { name: 'by value', unit: 'bytes', stats: stats([200e6]) },
    });
    expect(json.ratio).toBe(0.25);
    expect(json.subject.unit).toBe('bytes');
    expect(json.subject.gbPerSec).toBeUndefined();
    expect(json.subject.opsPerSec).toBeUndefined();
  });

  it('refuses a row whose subject and baseline are in different units', () => {
    expect(() =>
      rowJson({
        suite: 'memory',
        case: 'x',
        subject: { name: 'a', unit: 'bytes', stats: stats([1]) },
        baseline: { name: 'b', stats: stats([1]) },
      }),
    ).toThrow(/different units/);
  });

  it('writes a null ratio for a zero baseline instead of Infinity', () => {
    const json = rowJson({ suite: 's', case: 'c', subject: { name: 'a', stats: stats([1]) }, baseline: { name: 'b', stats: stats([0]) } });
    expect(json.ratio).toBeNull();
  });
});

describe('results document', () => {
  const report = {
    name: 'quick',
    date: new Date('2026-11-24T10:00:00Z'),
    durationSeconds: 12,
    machine: describeMachine(),
    config: defaultConfig('/out', { quick: true }),
    rows: [
      { suite: 'ops', case: 'put', connector: 'memory', bytes: 1024, subject: { name: 's', stats: stats([3]) }, baseline: { name: 'b', stats: stats([1]) } },
    ] satisfies Row[],
    skipped: [{ suite: 'all', connector: 'redis', reason: 'redis-server not found' }],
  };

  it('round-trips through JSON text and carries machine, config and skipped', () => {
    const json = reportJson(report);
    const parsed = parseReportJson(stringifyReport(json));
    expect(parsed).toEqual(json);
    expect(parsed.schema).toBe(REPORT_SCHEMA);
    expect(parsed.date).toBe('2026-11-24T10:00:00.000Z');
    expect(parsed.config).toMatchObject({ quick: true, sizes: null, repeat: null, brokerLimit: 10_000_000 });
    expect(parsed.machine.node).toBe(process.version);
    expect(parsed.skipped).toEqual(report.skipped);
  });

  it('refuses what is not a results file, saying why', () => {
    expect(() => parseReportJson('{', 'x.json')).toThrow(/x\.json is not JSON/);
    expect(() => parseReportJson('{"schema":"proxystore-bench/1","rows":[]}', 'old.json')).toThrow(/not a proxystore-bench\/2 results file/);
    expect(() => parseReportJson(`{"schema":"${REPORT_SCHEMA}"}`, 'y.json')).toThrow(/needs date, machine and rows/);
  });

  it('prints a table per suite, the skipped connectors and the total', () => {
    const text = formatReport(reportJson(report));
    expect(text).toContain('## ops');
    expect(text).toMatch(/put +memory +1 KiB +s +3\.00 ms/);
    expect(text).toContain('3.00×');
    expect(text).toContain('- all (redis): redis-server not found');
    expect(text).toContain('Total 12 s.');
  });
});

describe('formatting', () => {
  it('picks a readable time unit', () => {
    expect(formatTime(0.00000123)).toBe('1.23 ns');
    expect(formatTime(0.0123)).toBe('12.3 µs');
    expect(formatTime(12.3)).toBe('12.3 ms');
    expect(formatTime(12_300)).toBe('12.3 s');
    expect(formatTime(null)).toBe('n/a');
  });

  it('formats bytes values as sizes', () => {
    expect(formatValue(64 * 1024 * 1024, 'bytes')).toBe('64 MiB');
  });

  it('formats rates and ratios without losing tiny values', () => {
    expect(formatRate(1234.5)).toBe('1235');
    expect(formatRate(2.345)).toBe('2.35');
    expect(formatRate(0.00000103)).toBe('1.03e-6');
    expect(formatRate(undefined)).toBe('');
    expect(formatRatio(1.004)).toBe('1.00×');
    expect(formatRatio(0.0000353)).toBe('3.53e-5×');
    expect(formatRatio(null)).toBe('n/a');
  });
});
