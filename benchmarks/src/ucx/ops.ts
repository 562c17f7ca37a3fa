// The UCX rows of the ops suite: get and put per transport and size, three candidates side by side in the
// same run — the store over UcxConnector (the subject), the raw addon operation it sits on, and
// ucx_perftest — in interleaved rounds (ABC, then CBA, …). Each round of a candidate is a batch of calls
// one at a time after a short warm-up, and gives one sample: the mean time per call. ucx_perftest is an
// external process with its own loop and reports only such means, so every candidate is sampled alike.
import { KiB, MiB, type BenchConfig, formatSize, sizesFor } from '../config.js';
import { type PerftestTest, type PerftestWait, perftestUnavailable, runPerftest } from '../raw/ucx-perftest.js';
import { summarize } from '../stats.js';
import type { Row, SuiteContext } from '../suite.js';
import type { UcxImpl } from './protocol.js';
import type { UcxRawSession, UcxTransport } from './session.js';

/** 4 KiB … 256 MiB; quick: one small and one large size (the large one is where the 0.9× target applies). */
export const UCX_SIZES: readonly number[] = [4 * KiB, 64 * KiB, MiB, 4 * MiB, 16 * MiB, 64 * MiB, 256 * MiB];
export const UCX_QUICK_SIZES: readonly number[] = [64 * KiB, 4 * MiB];

export const UCX_OPS = ['get', 'put'] as const;
export type UcxOp = (typeof UCX_OPS)[number];

export interface UcxPlan {
  sizes: number[];
  /** Rounds per candidate: each gives one sample. */
  rounds: number;
  /** Timed calls per round. */
  iterations(bytes: number): number;
  /** Untimed calls before each round. */
  warmup(iterations: number): number;
}

/**
 * Untimed calls before every round, at least. ucx_perftest starts a new server and client each round, and
 * its first calls after start-up run cold: over shared memory, with one warm-up call its 16 MiB
 * ucp_am_bw took 2.2-2.9 ms per message where it takes 1.4-1.6 ms from the third on (4 calls per round,
 * as here; 3 runs each). Fewer would set a warm store against a cold baseline. The store and the addon
 * get the same.
 */
export const MIN_WARMUP = 5;

/**
 * Full: 8 rounds of up to 64 MiB moved (3 to 200 calls); quick: 2 rounds of up to 16 MiB (2 to 50 calls).
 * Warm-up: a tenth of the calls, at least MIN_WARMUP. `--repeat N` sets the rounds.
 */
export function ucxPlan(config: BenchConfig): UcxPlan {
  const quick = config.quick;
  const volume = quick ? 16 * MiB : 64 * MiB;
  const [least, most] = quick ? [2, 50] : [3, 200];
  return {
    sizes: sizesFor(config, { full: UCX_SIZES, quick: UCX_QUICK_SIZES }),
    rounds: config.repeat ?? (quick ? 2 : 8),
    iterations: (bytes) => Math.max(least, Math.min(most, Math.ceil(volume / bytes))),
    warmup: (iterations) => Math.max(MIN_WARMUP, Math.ceil(iterations / 10)),
  };
}

/** What ucx_perftest runs for each op: RMA get for get, active-message bandwidth for put. */
export const PERFTEST_TEST: Record<UcxOp, PerftestTest> = { get: 'ucp_get', put: 'ucp_am_bw' };

/** One thing timed per round: `run` returns the mean milliseconds per call of one batch. */
export interface Candidate {
  /** params.baseline of the rows it is the baseline of ('addon', 'ucx_perftest'); the subject's is unused. */
  label: string;
  /** What it is, as code: "store.get(key)", "ep.get(region, …)". */
  name: string;
  run(bytes: number, iterations: number, warmup: number): Promise<number>;
  /**
   * Counters per timed call over the runs since the last `counters()` (the addon's registrations and pool
   * misses), which then start again; they go into the row's params. Absent where there are none.
   */
  counters?(): Record<string, number>;
}

/** A subject of an op: the row's case ('get') and what is timed. */
export interface Subject {
  case: string;
  candidate: Candidate;
}

/** Runs every candidate `rounds` times, the order reversed every other round; the samples of each, in ms per call. */
export async function interleave(candidates: readonly Candidate[], bytes: number, plan: UcxPlan): Promise<number[][]> {
  const samples = candidates.map(() => [] as number[]);
  const iterations = plan.iterations(bytes);
  const warmup = plan.warmup(iterations);
  for (let round = 0; round < plan.rounds; round++) {
    const order = candidates.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order) (samples[i] as number[]).push(await (candidates[i] as Candidate).run(bytes, iterations, warmup));
  }
  return samples;
}

/**
 * The ucx_perftest baselines of each op, by how it waits. Busy polling ('poll', ucx_perftest's default) is
 * the baseline of the 0.9× target. Puts also get 'sleep' (-E sleep): ucx_perftest waiting on its event fd
 * as the addon does, which over tcp on a VM is the bigger part of a put's gap (docs/benchmarks.md).
 */
export const PERFTEST_WAITS: Record<UcxOp, readonly PerftestWait[]> = { get: ['poll'], put: ['poll', 'sleep'] };

/** params.baseline of a ucx_perftest baseline: 'ucx_perftest' (busy polling) or 'ucx_perftest-sleep'. */
export function perftestLabel(wait: PerftestWait): string {
  return wait === 'poll' ? 'ucx_perftest' : 'ucx_perftest-sleep';
}

/** ucx_perftest as a candidate: one client/server pair per round, its overall time per operation. */
export function perftestCandidate(op: UcxOp, transport: UcxTransport, wait: PerftestWait = 'poll'): Candidate {
  const test = PERFTEST_TEST[op];
  return {
    label: perftestLabel(wait),
    name: `ucx_perftest -t ${test} -O 1 -m host${wait === 'sleep' ? ' -E sleep' : ''} (UCX_TLS=${transport.tls})`,
    async run(bytes, iterations, warmup) {
      const result = await runPerftest({ test, bytes, iterations, warmup, tls: transport.tls, wait });
      return result.overallUs / 1000;
    },
  };
}

/** The raw addon operation under each op, as timed in the client process. */
export const RAW_IMPL: Record<UcxOp, { impl: UcxImpl; name: string }> = {
  get: { impl: 'rma-get', name: 'ep.get(region, 0, n, address, rkey) into a preallocated registered region' },
  put: { impl: 'push-put', name: 'ep.amSend(bytes of a registered region) → a pooled block of the owner (rendezvous) → its empty AM, over an endpoint of the daemon put\'s pushErrorMode' },
};

export function sessionCandidate(session: Pick<UcxRawSession, 'run'>, impl: UcxImpl, label: string, name: string): Candidate {
  return {
    label,
    name,
    async run(bytes, iterations, warmup) {
      return (await session.run(impl, bytes, iterations, warmup)).msPerOp;
    },
  };
}

export interface UcxOpsOptions {
  /** The connector name the rows carry: 'ucx-tcp'. */
  connector: string;
  transport: UcxTransport;
  /** Where the raw addon baselines run (only `run` is used). */
  session: Pick<UcxRawSession, 'run'>;
  /**
   * The subjects of each op (the store over UcxConnector in the client), a row case each; all of an op's
   * subjects and its baselines are interleaved together, so the rows of one op share baseline samples.
   */
  subjects: Record<UcxOp, readonly Subject[]>;
  plan: UcxPlan;
  /** The ucx_perftest baselines of an op (PERFTEST_WAITS); default `perftestCandidate` where ucx_perftest is installed. */
  perftest?: (op: UcxOp, wait: PerftestWait) => Candidate;
}

/** Bytes per second, 10^9, at a time per op in ms. */
function gbps(bytes: number, ms: number): number {
  return bytes / (ms / 1000) / 1e9;
}

/**
 * The rows of one transport: per size and op, the subject and its baselines (the raw addon operation, and
 * ucx_perftest where it is installed; where not, ctx is told why once). Each row carries
 * params.bandwidthRatio = subject GB/s ÷ baseline GB/s at the medians (the inverse of `ratio`, which is
 * time over time like every ops row), params.transport and params.tls.
 */
export async function measureUcxOps(ctx: SuiteContext, options: UcxOpsOptions, check: (bytes: number) => Promise<void>): Promise<Row[]> {
  const { connector, transport, session, subjects, plan } = options;
  const perftest = options.perftest ?? ((op: UcxOp, wait: PerftestWait) => perftestCandidate(op, transport, wait));
  const perftestMissing = options.perftest === undefined ? perftestUnavailable() : null;
  if (perftestMissing !== null) ctx.skip({ connector, reason: `ucx_perftest baseline: ${perftestMissing}` });
  const rows: Row[] = [];
  for (const bytes of plan.sizes) {
    await check(bytes);
    for (const op of UCX_OPS) {
      ctx.progress.step(`${op} ${connector} ${formatSize(bytes)}`);
      const baselines = [
        sessionCandidate(session, RAW_IMPL[op].impl, 'addon', RAW_IMPL[op].name),
        ...(perftestMissing === null ? PERFTEST_WAITS[op].map((wait) => perftest(op, wait)) : []),
      ];
      const mine = subjects[op];
      let samples: number[][];
      try {
        samples = await interleave([...mine.map((s) => s.candidate), ...baselines], bytes, plan);
      } catch (err) {
        // A failed call (a timeout, a process gone) costs this figure, not the run: the next size or
        // transport still runs, and the reason is recorded under skipped.
        ctx.skip({ connector, reason: `${op} ${formatSize(bytes)} failed: ${err instanceof Error ? err.message : String(err)}` });
        ctx.log(`${connector}: ${op} ${formatSize(bytes)} failed: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
      mine.forEach((subject, j) => {
        const subjectStats = summarize(samples[j] as number[]);
        const counters = subject.candidate.counters?.() ?? {};
        baselines.forEach((baseline, i) => {
          const stats = summarize(samples[mine.length + i] as number[]);
          rows.push({
            suite: 'ops',
            case: subject.case,
            connector,
            bytes,
            params: {
              baseline: baseline.label,
              transport: transport.name,
              tls: transport.tls,
              rounds: plan.rounds,
              callsPerRound: plan.iterations(bytes),
              bandwidthRatio: gbps(bytes, subjectStats.median) / gbps(bytes, stats.median),
              ...counters,
            },
            subject: { name: subject.candidate.name, stats: subjectStats },
            baseline: { name: baseline.name, stats },
          });
        });
      });
    }
  }
  return rows;
}
