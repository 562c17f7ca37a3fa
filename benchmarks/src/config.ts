// Command-line options of the benchmark runner. Parsing is separate from main.ts so it can be tested
// without running a benchmark, and so the later `proxystore-bench` CLI (commander, --suite) can reuse
// the size parser and the defaults.
import { parseArgs } from 'node:util';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Payload sizes of the resolution suite. */
export const DEFAULT_SIZES: readonly number[] = [KiB, 64 * KiB, MiB, 16 * MiB, 64 * MiB];
export const QUICK_SIZES: readonly number[] = [KiB, MiB, 16 * MiB];

export interface BenchConfig {
  /** Shorter time budgets and QUICK_SIZES: a smoke run in about a minute. */
  quick: boolean;
  /** Payload sizes in bytes for the resolution suite. */
  sizes: number[];
  /** Directory the JSON results file is written to. */
  outDir: string;
  /** Print the JSON document on stdout (the table goes to stderr). */
  json: boolean;
  /** Names of the suites to run; empty means all. */
  suites: string[];
  help: boolean;
}

export const USAGE = `Usage: node dist/main.js [options]

  --quick          short time budgets and sizes 1KiB,1MiB,16MiB (about a minute)
  --sizes LIST     payload sizes for the resolution suite, e.g. 1KiB,64KiB,1MiB (B, KiB, MiB, GiB;
                   K/M/G mean the same binary units)
  --out DIR        directory for the JSON results (default: benchmarks/results)
  --json           print the JSON results on stdout; the table goes to stderr
  --suite NAME     run only this suite (proxy, ops, serialize); repeatable
  -h, --help       this text
`;

const UNITS: Record<string, number> = { '': 1, b: 1, k: KiB, kib: KiB, m: MiB, mib: MiB, g: GiB, gib: GiB };

/** Parses "64KiB", "1M", "4096" into bytes (binary units). Throws RangeError on anything else. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match === null ? undefined : UNITS[(match[2] ?? '').toLowerCase()];
  if (match === null || unit === undefined) {
    throw new RangeError(`Invalid size ${JSON.stringify(text)}: expected a number with an optional B/KiB/MiB/GiB unit`);
  }
  const bytes = Math.round(Number(match[1]) * unit);
  if (!(bytes > 0)) throw new RangeError(`Invalid size ${JSON.stringify(text)}: must be at least 1 byte`);
  return bytes;
}

/** "1 KiB", "64 MiB", "1000 B", "1.36 MiB": exact in the largest unit that fits, else 3 digits. */
export function formatSize(bytes: number): string {
  for (const [unit, scale] of [['GiB', GiB], ['MiB', MiB], ['KiB', KiB]] as const) {
    if (bytes >= scale) return `${bytes % scale === 0 ? bytes / scale : (bytes / scale).toPrecision(3)} ${unit}`;
  }
  return `${bytes} B`;
}

/** Parses argv (without the node and script paths). Unknown options throw TypeError. */
export function parseConfig(argv: readonly string[], defaults: { outDir: string }): BenchConfig {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      sizes: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      suite: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const quick = values.quick === true;
  const sizes =
    values.sizes === undefined
      ? [...(quick ? QUICK_SIZES : DEFAULT_SIZES)]
      : values.sizes
          .split(',')
          .filter((s) => s.trim() !== '')
          .map(parseSize);
  if (sizes.length === 0) throw new RangeError('--sizes needs at least one size');
  return {
    quick,
    sizes: [...new Set(sizes)].sort((a, b) => a - b),
    outDir: values.out ?? defaults.outDir,
    json: values.json === true,
    suites: values.suite ?? [],
    help: values.help === true,
  };
}
