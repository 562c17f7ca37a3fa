// The endpoint's request rate against the number of clients and the payload size, as the reference
// system evaluates its endpoints (ProxyStore, SC23): one endpoint process, N clients (each an
// EndpointConnector on a channel of its own) spread over two client processes, each client calling one op
// in a closed loop for a fixed wall time per cell. The same cells against a raw grpc-js server process
// give the ratio. Then a chunk-size sweep: put and get through one endpoint whose chunk size (endpoint and
// client alike) is each candidate, next to the raw grpc-js stream at the same chunk size.
import { type ChildProcess } from 'node:child_process';
import { type Key, Store } from '@proxystore/core';
import { EndpointConnector } from '@proxystore/endpoint';
import { EndpointProcess } from '@proxystore/endpoint/testing';
import { DEFAULT_CHUNK_SIZE } from '@proxystore/control';
import { awaitMessage, childScript, spawnChild, stopChild } from '../child.js';
import { type BenchConfig, KiB, MiB, formatSize, sizesFor } from '../config.js';
import { ENDPOINT_LIMITS, benchToken } from '../connectors.js';
import { type MeasureOptions, type Measurement, consume, measureInterleaved, timed } from '../measure.js';
import { type QpsCellResult, type QpsCommand, type QpsOp, type QpsReply, type QpsTarget, epochMs } from '../qps/protocol.js';
import { RawGrpcClient } from '../raw/grpc.js';
import { startRawServer } from '../raw/process.js';
import { summarize } from '../stats.js';
import type { Row, Suite, SuiteContext } from '../suite.js';
import { payload, sameBytes } from './ops.js';

export const QPS_CLIENTS: readonly number[] = [1, 2, 4, 8, 16, 32, 64];
export const QPS_QUICK_CLIENTS: readonly number[] = [1, 8, 64];
export const QPS_PAYLOADS: readonly number[] = [KiB, 100 * KiB, MiB, 10 * MiB];
export const QPS_QUICK_PAYLOADS: readonly number[] = [KiB, MiB];
export const CHUNK_SIZES: readonly number[] = [64 * KiB, 256 * KiB, MiB, 4 * MiB];
export const CHUNK_PAYLOADS: readonly number[] = [MiB, 16 * MiB, 64 * MiB];
export const CHUNK_QUICK_PAYLOADS: readonly number[] = [MiB, 16 * MiB];
/** The machine this suite was written for has 2 cores: two client processes, beside the server. */
export const CLIENT_PROCESSES = 2;

/** The order cells run in: puts make the objects the evicts then remove. */
const CELL_ORDER: readonly QpsOp[] = ['get', 'exists', 'put', 'evict'];

export interface QpsPlan {
  clients: number[];
  payloads: number[];
  ops: QpsOp[];
  /** Wall time of one cell, ms. */
  cellMs: number;
  processes: number;
  /** Chunk sizes of the sweep; empty: no sweep. */
  chunkSizes: number[];
  chunkPayloads: number[];
}

export function qpsPlan(config: BenchConfig): QpsPlan {
  return {
    clients: [...(config.quick ? QPS_QUICK_CLIENTS : QPS_CLIENTS)],
    payloads: sizesFor(config, { full: QPS_PAYLOADS, quick: QPS_QUICK_PAYLOADS }),
    ops: [...CELL_ORDER],
    cellMs: config.quick ? 150 : 1500,
    processes: CLIENT_PROCESSES,
    chunkSizes: [...CHUNK_SIZES],
    chunkPayloads: [...(config.quick ? CHUNK_QUICK_PAYLOADS : CHUNK_PAYLOADS)],
  };
}

/** What each op is, on each side, for the tables. */
const NAMES: Record<QpsOp, { endpoint: string; grpc: string }> = {
  get: { endpoint: 'EndpointConnector.get(key)', grpc: 'grpc-js server stream get' },
  put: { endpoint: 'EndpointConnector.put(frames)', grpc: 'grpc-js client stream put' },
  exists: { endpoint: 'EndpointConnector.exists(key)', grpc: 'grpc-js unary exists' },
  evict: { endpoint: 'EndpointConnector.evict(key)', grpc: 'grpc-js unary evict' },
};

/** One client process: commands go one at a time, each answered by one message. */
class ClientProcess {
  readonly #child: ChildProcess;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(child: ChildProcess) {
    this.#child = child;
  }

  static async start(): Promise<ClientProcess> {
    const child = spawnChild(childScript(import.meta.url, '../qps/client'), []);
    try {
      await awaitMessage(child, 'ready', 'an endpoint-qps client process', 20_000);
    } catch (err) {
      await stopChild(child);
      throw err;
    }
    return new ClientProcess(child);
  }

  send(command: QpsCommand): Promise<QpsReply> {
    const next = this.#queue.then(
      () =>
        new Promise<QpsReply>((resolve, reject) => {
          const onMessage = (reply: QpsReply): void => {
            this.#child.off('exit', onExit);
            if (reply.type === 'error') reject(new Error(`endpoint-qps client (${command.type} ${'target' in command ? command.target : ''}): ${reply.message}`));
            else resolve(reply);
          };
          const onExit = (code: number | null, signal: string | null): void => {
            this.#child.off('message', onMessage);
            reject(new Error(`an endpoint-qps client process exited (${signal ?? `code ${code}`}) during ${command.type}`));
          };
          this.#child.once('message', onMessage);
          this.#child.once('exit', onExit);
          this.#child.send(command);
        }),
    );
    this.#queue = next.catch(() => {});
    return next;
  }

  stop(): Promise<void> {
    return stopChild(this.#child);
  }
}

/** n clients over p processes, as evenly as they go: 8 over 2 → [4, 4]; 1 over 2 → [1, 0]. */
export function shares(n: number, p: number): number[] {
  return Array.from({ length: p }, (_, i) => Math.floor(n / p) + (i < n % p ? 1 : 0));
}

export interface CellResult {
  ops: number;
  /** Aggregate calls per second over the cell's wall time. */
  rate: number;
  latencies: number[];
}

/**
 * Combines the processes' results: ops over the wall time from the first process's start (the agreed
 * instant unless every process was late) to the last call's end.
 */
export function combine(results: readonly QpsCellResult[]): CellResult {
  const latencies: number[] = [];
  let ops = 0;
  const working = results.filter((r) => r.ops > 0);
  const startAt = Math.min(...working.map((r) => r.beginAt));
  let end = startAt;
  for (const r of working) {
    ops += r.ops;
    end = Math.max(end, r.endAt);
    for (const l of r.latencies) latencies.push(l);
  }
  const seconds = working.length === 0 ? 0 : (end - startAt) / 1000;
  return { ops, rate: seconds > 0 ? ops / seconds : 0, latencies };
}

async function cell(processes: readonly ClientProcess[], target: QpsTarget, op: QpsOp, bytes: number, cellMs: number): Promise<CellResult> {
  // A short lead, so both processes have the command before the clock starts.
  const startAt = epochMs() + 30;
  const replies = await Promise.all(processes.map((p) => p.send({ type: 'run', target, op, bytes, startAt, durationMs: cellMs })));
  return combine(
    replies.map((r) => {
      if (r.type !== 'result') throw new Error(`endpoint-qps: a client process answered ${r.type} to run`);
      return r.result;
    }),
  );
}

function gbps(bytes: number, rate: number): number {
  return (bytes * rate) / 1e9;
}

async function rateRows(ctx: SuiteContext, plan: QpsPlan): Promise<Row[]> {
  const token = benchToken();
  const chunkSize = DEFAULT_CHUNK_SIZE;
  const rows: Row[] = [];
  const endpoint = await EndpointProcess.start({ name: 'bench-qps', token, ...ENDPOINT_LIMITS });
  const processes: ClientProcess[] = [];
  try {
    const raw = await startRawServer({ kind: 'grpc', token, chunkSize });
    try {
      for (let i = 0; i < plan.processes; i++) processes.push(await ClientProcess.start());
      const all = (make: (p: ClientProcess, i: number) => QpsCommand | undefined): Promise<unknown> =>
        Promise.all(processes.map((p, i) => {
          const command = make(p, i);
          return command === undefined ? undefined : p.send(command);
        }));
      const targets: { target: QpsTarget; address: string }[] = [
        { target: 'endpoint', address: endpoint.address },
        { target: 'grpc', address: raw.address },
      ];
      for (const n of plan.clients) {
        const split = shares(n, processes.length);
        for (const { target, address } of targets) {
          await all((_, i) => ({ type: 'open', target, address, token, chunkSize, clients: split[i] ?? 0 }));
        }
        for (const bytes of plan.payloads) {
          for (const { target } of targets) await all(() => ({ type: 'prepare', target, bytes }));
          for (const [index, op] of plan.ops.entries()) {
            ctx.progress.step(`${op} ${formatSize(bytes)} × ${n} clients`);
            // Alternate which side goes first, so neither always runs on the warmer machine.
            const first: QpsTarget = index % 2 === 0 ? 'endpoint' : 'grpc';
            const a = await cell(processes, first, op, bytes, plan.cellMs);
            const b = await cell(processes, first === 'endpoint' ? 'grpc' : 'endpoint', op, bytes, plan.cellMs);
            const [mine, theirs] = first === 'endpoint' ? [a, b] : [b, a];
            const moves = op === 'get' || op === 'put';
            rows.push({
              suite: 'endpoint-qps',
              case: op,
              connector: 'endpoint',
              bytes,
              params: {
                clients: n,
                clientProcesses: processes.length,
                cellMs: plan.cellMs,
                ops: mine.ops,
                baselineOps: theirs.ops,
                opsPerSec: mine.rate,
                baselineOpsPerSec: theirs.rate,
                // raw rate / endpoint rate: like every ratio here, 1× = as fast as the raw server, higher is slower.
                rateRatio: mine.rate > 0 ? theirs.rate / mine.rate : 0,
                ...(moves ? { aggregateGBps: gbps(bytes, mine.rate), baselineAggregateGBps: gbps(bytes, theirs.rate) } : {}),
              },
              subject: { name: NAMES[op].endpoint, stats: summarize(mine.latencies) },
              baseline: { name: NAMES[op].grpc, stats: summarize(theirs.latencies) },
              ...(op === 'evict'
                ? { note: 'evict removes the objects the put cell made, until none is left or the time is up: few calls at large payloads' }
                : {}),
            });
          }
          for (const { target } of targets) await all(() => ({ type: 'cleanup', target }));
        }
        for (const { target } of targets) await all(() => ({ type: 'close', target }));
      }
    } finally {
      await Promise.all(processes.map((p) => p.stop()));
      await raw.stop();
    }
  } finally {
    await endpoint.stop();
  }
  return rows;
}

/** One candidate of the sweep: an endpoint and a raw grpc-js server set to the chunk size, and their clients. */
interface ChunkSide {
  chunkSize: number;
  store: Store;
  raw: RawGrpcClient;
  stop(): Promise<void>;
}

async function chunkSide(chunkSize: number, token: string): Promise<ChunkSide> {
  const endpoint = await EndpointProcess.start({ name: `bench-chunks-${chunkSize}`, token, chunkSize, ...ENDPOINT_LIMITS });
  let rawServer: Awaited<ReturnType<typeof startRawServer>>;
  try {
    rawServer = await startRawServer({ kind: 'grpc', token, chunkSize });
  } catch (err) {
    await endpoint.stop();
    throw err;
  }
  const raw = new RawGrpcClient(rawServer.address, { token, chunkSize });
  const store = new Store(`bench-chunks-${chunkSize}`, new EndpointConnector({ address: endpoint.address, token, chunkSize }), {
    cacheSize: 0,
  });
  return {
    chunkSize,
    store,
    raw,
    async stop() {
      await store.close({ clear: true }).catch(() => {});
      raw.close();
      await rawServer.stop();
      await endpoint.stop();
    },
  };
}

/**
 * Put and get through an endpoint set to each chunk size, next to the raw grpc-js stream at the same chunk
 * size. Every candidate runs at once (an endpoint and a raw server each), and each payload's puts (then
 * gets) of all candidates are measured interleaved, so a slow spell of a shared machine hits them alike.
 */
async function chunkRows(ctx: SuiteContext, plan: QpsPlan): Promise<Row[]> {
  if (plan.chunkSizes.length === 0) return [];
  const token = benchToken();
  const rows: Row[] = [];
  const sides: ChunkSide[] = [];
  try {
    // Every candidate starts at once; each one that started is stopped whatever happens to the others.
    const starts = await Promise.allSettled(plan.chunkSizes.map((chunkSize) => chunkSide(chunkSize, token)));
    for (const s of starts) if (s.status === 'fulfilled') sides.push(s.value);
    const failed = starts.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    for (const bytes of plan.chunkPayloads) {
      const data = payload(bytes);
      const budget: MeasureOptions = { ...ctx.budgetFor(bytes), warmupTime: 0 };
      const keys: Key[] = [];
      for (const side of sides) {
        const label = `chunk ${formatSize(side.chunkSize)}, ${formatSize(bytes)}`;
        const key = await side.store.put(data);
        keys.push(key);
        await side.raw.put('get', data);
        const back = await side.store.get<Uint8Array>(key);
        if (!(back instanceof Uint8Array) || !sameBytes(back, data)) throw new Error(`${label}: store.get returned other bytes`);
        if (!sameBytes((await side.raw.get('get')) ?? new Uint8Array(0), data)) throw new Error(`${label}: the raw get returned other bytes`);
      }
      const push = (op: 'put' | 'get', subject: string, baseline: string, stats: Measurement[]): void => {
        sides.forEach((side, i) =>
          rows.push({
            suite: 'endpoint-qps',
            case: `chunk ${op}`,
            connector: 'endpoint',
            bytes,
            params: { chunkSize: side.chunkSize },
            subject: { name: subject, stats: stats[2 * i] as Measurement },
            baseline: { name: baseline, stats: stats[2 * i + 1] as Measurement },
          }),
        );
      };

      ctx.progress.step(`put ${formatSize(bytes)} at ${sides.length} chunk sizes`);
      push(
        'put',
        'store.put(bytes)',
        'grpc-js client stream put',
        await measureInterleaved(
          sides.flatMap((side) => {
            let putKey: Key | undefined;
            return [
              timed(`store.put(bytes) @${side.chunkSize}`, async () => void (putKey = await side.store.put(data)), {
                afterEach: async () => putKey !== undefined && (await side.store.evict(putKey)),
              }),
              timed(`grpc-js put @${side.chunkSize}`, () => side.raw.put('put', data), { afterEach: () => side.raw.evict('put') }),
            ];
          }),
          budget,
        ),
      );
      ctx.progress.step(`get ${formatSize(bytes)} at ${sides.length} chunk sizes`);
      push(
        'get',
        'store.get(key)',
        'grpc-js server stream get',
        await measureInterleaved(
          sides.flatMap((side, i) => [
            timed(`store.get(key) @${side.chunkSize}`, async () => consume((await side.store.get<Uint8Array>(keys[i] as Key))?.byteLength)),
            timed(`grpc-js get @${side.chunkSize}`, async () => consume((await side.raw.get('get'))?.byteLength)),
          ]),
          budget,
        ),
      );
      for (const [i, side] of sides.entries()) {
        await side.store.evict(keys[i] as Key);
        await side.raw.evict('get');
      }
    }
  } finally {
    for (const side of sides) await side.stop();
  }
  return rows;
}

/** The rate cells, then the chunk-size sweep, as `plan` says. */
export async function runEndpointQps(ctx: SuiteContext, plan: QpsPlan): Promise<Row[]> {
  const sweep = plan.chunkSizes.length === 0 ? 0 : plan.chunkPayloads.length * 2;
  ctx.progress.plan(plan.clients.length * plan.payloads.length * plan.ops.length + sweep);
  const rows = await rateRows(ctx, plan);
  rows.push(...(await chunkRows(ctx, plan)));
  return rows;
}

export const endpointQpsSuite: Suite = {
  name: 'endpoint-qps',
  description: 'endpoint request rate vs clients and payload (GET/PUT/EXISTS/EVICT) next to a raw grpc-js server; chunk-size sweep',
  async run(ctx) {
    if (!ctx.connectors.some((c) => c.name === 'endpoint')) {
      ctx.skip({ connector: 'endpoint', reason: 'the endpoint connector is not selected, or cannot run here (see skipped connectors)' });
      return [];
    }
    return runEndpointQps(ctx, qpsPlan(ctx.config));
  },
};
