// What a suite is and what it returns. A suite times subjects next to raw baselines measured in the
// same run and returns one row per (subject, baseline) pair; the runner and the reports know nothing
// else about it, so adding a suite (or a `--suite` filter) does not touch them.
import type { BenchConfig } from './config.js';
import type { MeasureOptions, Measurement } from './measure.js';

export interface Measured {
  /** What was timed, as code a reader recognises: "store.proxyFromKey(key)". */
  name: string;
  stats: Measurement;
}

export interface Row {
  suite: string;
  /** What the row compares, e.g. "resolve (memory)". */
  case: string;
  /** Payload bytes, for rows where throughput (GB/s) means something. */
  bytes?: number;
  subject: Measured;
  baseline: Measured;
  /** Caveats a reader needs to read the ratio right. */
  note?: string;
}

export interface SuiteContext {
  config: BenchConfig;
  /** Time budgets for small, fast operations, scaled for --quick. */
  budget: MeasureOptions;
  /** Budgets for an operation on `bytes` bytes: fewer iterations and warmups for large payloads. */
  budgetFor(bytes: number): MeasureOptions;
  /** Progress lines, to stderr. */
  log(message: string): void;
}

export interface Suite {
  name: string;
  description: string;
  run(ctx: SuiteContext): Promise<Row[]>;
}
