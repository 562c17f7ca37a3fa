// The CLI end to end, as a user runs it: `proxystore-bench --quick` in a child process must finish, write
// valid JSON (the same document on stdout and in results.json), a Markdown report and SVG plots, and
// cover every suite. No timing assertions: only that the run works and its output is well-formed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SUITE_NAMES } from '../src/config.js';
import { parseReportJson } from '../src/report.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'proxystore-bench-test-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

// The quick run takes about three minutes on a 2-core machine with every connector (Redis, endpoints, UCX);
// under `npm test` it shares the cores with every other test file, hence the generous limit.
function bench(args: string[], timeout = 600_000) {
  return spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
}

describe('proxystore-bench', () => {
  it('--quick finishes, covers every suite and writes valid JSON, a report and plots', () => {
    const out = tempDir();
    const run = bench(['--quick', '--json', '--no-progress', '--out', out]);
    expect(run.error).toBeUndefined();
    expect(run.stderr).not.toMatch(/FAILED/);
    expect(run.status).toBe(0);

    const fromStdout = parseReportJson(run.stdout, 'stdout');
    const fromFile = parseReportJson(readFileSync(join(out, 'results.json'), 'utf8'), 'results.json');
    expect(fromFile).toEqual(fromStdout);
    expect(fromFile.name).toBe('quick');
    expect(fromFile.config.quick).toBe(true);
    expect(fromFile.machine.cpus).toBeGreaterThan(0);
    expect(fromFile.machine.node).toBe(process.version);
    expect(Date.parse(fromFile.date)).not.toBeNaN();
    expect(fromFile.skipped.filter((s) => s.reason.startsWith('failed'))).toEqual([]);

    const suites = new Set(fromFile.rows.map((r) => r.suite));
    expect([...suites].sort()).toEqual([...SUITE_NAMES].sort());
    for (const row of fromFile.rows) {
      expect(row.subject.samples).toBeGreaterThan(0);
      expect(row.subject.median).toBeGreaterThan(0);
      // Every row has its baseline, or says why it cannot have one.
      expect(row.baseline !== undefined || typeof row.impossible === 'string').toBe(true);
      if (row.baseline !== undefined) expect(row.ratio).toBeGreaterThan(0);
    }
    // Both connectors present here are in the ops suite, with every operation.
    for (const connector of ['memory', 'file']) {
      const ops = new Set(fromFile.rows.filter((r) => r.suite === 'ops' && r.connector === connector).map((r) => r.case));
      expect([...ops].sort()).toEqual(['evict', 'exists', 'get', 'put']);
    }

    const report = readFileSync(join(out, 'report.md'), 'utf8');
    const svgs = readdirSync(out).filter((f) => f.endsWith('.svg'));
    expect(svgs.length).toBeGreaterThan(3);
    for (const svg of svgs) {
      expect(readFileSync(join(out, svg), 'utf8')).toMatch(/^<svg[^>]+width="\d+(\.\d+)?"/);
      expect(report).toContain(`(./${svg})`);
    }
    // Where the endpoint connectors ran, each ops row has its two raw baselines, and endpoint-qps has rate cells
    // and the chunk-size sweep.
    for (const connector of ['endpoint', 'endpoint-peer']) {
      if (fromFile.skipped.some((s) => s.connector === connector)) continue;
      const labels = new Set(fromFile.rows.filter((r) => r.suite === 'ops' && r.connector === connector).map((r) => r.params?.['baseline']));
      expect([...labels].sort()).toEqual(['grpc-js', 'tcp']);
    }
    // Where UCX is here, each transport has get, get+release, getSync+release and put rows against the raw
    // addon and ucx_perftest, and report.md the bandwidth table the 0.9× target is read from.
    for (const connector of ['ucx-tcp', 'ucx-sm']) {
      if (fromFile.skipped.some((s) => s.connector === connector && s.suite === 'all')) continue;
      const mine = fromFile.rows.filter((r) => r.suite === 'ops' && r.connector === connector);
      expect(new Set(mine.map((r) => r.case))).toEqual(new Set(['get', 'get+release', 'getSync+release', 'put']));
      const labels = new Set(mine.map((r) => r.params?.['baseline']));
      expect(labels.has('addon')).toBe(true);
      if (!fromFile.skipped.some((s) => s.connector === connector)) expect(labels.has('ucx_perftest')).toBe(true);
      for (const r of mine) expect(r.params?.['bandwidthRatio']).toBeGreaterThan(0);
      expect(report).toContain(`**${connector}: bandwidth**`);
    }
    const qps = fromFile.rows.filter((r) => r.suite === 'endpoint-qps');
    expect(qps.some((r) => typeof r.params?.['opsPerSec'] === 'number')).toBe(true);
    expect(qps.some((r) => typeof r.params?.['chunkSize'] === 'number')).toBe(true);
    expect(report).toContain('Fastest chunk size (put + get)');

    // The console table went to stderr with --json.
    expect(run.stderr).toContain('## ops');

    // `report` re-renders the same report and plots from the JSON alone.
    const again = tempDir();
    const rerun = bench(['report', join(out, 'results.json'), '--out', again], 60_000);
    expect(rerun.status).toBe(0);
    expect(readFileSync(join(again, 'report.md'), 'utf8')).toBe(report);
    expect(readdirSync(again).filter((f) => f.endsWith('.svg')).sort()).toEqual(svgs.sort());
    expect(existsSync(join(again, 'results.json'))).toBe(false);
  }, 660_000);

  it('rejects bad arguments with exit code 1 and a message, before running anything', () => {
    const out = tempDir();
    const run = bench(['--suite', 'nope', '--out', out], 30_000);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/unknown suite nope/);
    expect(readdirSync(out)).toEqual([]);
  });

  it('`report` on a file that is not a results file fails clearly', () => {
    const dir = tempDir();
    const run = bench(['report', join(dir, 'missing.json')], 30_000);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/missing\.json/);
  });
});
