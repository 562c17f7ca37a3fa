// What a suite is and what it returns. A suite times subjects next to raw baselines measured in the
// same run and returns rows; the runner, the JSON, the Markdown report and the plots know nothing else
// about it, so adding a suite (or a transport to a suite) does not touch them.
import type { BenchConfig } from './config.js';
import type { BenchConnector } from './connectors.js';
import type { MeasureOptions, Measurement } from './measure.js';

/** What a measurement's samples are: times in milliseconds, or sizes in bytes (peak RSS). */
export type Unit = 'ms' | 'bytes';

export interface Measured {
  /** What was measured, as code or words a reader recognises: "store.get(key)", "by value via broker". */
  name: string;
  /** Default 'ms'. */
  unit?: Unit;
  stats: Measurement;
}

export interface Row {
  suite: string;
  /** The operation or quantity the row compares: "put", "get", "rtt", "peak RSS (consumer)". */
  case: string;
  /** The connector under test, where the row has one ("memory", "file", later "redis", "endpoint", "ucx"). */
  connector?: string;
  /** Payload bytes: the x axis of the plots, and what GB/s is computed over for time rows. */
  bytes?: number;
  /** Anything else that identifies the row (task-rtt: inputBytes, outputBytes, workers). */
  params?: Record<string, string | number | boolean>;
  subject: Measured;
  /** The raw baseline, in the same unit as the subject. Absent when it cannot run: see `impossible`. */
  baseline?: Measured;
  /** Why there is no baseline (task-rtt: "by value exceeds the broker's 10 MB message limit"). */
  impossible?: string;
  /** Caveats a reader needs to read the ratio right. */
  note?: string;
}

/** Progress of one suite: `plan` the number of steps once, then `step` before each. */
export interface Progress {
  plan(steps: number): void;
  step(label: string): void;
}

/** Something the suite could not cover, and why ("redis: redis-server not found"). */
export interface Skipped {
  suite: string;
  connector?: string;
  reason: string;
}

export interface SuiteContext {
  config: BenchConfig;
  /** Time budgets for small, fast operations, scaled for --quick. */
  budget: MeasureOptions;
  /** Budgets for an operation on `bytes` bytes: fewer iterations and warmups for large payloads. */
  budgetFor(bytes: number): MeasureOptions;
  /** The connectors selected with --connector (all by default) that can run on this machine. */
  connectors: readonly BenchConnector[];
  progress: Progress;
  /** Record a case that was left out, with the reason; it goes into the JSON and the report. */
  skip(skipped: Omit<Skipped, 'suite'>): void;
  /** Free-form progress lines, to stderr. */
  log(message: string): void;
}

export interface Suite {
  name: string;
  description: string;
  run(ctx: SuiteContext): Promise<Row[]>;
}
