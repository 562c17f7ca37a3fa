#!/usr/bin/env node
// `proxystore-bench`: the command line of the benchmark suite. This file only parses: argv → BenchConfig
// (createProgram, tested on its own) → runBench. `run` is the default command, so
// `proxystore-bench --quick` and `proxystore-bench run --quick` are the same.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  type BenchConfig,
  DEFAULT_BROKER_LIMIT,
  DEFAULT_WORKERS,
  SUITE_NAMES,
  type SuiteName,
  defaultConfig,
  formatSize,
  parseSize,
  parseSizes,
} from './config.js';
import { BENCH_CONNECTORS } from './connectors.js';

const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const RESULTS_ROOT = join(PACKAGE_ROOT, 'results');

export interface CliActions {
  run(config: BenchConfig): Promise<number>;
  report(resultsPath: string, outDir: string, imageDir: string): Promise<number>;
  list(): Promise<number>;
}

function wrap<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (error) {
      throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
    }
  };
}

/** "a,b" and repeated flags both add to the list. */
function listOf(allowed: readonly string[] | undefined, what: string) {
  return (text: string, previous: string[] | undefined): string[] => {
    const names = text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (names.length === 0) throw new InvalidArgumentError(`needs at least one ${what}`);
    const bad = allowed === undefined ? [] : names.filter((n) => !allowed.includes(n));
    if (bad.length > 0) throw new InvalidArgumentError(`unknown ${what} ${bad.join(', ')}; known: ${allowed?.join(', ')}`);
    return [...new Set([...(previous ?? []), ...names])];
  };
}

function positiveInteger(what: string) {
  return wrap((text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`${what} must be a positive integer, got ${JSON.stringify(text)}`);
    return n;
  });
}

interface RunOptions {
  suite?: string[];
  connector?: string[];
  sizes?: number[];
  repeat?: number;
  quick: boolean;
  json: boolean;
  out?: string;
  progress: boolean;
  brokerLimit: number;
  workers: number;
}

/** Options → BenchConfig. `outDir` is left empty when --out is not given: the caller names the run's directory. */
export function configFromOptions(o: RunOptions): BenchConfig {
  const suites = o.suite === undefined ? [...SUITE_NAMES] : SUITE_NAMES.filter((s) => o.suite?.includes(s));
  return defaultConfig(o.out === undefined ? '' : resolve(o.out), {
    quick: o.quick,
    sizes: o.sizes,
    repeat: o.repeat,
    suites: suites as SuiteName[],
    connectors: o.connector ?? [],
    json: o.json,
    progress: o.progress,
    brokerLimit: o.brokerLimit,
    workers: o.workers,
  });
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export function createProgram(actions: CliActions): Command {
  const program = new Command('proxystore-bench')
    .description(
      'The ProxyStore benchmark suite: every figure next to a raw baseline measured in the same run, on the same bytes.',
    )
    .version(version())
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('run', { isDefault: true })
    .description('run the suites (all by default) and write results.json, report.md and SVG plots')
    .addOption(
      new Option('--suite <names>', `suites to run, comma-separated or repeated: ${SUITE_NAMES.join(', ')} (default: all)`).argParser(
        listOf(SUITE_NAMES, 'suite'),
      ),
    )
    .addOption(
      new Option('--connector <names>', 'connectors to benchmark, comma-separated or repeated (default: every one available)').argParser(
        listOf(
          BENCH_CONNECTORS.map((c) => c.name),
          'connector',
        ),
      ),
    )
    .option('--sizes <list>', 'payload sizes for every size-swept suite, e.g. 1KiB,1MiB,10MB (default: per suite)', wrap(parseSizes))
    .option('--repeat <n>', 'minimum samples per measurement (default: per suite)', positiveInteger('--repeat'))
    .option('--quick', 'a smoke run of a few minutes: short budgets, each suite\'s quick sizes', false)
    .option('--json', 'print the JSON results on stdout (the table goes to stderr)', false)
    .option('--out <dir>', 'directory for results.json, report.md and the plots (default: results/<date>-<run>)')
    .option('--no-progress', 'no progress bars: one line per step on stderr (the default when stderr is not a terminal)')
    .option(
      '--broker-limit <size>',
      `task-rtt: the broker's message-size limit (default: ${formatSize(DEFAULT_BROKER_LIMIT)})`,
      wrap(parseSize),
      DEFAULT_BROKER_LIMIT,
    )
    .option('--workers <n>', `task-rtt: worker processes (default: ${DEFAULT_WORKERS})`, positiveInteger('--workers'), DEFAULT_WORKERS)
    .action(async (options: RunOptions) => {
      process.exitCode = await actions.run(configFromOptions(options));
    });

  program
    .command('report')
    .description('re-render report.md and the SVG plots from a results.json')
    .argument('<results>', 'a results.json written by a run')
    .option('--out <dir>', 'where to write them (default: the results file\'s directory)')
    .option('--image-dir <path>', 'the path prefix of the plots in report.md\'s image links', '.')
    .action(async (results: string, options: { out?: string; imageDir: string }) => {
      process.exitCode = await actions.report(resolve(results), resolve(options.out ?? dirname(resolve(results))), options.imageDir);
    });

  program
    .command('list')
    .description('list the suites and connectors, and whether each connector can run here')
    .action(async () => {
      process.exitCode = await actions.list();
    });

  return program;
}
