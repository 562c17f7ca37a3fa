// The UCX rows' plumbing without UCX: the plan, the interleaving, and the rows measureUcxOps makes from
// its candidates (fakes here; session.test.ts runs the real processes).
import { describe, expect, it } from 'vitest';
import { KiB, MiB, defaultConfig } from '../config.js';
import type { Row, Skipped, SuiteContext } from '../suite.js';
import { type Candidate, MIN_WARMUP, UCX_QUICK_SIZES, UCX_SIZES, interleave, measureUcxOps, ucxPlan } from './ops.js';
import { UCX_TRANSPORTS } from './session.js';

function context(quick = true): { ctx: SuiteContext; steps: string[]; skipped: Skipped[] } {
  const steps: string[] = [];
  const skipped: Skipped[] = [];
  const config = defaultConfig('/tmp/unused', { quick });
  const budget = { time: 1, iterations: 1, warmupTime: 0, warmupIterations: 0 };
  return {
    ctx: {
      config,
      budget,
      budgetFor: () => budget,
      connectors: [],
      progress: { plan() {}, step: (label) => void steps.push(label) },
      skip: (s) => void skipped.push({ suite: 'ops', ...s }),
      log() {},
    },
    steps,
    skipped,
  };
}

/** A candidate that takes `ms` per call and records each batch it ran. */
function fake(label: string, ms: (bytes: number) => number, log: string[]): Candidate {
  return {
    label,
    name: `${label}()`,
    async run(bytes, iterations, warmup) {
      log.push(`${label} ${bytes} ${iterations} ${warmup}`);
      return ms(bytes);
    },
  };
}

describe('ucxPlan', () => {
  it('sizes, rounds and calls per round: full, quick, --sizes and --repeat', () => {
    const full = ucxPlan(defaultConfig('/x'));
    expect(full.sizes).toEqual([...UCX_SIZES]);
    expect(full.rounds).toBe(8);
    expect([4 * KiB, MiB, 4 * MiB, 64 * MiB, 256 * MiB].map(full.iterations)).toEqual([200, 64, 16, 3, 3]);
    expect(full.warmup(200)).toBe(20);
    expect(full.warmup(3)).toBe(MIN_WARMUP);
    expect(full.warmup(16)).toBe(MIN_WARMUP);
    const quick = ucxPlan(defaultConfig('/x', { quick: true }));
    expect(quick.sizes).toEqual([...UCX_QUICK_SIZES]);
    expect(quick.rounds).toBe(2);
    expect(quick.iterations(4 * MiB)).toBe(4);
    const custom = ucxPlan(defaultConfig('/x', { sizes: [KiB], repeat: 5 }));
    expect(custom.sizes).toEqual([KiB]);
    expect(custom.rounds).toBe(5);
  });
});

describe('interleave', () => {
  it('runs every candidate once per round, the order reversed every other round', async () => {
    const log: string[] = [];
    const plan = { ...ucxPlan(defaultConfig('/x', { quick: true })), rounds: 3 };
    const samples = await interleave([fake('a', () => 1, log), fake('b', () => 2, log), fake('c', () => 3, log)], MiB, plan);
    expect(log.map((l) => l.split(' ')[0]).join('')).toBe('abccbaabc');
    expect(log[0]).toBe(`a ${MiB} 16 ${MIN_WARMUP}`);
    expect(samples).toEqual([
      [1, 1, 1],
      [2, 2, 2],
      [3, 3, 3],
    ]);
  });
});

describe('measureUcxOps', () => {
  it('a row per op, size and baseline, with the bandwidth ratio and the transport', async () => {
    const log: string[] = [];
    const { ctx, steps, skipped } = context();
    const plan = { ...ucxPlan(ctx.config), sizes: [64 * KiB, 4 * MiB] };
    const session = {
      run: async (impl: string, bytes: number) => ({ msPerOp: impl === 'rma-get' ? 1 : 4, p50Ms: 1, calls: 1 }),
    };
    const checked: number[] = [];
    const rows: Row[] = await measureUcxOps(
      ctx,
      {
        connector: 'ucx-tcp',
        transport: UCX_TRANSPORTS.tcp,
        session,
        plan,
        subjects: {
          get: [
            { case: 'get', candidate: fake('store', () => 2, log) },
            { case: 'get (second subject)', candidate: { ...fake('store', () => 1, log), counters: () => ({ memMapsPerCall: 0 }) } },
          ],
          put: [{ case: 'put', candidate: fake('store', () => 8, log) }],
        },
        perftest: (op, wait) => fake(wait === 'poll' ? 'ucx_perftest' : 'ucx_perftest-sleep', () => (op === 'get' ? 0.5 : wait === 'poll' ? 2 : 4), log),
      },
      async (bytes) => void checked.push(bytes),
    );
    expect(checked).toEqual([64 * KiB, 4 * MiB]);
    expect(skipped).toEqual([]);
    expect(steps).toEqual(['get ucx-tcp 64 KiB', 'put ucx-tcp 64 KiB', 'get ucx-tcp 4 MiB', 'put ucx-tcp 4 MiB']);
    // Per size: two get subjects × (addon, ucx_perftest), one put subject × (addon, ucx_perftest busy and -E sleep).
    expect(rows).toHaveLength(14);
    // Both get subjects share the baseline samples of one interleaving: per round, the fakes logged here
    // (two subjects and ucx_perftest for get, one and both ucx_perftest waits for put; the addon runs in `session`).
    expect(log.filter((l) => l.endsWith(`${4 * MiB} 4 ${MIN_WARMUP}`))).toHaveLength(2 * (3 + 3));
    const reused = rows.filter((r) => r.case === 'get (second subject)' && r.bytes === 4 * MiB);
    expect(reused.map((r) => r.params?.['bandwidthRatio'])).toEqual([1, 0.5]);
    expect(reused[0]?.params?.['memMapsPerCall']).toBe(0);
    const get = rows.filter((r) => r.case === 'get' && r.bytes === 4 * MiB);
    expect(get.map((r) => r.params?.['baseline'])).toEqual(['addon', 'ucx_perftest']);
    // store 2 ms vs addon 1 ms: half the bandwidth; vs ucx_perftest 0.5 ms: a quarter.
    expect(get.map((r) => r.params?.['bandwidthRatio'])).toEqual([0.5, 0.25]);
    expect(get[0]?.params).toMatchObject({ transport: 'tcp', tls: 'tcp', rounds: 2, callsPerRound: 4 });
    expect(get[0]?.subject.stats.samples).toBe(2);
    const put = rows.filter((r) => r.case === 'put' && r.bytes === 4 * MiB);
    expect(put.map((r) => r.params?.['baseline'])).toEqual(['addon', 'ucx_perftest', 'ucx_perftest-sleep']);
    // store 8 ms vs addon 4, ucx_perftest 2 (busy) and 4 (-E sleep).
    expect(put.map((r) => r.params?.['bandwidthRatio'])).toEqual([0.5, 0.25, 0.5]);
  });
});

describe('measureUcxOps when a call fails', () => {
  it('records the figure as skipped with the reason and goes on with the next', async () => {
    const { ctx, skipped } = context();
    const plan = { ...ucxPlan(ctx.config), sizes: [64 * KiB] };
    const failing: Candidate = { label: 'store', name: 'store.put', run: () => Promise.reject(new Error('no answer within 30000 ms')) };
    const rows = await measureUcxOps(
      ctx,
      {
        connector: 'ucx-sm',
        transport: UCX_TRANSPORTS.sm,
        session: { run: async () => ({ msPerOp: 1, p50Ms: 1, calls: 1 }) },
        plan,
        subjects: { get: [{ case: 'get', candidate: fake('store', () => 1, []) }], put: [{ case: 'put', candidate: failing }] },
        perftest: () => fake('ucx_perftest', () => 1, []),
      },
      async () => {},
    );
    expect(rows.map((r) => r.case)).toEqual(['get', 'get']);
    expect(skipped).toEqual([{ suite: 'ops', connector: 'ucx-sm', reason: 'put 64 KiB failed: no answer within 30000 ms' }]);
  });
});
