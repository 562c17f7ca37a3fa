// The headline experiment of ProxyStore (SC23): a task service whose broker has a message-size limit, as
// serverless/FaaS services do, with one client (this process) and N worker processes. For each size the
// same task runs by value (the bytes inside the task and result messages, through the broker) and by proxy
// through every cross-process connector (the messages carry references; the data goes through the store).
// Round-trip time is what a user waits for; sizes whose message exceeds the limit cannot run by value at
// all, and their rows say so instead of having a baseline.
import { randomUUID } from 'node:crypto';
import { freemem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Store, toReference } from '@proxystore/core';
import { GiB, formatSize, repeatFor, sizesFor } from '../config.js';
import type { BenchConnector, BenchSession } from '../connectors.js';
import { collectGarbage, consume } from '../measure.js';
import { summarize } from '../stats.js';
import type { Row, Suite, SuiteContext } from '../suite.js';
import type { TaskClient, TaskResult } from '../task-rtt/client.js';
import { isBrokerError } from '../task-rtt/errors.js';
import { startTaskService } from '../task-rtt/service.js';
import { packPayload, randomPayload, receive, sha256, touchPages } from '../task-rtt/task.js';

/** Input (= output) sizes in bytes: decimal steps as in the paper. 1 GB joins the full run by memory (below). */
export const TASK_RTT_SIZES = { full: [1, 1e3, 1e5, 1e6, 1e7, 1e8], quick: [1, 1e6, 2e7] } as const;
/** Round trips per size and mode, after one warmup round trip per worker and mode. */
export const TASK_RTT_REPEAT = { full: 30, quick: 20 } as const;
/** From 1 GB up a round trip takes seconds and varies little, so without --repeat it runs this many times. */
export const TASK_RTT_REPEAT_HUGE = 5;
const HUGE_BYTES = 1e9;
/** The 1 GB point of the full run. By proxy it holds about 6 copies at once (client input and result, the
 *  store's files in the page cache, the worker's input, output pool and output), so it runs only where
 *  os.freemem() (available memory on Linux) exceeds 12 GiB, and is reported as skipped otherwise. */
export const TASK_RTT_GB = 1e9;
export const TASK_RTT_GB_MIN_FREE = 12 * GiB;

const SUITE = 'task-rtt';
const BASELINE_NAME = 'by value (broker)';

interface ProxyMode {
  mode: 'proxy';
  name: string;
  bench: BenchConnector;
  store: Store;
}
type Mode = { mode: 'value'; name: string } | ProxyMode;

/** Generous, size-proportional deadline: a round trip that takes this long is a fault, not a sample. */
function deadlineFor(bytes: number): number {
  return 60_000 + (bytes / 1e6) * 200;
}

/**
 * One round trip as a user sees it, timed: build the task message (by proxy: put the input in the store
 * first), submit, await the result, resolve it and read every page. Returns ms and the received data.
 */
async function roundTrip(
  client: TaskClient,
  mode: Mode,
  input: Uint8Array,
  outputBytes: number,
  verify: boolean,
): Promise<{ ms: number; result: TaskResult; data: Uint8Array; value: Uint8Array }> {
  const timeoutMs = deadlineFor(Math.max(input.byteLength, outputBytes));
  const start = performance.now();
  const payload = packPayload(mode.mode === 'proxy' ? await mode.store.proxy(input, { evict: true }) : input);
  const result = await client.submit({
    meta: { mode: mode.mode, outputBytes, ...(verify ? { verify: true } : {}) },
    payload,
    timeoutMs,
  });
  const received = receive(result.payload, mode.mode);
  consume(received.checksum);
  const ms = performance.now() - start;
  return { ms, result, data: received.data, value: received.value };
}

/**
 * Checks once per size and mode, outside the clock, that the worker read the very input bytes and the
 * client the very output bytes (SHA-256 of both), and by proxy that evict-on-use left nothing in the store.
 */
async function verifyMode(client: TaskClient, mode: Mode, input: Uint8Array, inputSha: string): Promise<void> {
  const size = input.byteLength;
  const what = `task-rtt ${formatSize(size)} ${mode.name}`;
  const { result, data, value } = await roundTrip(client, mode, input, size, true);
  const meta = result.meta;
  if (meta.inputBytes !== size || meta.inputSha256 !== inputSha || meta.checksum !== touchPages(input)) {
    throw new Error(`${what}: the worker read other input bytes than the client sent`);
  }
  if (data.byteLength !== size || sha256(data) !== meta.outputSha256) {
    throw new Error(`${what}: the client received other output bytes than the worker returned`);
  }
  if (mode.mode === 'proxy') {
    const outputKey = toReference(value).key;
    // Eviction after the first use may run in the background (connectors without evictSync).
    for (let i = 0; i < 100 && (await mode.store.exists(outputKey)); i++) await new Promise((r) => setTimeout(r, 10));
    if (await mode.store.exists(outputKey)) throw new Error(`${what}: the output is still in the store after its proxy resolved`);
  }
}

async function sizeRows(ctx: SuiteContext, client: TaskClient, modes: readonly Mode[], size: number, repeat: number): Promise<Row[]> {
  const { brokerLimit, workers } = ctx.config;
  const input = randomPayload(size);
  const inputSha = sha256(input);
  const inputChecksum = touchPages(input);
  const label = formatSize(size);

  let impossible: string | undefined;
  let note: string | undefined;
  for (const mode of modes) {
    ctx.progress.step(`${label} ${mode.name}`);
    try {
      await verifyMode(client, mode, input, inputSha);
    } catch (err) {
      if (mode.mode !== 'value' || !isBrokerError(err, 'BROKER_MESSAGE_TOO_LARGE')) throw err;
      const direction = String(err.details.direction ?? 'task');
      impossible =
        `by value: a ${label} message exceeds the broker's ${formatSize(brokerLimit)} limit ` +
        `(the ${direction} message is ${err.details.bytes} B with its header and encoding)`;
      if (size <= brokerLimit) {
        note = `the ${label} payload alone fits in the ${formatSize(brokerLimit)} limit, but the message adds a frame header and the serialization's framing`;
      }
    }
  }
  if (impossible === undefined && modes.some((m) => m.mode === 'value') && size + 24 > brokerLimit) {
    throw new Error(`task-rtt ${label}: the broker accepted a by-value message larger than its ${brokerLimit} B limit`);
  }

  const timedModes = modes.filter((m) => impossible === undefined || m.mode !== 'value');
  const samples = timedModes.map(() => [] as number[]);
  const once = async (mode: Mode): Promise<number> => {
    const { ms, result, data } = await roundTrip(client, mode, input, size, false);
    // Cheap checks of every timed round trip, outside the clock.
    if (result.meta.checksum !== inputChecksum || data.byteLength !== size) {
      throw new Error(`task-rtt ${label} ${mode.name}: a round trip returned other data`);
    }
    return ms;
  };
  // Warmup, one round trip per worker and mode (the broker alternates workers): JIT, sockets, page cache,
  // each worker's output pool.
  for (let w = 0; w < Math.max(1, workers); w++) for (const mode of timedModes) await once(mode);
  for (let r = 0; r < repeat; r++) {
    // Interleaved, the order reversed every other round, so machine drift spreads over every mode alike.
    const order = timedModes.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const i of order) {
      collectGarbage(); // the previous round trip's garbage is not collected on this one's clock
      (samples[i] as number[]).push(await once(timedModes[i] as Mode));
    }
  }

  const stats = timedModes.map((_, i) => summarize(samples[i] as number[]));
  const valueAt = timedModes.findIndex((m) => m.mode === 'value');
  const baseline = valueAt >= 0 ? { name: BASELINE_NAME, stats: stats[valueAt] as (typeof stats)[number] } : undefined;
  ctx.log(
    `task-rtt › ${label}: ` +
      timedModes.map((m, i) => `${m.name} ${(stats[i]?.median ?? Number.NaN).toFixed(2)} ms`).join(', ') +
      (impossible === undefined ? '' : ', by value impossible') +
      ' (median)',
  );
  const rows: Row[] = [];
  timedModes.forEach((mode, i) => {
    if (mode.mode !== 'proxy') return;
    rows.push({
      suite: SUITE,
      case: 'rtt',
      connector: mode.bench.name,
      bytes: size,
      params: { inputBytes: size, outputBytes: size, workers, brokerLimit },
      subject: { name: mode.name, stats: stats[i] as (typeof stats)[number] },
      ...(baseline === undefined ? {} : { baseline }),
      ...(impossible === undefined ? {} : { impossible }),
      ...(note === undefined ? {} : { note }),
    });
  });
  return rows;
}

/** The sizes of this run, with the 1 GB point added to the full default where memory allows. */
function plannedSizes(ctx: SuiteContext): number[] {
  const sizes = sizesFor(ctx.config, TASK_RTT_SIZES);
  if (ctx.config.sizes === undefined && !ctx.config.quick) {
    const free = freemem();
    if (free > TASK_RTT_GB_MIN_FREE) sizes.push(TASK_RTT_GB);
    else {
      ctx.skip({
        reason: `${formatSize(TASK_RTT_GB)}: needs more than ${formatSize(TASK_RTT_GB_MIN_FREE)} of free memory, ${formatSize(free)} free`,
      });
    }
  }
  return sizes;
}

export const taskRttSuite: Suite = {
  name: SUITE,
  description: 'Task round trip through a broker with a message-size limit: by value vs by proxy, per size',
  async run(ctx) {
    const crossProcess = ctx.connectors.filter((c) => c.crossProcess);
    if (crossProcess.length === 0) {
      ctx.skip({ reason: 'no cross-process connector selected: by proxy needs one that a worker process can read (file)' });
      return [];
    }
    const sizes = plannedSizes(ctx);
    const repeat = repeatFor(ctx.config, TASK_RTT_REPEAT);
    const { brokerLimit, workers } = ctx.config;
    ctx.progress.plan(sizes.length * (1 + crossProcess.length));

    const sessions: { session: BenchSession; store: Store }[] = [];
    let stopService: (() => Promise<void>) | undefined;
    try {
      const service = await startTaskService({ brokerLimit, workers });
      stopService = service.stop;
      ctx.log(`task-rtt › broker on 127.0.0.1:${service.port}, ${workers} workers, limit ${brokerLimit} B; ${repeat} round trips per size and mode`);
      const modes: Mode[] = [{ mode: 'value', name: BASELINE_NAME }];
      for (const bench of crossProcess) {
        const session = await bench.open();
        // Registered, so the result proxies the workers send back resolve through this very store; a
        // unique name, so workers (which re-create it from the reference's config) never mix up runs.
        const store = new Store(`task-rtt-${bench.name}-${randomUUID()}`, session.connector, { cacheSize: 0, register: true });
        sessions.push({ session, store });
        modes.push({ mode: 'proxy', name: `by proxy (${bench.name})`, bench, store });
      }
      const rows: Row[] = [];
      for (const size of sizes) {
        const times = size >= HUGE_BYTES && ctx.config.repeat === undefined ? Math.min(repeat, TASK_RTT_REPEAT_HUGE) : repeat;
        rows.push(...(await sizeRows(ctx, service.client, modes, size, times)));
      }
      return rows;
    } finally {
      // Children first (nothing reads the stores any more), then the stores and what their sessions started.
      const errors: unknown[] = [];
      await stopService?.().catch((err: unknown) => errors.push(err));
      for (const { session, store } of sessions) {
        await store.close({ clear: true }).catch((err: unknown) => errors.push(err));
        await session.close().catch((err: unknown) => errors.push(err));
      }
      if (errors.length > 0) ctx.log(`task-rtt › clean-up failed: ${errors.map(String).join('; ')}`);
    }
  },
};
