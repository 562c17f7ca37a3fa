// What a benchmark run is asked to do, independent of how it was asked (the commander CLI in cli.ts
// builds a BenchConfig; tests build one directly). Sizes, units and the per-suite defaults live here.

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** Every suite, in run order. `--suite` picks a subset; the default run is all of them. */
export const SUITE_NAMES = ['ops', 'proxy', 'task-rtt', 'memory', 'serialize', 'endpoint-qps'] as const;
export type SuiteName = (typeof SUITE_NAMES)[number];

/** The default message limit of the task-rtt broker, as a serverless task service has (10 MB). */
export const DEFAULT_BROKER_LIMIT = 10_000_000;
export const DEFAULT_WORKERS = 2;

export interface BenchConfig {
  /** A smoke run (a few minutes in all): shorter budgets, each suite's quick sizes, fewer repeats. */
  quick: boolean;
  /** Payload sizes in bytes for every size-swept suite; undefined means each suite's own default. */
  sizes: number[] | undefined;
  /** Minimum number of samples of every measurement; undefined means each suite's own default. */
  repeat: number | undefined;
  /** The suites to run, in SUITE_NAMES order. */
  suites: SuiteName[];
  /** Connector names to benchmark; empty means every one available on this machine. */
  connectors: string[];
  /** Directory the results (results.json, report.md, SVG plots) are written to. */
  outDir: string;
  /** Print the JSON document on stdout (the table goes to stderr). */
  json: boolean;
  /** Draw progress bars on stderr (only when stderr is a TTY); otherwise one line per step. */
  progress: boolean;
  /** task-rtt: the broker's message-size limit in bytes. */
  brokerLimit: number;
  /** task-rtt: number of worker processes. */
  workers: number;
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: KiB,
  kib: KiB,
  m: MiB,
  mib: MiB,
  g: GiB,
  gib: GiB,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
};

/**
 * Parses "64KiB", "1M", "10MB", "4096" into bytes. KiB/MiB/GiB and K/M/G are binary; kB/MB/GB are
 * decimal (the task-rtt sweep, like the paper, steps in powers of ten). Throws RangeError otherwise.
 */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match === null ? undefined : UNITS[(match[2] ?? '').toLowerCase()];
  if (match === null || unit === undefined) {
    throw new RangeError(
      `Invalid size ${JSON.stringify(text)}: expected a number with an optional unit (B, KiB, MiB, GiB, kB, MB, GB)`,
    );
  }
  const bytes = Math.round(Number(match[1]) * unit);
  if (!(bytes > 0)) throw new RangeError(`Invalid size ${JSON.stringify(text)}: must be at least 1 byte`);
  if (!Number.isSafeInteger(bytes)) throw new RangeError(`Invalid size ${JSON.stringify(text)}: too large`);
  return bytes;
}

/** A comma-separated list of sizes, sorted, without duplicates. */
export function parseSizes(text: string): number[] {
  const sizes = text
    .split(',')
    .filter((s) => s.trim() !== '')
    .map(parseSize);
  if (sizes.length === 0) throw new RangeError('--sizes needs at least one size');
  return [...new Set(sizes)].sort((a, b) => a - b);
}

/**
 * "1 KiB", "64 MiB", "1.36 MiB" for binary-looking sizes; "10 MB", "100 B" for powers of ten. Exact in
 * the largest unit that divides the size, else 3 significant digits.
 */
export function formatSize(bytes: number): string {
  // Decimal when the size is a whole number below 1000 of a decimal unit and not a binary one (10 MB, 100 kB).
  for (const [unit, scale] of [['GB', 1e9], ['MB', 1e6], ['kB', 1e3]] as const) {
    if (bytes >= scale && bytes % scale === 0 && bytes / scale < 1000 && bytes % KiB !== 0) return `${bytes / scale} ${unit}`;
  }
  for (const [unit, scale] of [['GiB', GiB], ['MiB', MiB], ['KiB', KiB]] as const) {
    if (bytes >= scale) return `${bytes % scale === 0 ? bytes / scale : (bytes / scale).toPrecision(3)} ${unit}`;
  }
  return `${bytes} B`;
}

/** The sizes a suite sweeps: --sizes when given, else the suite's quick or full list. */
export function sizesFor(config: BenchConfig, defaults: { full: readonly number[]; quick: readonly number[] }): number[] {
  if (config.sizes !== undefined) return [...config.sizes];
  return [...(config.quick ? defaults.quick : defaults.full)];
}

/** The number of repetitions a suite makes: --repeat when given, else the suite's quick or full count. */
export function repeatFor(config: BenchConfig, defaults: { full: number; quick: number }): number {
  return config.repeat ?? (config.quick ? defaults.quick : defaults.full);
}

/** A config with every default filled in; tests and the CLI start from here. */
export function defaultConfig(outDir: string, overrides: Partial<BenchConfig> = {}): BenchConfig {
  return {
    quick: false,
    sizes: undefined,
    repeat: undefined,
    suites: [...SUITE_NAMES],
    connectors: [],
    outDir,
    json: false,
    progress: true,
    brokerLimit: DEFAULT_BROKER_LIMIT,
    workers: DEFAULT_WORKERS,
    ...overrides,
  };
}
