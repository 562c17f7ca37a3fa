// One benchmark run: pick the connectors that can run here, run each suite with a context, and write
// what came out — results.json (every number), report.md and the SVG plots — into one directory. The
// CLI (cli.ts) only turns argv into a BenchConfig and calls runBench.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type BenchConfig, MiB } from './config.js';
import { BENCH_CONNECTORS, type BenchConnector, takesPart } from './connectors.js';
import { describeMachine } from './machine.js';
import { markdownReport } from './markdown.js';
import type { MeasureOptions } from './measure.js';
import { renderPlots } from './plots.js';
import { ProgressReporter, type ProgressSink } from './progress.js';
import { type ReportJson, formatReport, parseReportJson, reportJson, stringifyReport } from './report.js';
import type { Row, Skipped, Suite, SuiteContext } from './suite.js';
import { endpointQpsSuite } from './suites/endpoint-qps.js';
import { memorySuite } from './suites/memory.js';
import { opsSuite } from './suites/ops.js';
import { proxySuite } from './suites/proxy.js';
import { serializeSuite } from './suites/serialize.js';
import { taskRttSuite } from './suites/task-rtt.js';

/** Every suite, in run order (the order of SUITE_NAMES). */
export const SUITES: readonly Suite[] = [opsSuite, proxySuite, taskRttSuite, memorySuite, serializeSuite, endpointQpsSuite];

/**
 * Budgets sized for a 2-core machine: the default run takes minutes, --quick about three with every connector. Payloads
 * over 256 KiB take long enough per call that a few samples suffice; their wall-clock cap bounds the
 * cases whose untimed hooks (a put before each evict) cost more than the timed call.
 */
export function budgets(config: BenchConfig): Pick<SuiteContext, 'budget' | 'budgetFor'> {
  const scale = config.quick ? 0.15 : 1;
  const budget: MeasureOptions = {
    time: 1000 * scale,
    iterations: config.repeat ?? (config.quick ? 16 : 64),
    warmupTime: 200 * scale,
    warmupIterations: config.quick ? 4 : 16,
    // tinybench's own per-call cost is about a microsecond: a sub-microsecond async call spends more
    // wall time in the harness than on the clock, so the cap is what bounds those cases.
    wallLimit: config.quick ? 1500 : 4000,
  };
  return {
    budget,
    budgetFor(bytes) {
      if (bytes <= 256 * 1024) return budget;
      return {
        time: bytes >= 64 * MiB ? 0 : 1000 * scale,
        iterations: config.repeat ?? (config.quick ? 4 : 10),
        warmupTime: 0,
        warmupIterations: 1,
        wallLimit: (config.quick ? 4000 : 20_000) + (config.repeat ?? 0) * 2000,
      };
    },
  };
}

export interface RunIo {
  stdout: { write(text: string): unknown };
  stderr: ProgressSink;
}

export interface RunResult {
  json: ReportJson;
  /** Absolute paths written: results.json, report.md, the plots. */
  files: string[];
  /** Suites that threw; the run goes on without them and the CLI exits non-zero. */
  failures: { suite: string; error: unknown }[];
}

/** The connectors that `--connector` asks for (all by default); an unknown name throws with the known ones. */
export function selectConnectors(names: readonly string[], known: readonly BenchConnector[] = BENCH_CONNECTORS): BenchConnector[] {
  if (names.length === 0) return [...known];
  const unknown = names.filter((n) => !known.some((c) => c.name === n));
  if (unknown.length > 0) {
    throw new RangeError(`Unknown connector(s): ${unknown.join(', ')}; known: ${known.map((c) => c.name).join(', ')}`);
  }
  return known.filter((c) => names.includes(c.name));
}

/** "full" for the default run, "quick" for --quick, "custom" when the run was narrowed. */
export function runName(config: BenchConfig, allSuites: readonly string[]): string {
  const narrowed =
    config.sizes !== undefined ||
    config.repeat !== undefined ||
    config.connectors.length > 0 ||
    config.suites.length !== allSuites.length;
  if (config.quick) return narrowed ? 'quick-custom' : 'quick';
  return narrowed ? 'custom' : 'full';
}

/**
 * Writes report.md and the plots of `json` into `dir`, and results.json unless `results` is false (a
 * re-render leaves the file it read as the only copy); returns the paths written.
 */
export async function writeOutputs(json: ReportJson, dir: string, options: { imageDir?: string; results?: boolean } = {}): Promise<string[]> {
  const imageDir = options.imageDir ?? '.';
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const write = (name: string, text: string): void => {
    const path = resolve(dir, name);
    writeFileSync(path, text);
    files.push(path);
  };
  if (options.results !== false) write('results.json', stringifyReport(json));
  const plots = await renderPlots(json);
  for (const plot of plots) write(plot.file, plot.svg);
  write('report.md', markdownReport(json, { plots, imageDir }));
  return files;
}

/** `proxystore-bench report`: re-renders report.md and the plots from a results.json. */
export async function rerender(resultsPath: string, dir: string, imageDir = '.'): Promise<string[]> {
  const json = parseReportJson(readFileSync(resultsPath, 'utf8'), resultsPath);
  return writeOutputs(json, dir, { imageDir, results: false });
}

export async function runBench(config: BenchConfig, io: RunIo): Promise<RunResult> {
  const started = performance.now();
  const date = new Date();
  const progress = new ProgressReporter(io.stderr, { bars: config.progress });
  const skipped: Skipped[] = [];
  const selected = selectConnectors(config.connectors);
  const connectors: BenchConnector[] = [];
  for (const c of selected) {
    const reason = await c.unavailable();
    if (reason === null) connectors.push(c);
    else {
      skipped.push({ suite: 'all', connector: c.name, reason });
      progress.line(`skipping connector ${c.name}: ${reason}`);
    }
  }

  const rows: Row[] = [];
  const failures: RunResult['failures'] = [];
  for (const suite of SUITES) {
    if (!config.suites.includes(suite.name as BenchConfig['suites'][number])) continue;
    progress.line(`suite ${suite.name}: ${suite.description}`);
    const ctx: SuiteContext = {
      config,
      ...budgets(config),
      connectors: connectors.filter((c) => takesPart(c, suite.name)),
      progress: progress.forSuite(suite.name),
      skip: (s) => skipped.push({ suite: suite.name, ...s }),
      log: (message) => progress.line(`${suite.name}: ${message}`),
    };
    try {
      rows.push(...(await suite.run(ctx)));
    } catch (error) {
      failures.push({ suite: suite.name, error });
      skipped.push({ suite: suite.name, reason: `failed: ${error instanceof Error ? error.message : String(error)}` });
      progress.line(`suite ${suite.name} FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
  }
  progress.finish();

  const json = reportJson({
    name: runName(config, SUITES.map((s) => s.name)),
    date,
    durationSeconds: (performance.now() - started) / 1000,
    machine: describeMachine(),
    config,
    rows,
    skipped,
  });
  const files = await writeOutputs(json, config.outDir);
  if (config.json) {
    io.stderr.write(`${formatReport(json)}\n`);
    io.stdout.write(stringifyReport(json));
  } else {
    io.stdout.write(`${formatReport(json)}\n`);
  }
  progress.line(`results, report and plots written to ${resolve(config.outDir)}`);
  return { json, files, failures };
}

/** Where a run's outputs go when --out is not given: benchmarks/results/<yyyy-mm-dd>-<name>. */
export function defaultOutDir(resultsRoot: string, date: Date, name: string): string {
  return join(resultsRoot, `${date.toISOString().slice(0, 10)}-${name}`);
}
