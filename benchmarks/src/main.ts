// Entry point of the benchmark runner: parse options, run each suite in order, print the table and write
// the JSON results. Suites are listed in one array, so `--suite` (and the commander CLI that replaces
// parseArgs later) only has to filter it.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchConfig, USAGE, parseConfig } from './config.js';
import { describeMachine } from './machine.js';
import type { MeasureOptions } from './measure.js';
import { formatReport, reportJson, writeJson, type Report } from './report.js';
import type { Row, Suite, SuiteContext } from './suite.js';
import { opsSuite } from './suites/ops.js';
import { proxySuite } from './suites/proxy.js';
import { serializeSuite } from './suites/serialize.js';

export const SUITES: readonly Suite[] = [proxySuite, opsSuite, serializeSuite];

const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');
const MiB = 1024 * 1024;

/**
 * Budgets sized for a 2-core machine: the default run takes a few minutes, --quick about one. Large
 * payloads take tens of ms per sample, so they get few warmups and a small minimum sample count.
 */
function contextFor(config: BenchConfig, log: (message: string) => void): SuiteContext {
  const scale = config.quick ? 0.15 : 1;
  const budget: MeasureOptions = { time: 2500 * scale, iterations: 64, warmupTime: 250 * scale, warmupIterations: 16 };
  return {
    config,
    budget,
    budgetFor(bytes) {
      if (bytes <= MiB) return budget;
      return { time: 2500 * scale, iterations: config.quick ? 6 : 10, warmupTime: 0, warmupIterations: 2 };
    },
    log,
  };
}

async function main(argv: readonly string[]): Promise<number> {
  let config: BenchConfig;
  try {
    config = parseConfig(argv, { outDir: RESULTS_DIR });
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (config.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const started = performance.now();
  const log = (message: string): void => {
    process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
  };
  const unknown = config.suites.filter((name) => !SUITES.some((s) => s.name === name));
  if (unknown.length > 0) {
    process.stderr.write(`Unknown suite(s): ${unknown.join(', ')}; known: ${SUITES.map((s) => s.name).join(', ')}\n`);
    return 2;
  }
  const ctx = contextFor(config, log);
  const rows: Row[] = [];
  for (const suite of SUITES) {
    if (config.suites.length === 0 || config.suites.includes(suite.name)) rows.push(...(await suite.run(ctx)));
  }
  const report: Report = {
    name: config.quick ? 'first-quick' : 'first',
    date: new Date(),
    durationSeconds: (performance.now() - started) / 1000,
    machine: describeMachine(),
    config,
    rows,
  };
  const path = writeJson(report, config.outDir);
  if (config.json) {
    process.stderr.write(`${formatReport(report)}\n`);
    process.stdout.write(`${JSON.stringify(reportJson(report), null, 2)}\n`);
  } else {
    process.stdout.write(`${formatReport(report)}\n`);
  }
  log(`results written to ${path}`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
