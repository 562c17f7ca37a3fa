// The one place that talks to tinybench: runs tasks with warmup and a time budget, keeps the raw
// samples, and summarizes them with stats.ts. Suites describe what to time; this decides how.
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Bench } from 'tinybench';
import { type Summary, summarize } from './stats.js';

export interface MeasureOptions {
  /** Time budget of the measured phase per task, ms, split over the rounds. */
  time: number;
  /** Minimum number of samples per task, split over the rounds. */
  iterations: number;
  /** Warmup budget, ms, and minimum warmup calls, before each pass. */
  warmupTime: number;
  warmupIterations: number;
  /**
   * Wall-clock cap of a pass's measured phase, ms, hooks included. tinybench's `time` counts only the
   * timed calls, so a fast call with a slow untimed hook (evict after a 256 MiB put) would otherwise run
   * for minutes. Sampling stops at the cap with what it has (at least one sample).
   */
  wallLimit?: number;
}

/**
 * A task's statistics, and where the task ran in this process, the minor page faults it caused per call
 * (fresh memory the kernel maps in). Measurements taken in other processes (task-rtt, memory) have none.
 */
export interface Measurement extends Summary {
  minorFaultsPerOp?: number;
}

/** One thing to time; build it with `timed` or `batched`. */
export interface TaskSpec {
  name: string;
  fn: () => unknown;
  /** Untimed set-up before each call (put the object an evict will remove) and clean-up after it. */
  beforeEach?: () => unknown;
  afterEach?: () => unknown;
}

/**
 * Anything a benchmarked body computes goes here, so the JIT cannot prove the work dead and drop it.
 */
export let sink: unknown;
export function consume(value: unknown): void {
  sink = value;
}

// A full GC before each pass, so garbage from the previous task (64 MiB buffers) is not collected on
// this task's clock. `--expose-gc` at run time, without asking users to pass a node flag.
const gc: (() => void) | undefined = (() => {
  try {
    setFlagsFromString('--expose-gc');
    const fn: unknown = runInNewContext('gc');
    return typeof fn === 'function' ? (fn as () => void) : undefined;
  } catch {
    return undefined;
  }
})();

export function collectGarbage(): void {
  gc?.();
}

/**
 * Times one call of `fn` per sample (awaited when it returns a promise). For work of a few microseconds
 * or more. `hooks` run outside the clock, around every call.
 */
export function timed(
  name: string,
  fn: () => unknown,
  hooks: { beforeEach?: () => unknown; afterEach?: () => unknown } = {},
): TaskSpec {
  return { name, fn, ...hooks };
}

/**
 * For sub-microsecond work: `body(n)` runs the operation n times in its own loop (so subject and
 * baseline pay the same loop overhead, and no closure call per operation), and each sample is the
 * batch time divided by n: the timer's own cost is amortized over the batch.
 */
export function batched(name: string, body: (n: number) => void, batch: number): TaskSpec {
  return {
    name,
    fn: () => {
      const start = performance.now();
      body(batch);
      const elapsed = performance.now() - start;
      return { overriddenDuration: elapsed / batch, overriddenIterationCost: elapsed };
    },
  };
}

interface Pass {
  samples: number[];
  /** Minor page faults during the measured phase, and the task calls in it. */
  faults: number;
  calls: number;
}

async function samplesOf(task: TaskSpec, options: MeasureOptions): Promise<Pass> {
  collectGarbage();
  const bench = new Bench({
    name: task.name,
    time: options.time,
    iterations: options.iterations,
    warmupTime: options.warmupTime,
    warmupIterations: options.warmupIterations,
    warmup: options.warmupIterations > 0 || options.warmupTime > 0,
    retainSamples: true,
    throws: true,
  });
  // Page faults are counted over the measured phase only: a large buffer that the allocator cannot reuse
  // costs one fault per 4 KiB page, which often explains a ratio better than the code under test does.
  let faults = 0;
  const { beforeEach, afterEach } = task;
  // The wall-clock cap is checked after every call, not by a timer: a loop of promises that settle at once
  // (an in-memory connector) never yields to the event loop's timer phase, so a setTimeout would never fire.
  const stop = new AbortController();
  let deadline = Number.POSITIVE_INFINITY;
  bench.add(task.name, task.fn, {
    signal: stop.signal,
    ...(beforeEach === undefined ? {} : { beforeEach: async () => void (await beforeEach()) }),
    ...(afterEach === undefined && options.wallLimit === undefined
      ? {}
      : {
          async afterEach(mode?: string) {
            if (afterEach !== undefined) await afterEach();
            if (mode === 'run' && performance.now() > deadline) stop.abort();
          },
        }),
    beforeAll(mode) {
      if (mode !== 'run') return;
      faults = -process.resourceUsage().minorPageFault;
      if (options.wallLimit !== undefined) deadline = performance.now() + options.wallLimit;
    },
    afterAll(mode) {
      if (mode !== 'run') return;
      faults += process.resourceUsage().minorPageFault;
    },
  });
  await bench.run();
  const benchTask = bench.getTask(task.name);
  const result = benchTask?.result;
  if (result === undefined || (result.state !== 'completed' && result.state !== 'aborted-with-statistics')) {
    const error = result?.state === 'errored' ? result.error : undefined;
    throw new Error(`Benchmark task '${task.name}' did not complete (${result?.state ?? 'missing'})`, { cause: error });
  }
  const samples = result.latency.samples;
  if (samples === undefined || samples.length === 0) throw new Error(`Benchmark task '${task.name}' kept no samples`);
  return { samples, faults, calls: benchTask?.runs ?? samples.length };
}

/**
 * Times each task, interleaved: `rounds` passes, the order reversed on every other pass (AB BA …),
 * each pass with its own warmup and a 1/rounds share of the budget; samples are pooled per task.
 * Whichever task runs second on a noisy machine tends to look faster (warm allocator, page cache,
 * CPU frequency); alternating spreads that bias over subject and baseline alike.
 */
export async function measureInterleaved(
  tasks: readonly TaskSpec[],
  options: MeasureOptions,
  rounds = 2,
): Promise<Measurement[]> {
  const pass: MeasureOptions = {
    ...options,
    time: options.time / rounds,
    iterations: Math.max(1, Math.ceil(options.iterations / rounds)),
    ...(options.wallLimit === undefined ? {} : { wallLimit: options.wallLimit / rounds }),
  };
  const pooled: number[][] = tasks.map(() => []);
  const faults = tasks.map(() => ({ faults: 0, calls: 0 }));
  for (let round = 0; round < rounds; round++) {
    const order = tasks.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order) {
      const into = pooled[i] as number[];
      const result = await samplesOf(tasks[i] as TaskSpec, pass);
      // A loop, not push(...samples): a fast task yields millions of samples, past the argument limit.
      for (const sample of result.samples) into.push(sample);
      const count = faults[i] as { faults: number; calls: number };
      count.faults += result.faults;
      count.calls += result.calls;
    }
  }
  return pooled.map((samples, i) => {
    const count = faults[i] as { faults: number; calls: number };
    return { ...summarize(samples), minorFaultsPerOp: count.calls > 0 ? count.faults / count.calls : 0 };
  });
}
