// The UCX connectors of the benchmark, one per transport (`ucx-tcp`, `ucx-sm`). They take part in the ops
// suite only, and measure their rows in processes of their own (ops.ts): UCX reads UCX_TLS once per
// process, and ucx_perftest, one of the baselines, is a process with its own loop.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchConnector } from '../connectors.js';
import { benchToken } from '../connectors.js';
import { UCX_OPS, type UcxOp, type Candidate, type Subject, measureUcxOps, sessionCandidate, ucxPlan } from './ops.js';
import type { UcxImpl } from './protocol.js';
import { UcxRawSession, type UcxTransport, ownerPollUs } from './session.js';

/**
 * The subjects of each op. A get takes a pool block that returns when its value's buffer is collected
 * (case 'get'), so back-to-back gets may find no idle block and register a fresh one: the rows'
 * memMapsPerCall and poolMissesPerCall say how often. Case 'get+release' gives each value's block back
 * with releaseValue, on the clock, as a consumer done with its value does; 'getSync+release' does the same
 * through getSync, the blocking read a proxy's first access makes.
 */
const SUBJECTS: Record<UcxOp, { case: string; impl: UcxImpl; name: string }[]> = {
  get: [
    { case: 'get', impl: 'connector-get', name: 'store.get(key) (UcxConnector, daemon mode)' },
    { case: 'get+release', impl: 'connector-get-release', name: 'store.get(key), then releaseValue(value) (UcxConnector, daemon mode)' },
    {
      case: 'getSync+release',
      impl: 'connector-getsync-release',
      name: "store.getSync(key) (a proxy's just-in-time read), then releaseValue(value) (UcxConnector, daemon mode)",
    },
  ],
  put: [{ case: 'put', impl: 'connector-put', name: 'store.put(bytes) (UcxConnector, daemon mode)' }],
};

/** The addon counters a subject's rows carry, per timed call. */
/** sharedCopies: same-host copies the addon's copy helper joined (native/ucx/src/copy.cc). */
const COUNTERS = ['memMaps', 'poolMisses', 'wakeups', 'sharedCopies'] as const;

/**
 * A subject timed in the client, with the addon's counters read before and after each batch (off the
 * clock): `counters()` gives them per call (warm-up calls included in the count, as they run in the batch).
 */
export function countedCandidate(session: Pick<UcxRawSession, 'run' | 'stats'>, impl: UcxImpl, label: string, name: string): Candidate {
  const timed = sessionCandidate(session, impl, label, name);
  let calls = 0;
  let pollUs = 0;
  const sums = Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Record<(typeof COUNTERS)[number], number>;
  return {
    ...timed,
    async run(bytes, iterations, warmup) {
      const before = await session.stats();
      const ms = await timed.run(bytes, iterations, warmup);
      const after = await session.stats();
      for (const c of COUNTERS) sums[c] += after[c] - before[c];
      calls += iterations + warmup;
      pollUs = after.pollUs ?? 0;
      return ms;
    },
    counters() {
      // The client's poll window (PROXYSTORE_UCX_POLL_US), and the owner's: the same unless
      // PROXYSTORE_BENCH_DAEMON_POLL_US gives the owner one of its own (session.ts).
      const out: Record<string, number> = {
        ...Object.fromEntries(COUNTERS.map((c) => [`${c}PerCall`, calls > 0 ? sums[c] / calls : 0])),
        pollUs,
        daemonPollUs: ownerPollUs(),
      };
      calls = 0;
      for (const c of COUNTERS) sums[c] = 0;
      return out;
    },
  };
}

let probed: Promise<string | null> | undefined;

/**
 * null when the addon loads and @proxystore/ucx has its UcxConnector, else what to do. Probed in a child
 * process (once per run): loading UCX here would fix this process's UCX_TLS.
 */
export function ucxUnavailable(): Promise<string | null> {
  probed ??= probeUcx(process.env);
  return probed;
}

/** The probe behind ucxUnavailable, in a child with environment `env`. */
export function probeUcx(env: NodeJS.ProcessEnv): Promise<string | null> {
  return new Promise((resolve) => {
    const script = `
      const native = await import('@proxystore/ucx/native').catch((e) => ({ failed: e }));
      if (native.failed) { console.log('@proxystore/ucx is not built (npm run build): ' + native.failed.message.split('\\n')[0]); process.exit(0); }
      const a = native.ucxAvailability();
      if (!a.available) { console.log(a.reason); process.exit(0); }
      const ucx = await import('@proxystore/ucx').catch((e) => ({ failed: e }));
      if (ucx.failed || typeof ucx.UcxConnector !== 'function' || typeof ucx.UcxServer !== 'function') {
        console.log('@proxystore/ucx has no UcxConnector/UcxServer: build it (npm run build)'); process.exit(0);
      }
      console.log('ok');`;
    const probe = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env,
      encoding: 'utf8',
      timeout: 30_000,
    });
    const out = (probe.stdout ?? '').trim().split('\n').pop() ?? '';
    resolve(out === 'ok' ? null : out || `probing the UCX addon failed: ${(probe.stderr ?? '').trim().split('\n').pop() ?? probe.status}`);
  });
}

export function ucxBench(transport: UcxTransport): BenchConnector {
  const name = `ucx-${transport.name}`;
  return {
    name,
    description:
      `UcxConnector over UCX_TLS=${transport.tls} (daemon mode: a UcxServer in an owner process), measured in processes of its own; ` +
      'raw: the addon\'s RMA get / pull-put between the same processes, and ucx_perftest ucp_get / ucp_am_bw',
    crossProcess: false,
    suites: ['ops'],
    unavailable: ucxUnavailable,
    open() {
      return Promise.reject(new Error(`${name} is measured in processes of its own: only the ops suite runs it`));
    },
    ops: {
      steps: (config) => ucxPlan(config).sizes.length * UCX_OPS.length,
      async measure(ctx) {
        const plan = ucxPlan(ctx.config);
        const session = await UcxRawSession.start(transport, Math.max(...plan.sizes));
        try {
          await session.startConnector(benchToken());
          const subjects = Object.fromEntries(
            UCX_OPS.map((op) => [op, SUBJECTS[op].map((s) => ({ case: s.case, candidate: countedCandidate(session, s.impl, 'store', s.name) }))]),
          ) as Record<UcxOp, Subject[]>;
          return await measureUcxOps(ctx, { connector: name, transport, session, subjects, plan }, async (bytes) => {
            await session.check(bytes);
            await session.prepareConnector(bytes);
          });
        } finally {
          await session.stop();
        }
      },
    },
  };
}
