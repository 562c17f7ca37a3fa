// The sync bridge (DESIGN §3): a proxy whose connector can only read asynchronously (Redis, gRPC) still
// resolves synchronously on first use. A worker thread runs the connector's async `get` while the caller
// blocks in `Atomics.wait`; the frames come back by transfer and are read with `receiveMessageOnPort`,
// so the caller never returns to its event loop. `Store.getSync` uses it after the connector's own
// `getSync` and its local answer (`getLocal`); see the package README for the rules and limits.
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { debuglog } from 'node:util';
import { MessageChannel, Worker, isMainThread, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import type { ConnectorConfig, Key } from './connector.js';
import { ConfigError, ConnectorError } from './errors.js';
import {
  BRIDGE_MARK,
  DEAD,
  EXIT_CODE,
  LAST_WORDS,
  READY,
  RECEIVED,
  SIGNAL,
  STATE_SLOTS,
  STATUS,
  errorFromWire,
  rebuildError,
  type BridgeReply,
  type BridgeRequest,
  type BridgeWorkerData,
} from './sync-bridge-protocol.js';

/** `NODE_DEBUG=proxystore` prints the bridge's start, failures and dropped late replies. */
const debug = debuglog('proxystore');

/** How long a synchronous read waits for the bridge by default, ms. */
export const DEFAULT_SYNC_TIMEOUT_MS = 30_000;

export interface SyncBridgeOptions {
  /** How long a synchronous read through the bridge waits before ConnectorError `SYNC_TIMEOUT`, ms. Default 30 000. */
  timeoutMs?: number;
}

export interface SyncBridgeGetOptions {
  /** Overrides the process-wide `timeoutMs` for this read. */
  timeoutMs?: number;
}

/** Counters of this thread's bridge, for tests and diagnosis. */
export interface SyncBridgeStats {
  /** A bridge worker is up (started and not known to have stopped). */
  running: boolean;
  /** The current bridge worker's `threadId`, or null when none is running. */
  threadId: number | null;
  /** Bridge workers started by this thread so far (a crashed or wedged one is replaced by the next read). */
  started: number;
  /** Reads sent through the bridge. */
  requests: number;
  /** Reads that gave up with `SYNC_TIMEOUT`. */
  timeouts: number;
  /** Replies that arrived after their read had timed out, and were dropped. */
  lateReplies: number;
  /** Reads that failed with `SYNC_BRIDGE_FAILED` (the worker stopped). */
  failures: number;
}

let defaults: Required<SyncBridgeOptions> = { timeoutMs: DEFAULT_SYNC_TIMEOUT_MS };

/** `value` as a timeout in ms: a positive, finite number (the wait is always bounded). */
export function checkSyncTimeout(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`${what} must be a positive, finite number of milliseconds, got ${String(value)}`);
  }
  return value;
}

/** Sets this thread's defaults for reads through the sync bridge (each thread has its own bridge). */
export function setSyncBridgeOptions(options: SyncBridgeOptions): void {
  const timeoutMs = options.timeoutMs === undefined ? defaults.timeoutMs : checkSyncTimeout(options.timeoutMs, 'timeoutMs');
  defaults = { timeoutMs };
}

export function getSyncBridgeOptions(): Required<SyncBridgeOptions> {
  return { ...defaults };
}

/** True inside the bridge's own worker: a read there must not start a bridge of the bridge. */
const inBridgeThread =
  !isMainThread &&
  typeof workerData === 'object' &&
  workerData !== null &&
  (workerData as { [BRIDGE_MARK]?: unknown })[BRIDGE_MARK] === true;

/**
 * The worker's script. A Worker runs JavaScript, so this is always the built file beside this module; when
 * this module runs from its TypeScript source (vitest on `src/*.ts`), it is the one in `dist/`, which
 * `npm test` builds first.
 */
function workerScript(): URL {
  const beside = new URL('./sync-bridge-worker.js', import.meta.url);
  if (existsSync(beside)) return beside;
  const built = new URL('../dist/sync-bridge-worker.js', import.meta.url);
  if (existsSync(built)) return built;
  throw new ConnectorError(
    `The sync bridge's worker script is missing (${fileURLToPath(beside)}); build @proxystore/core`,
    { code: 'SYNC_BRIDGE_FAILED' },
  );
}

/**
 * Runs first in the worker, as CommonJS: it marks the shared state DEAD on any exit before it imports the
 * worker module, so a worker that cannot even load (a broken install) fails the read at once instead of
 * leaving it to its timeout. Its exit handler posts the worker module's last words (the uncaught error)
 * before it marks the state: one handler, so the caller never wakes to DEAD before the words are queued.
 */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
const state = new Int32Array(workerData.state);
process.on('exit', (code) => {
  try {
    const lastWords = globalThis[Symbol.for('${LAST_WORDS}')];
    if (typeof lastWords === 'function') workerData.port.postMessage(lastWords(code));
  } catch {}
  Atomics.store(state, ${EXIT_CODE}, code);
  Atomics.store(state, ${STATUS}, ${DEAD});
  Atomics.add(state, ${SIGNAL}, 1);
  Atomics.notify(state, ${SIGNAL});
});
import(workerData.script).catch((err) => {
  try {
    const error = { name: String(err && err.name), message: String(err && err.message), classes: [] };
    workerData.port.postMessage({ type: 'dead', id: 0, code: 1, error });
  } catch {}
  throw err;
});
`;

/** One bridge worker, its port and the shared state; replaced when it stops. */
class Bridge {
  readonly state = new Int32Array(new SharedArrayBuffer(STATE_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  readonly worker: Worker;
  readonly port: MessagePort;
  /** Requests posted to this worker. */
  sent = 0;
  /** The worker's last word, when it exited while a read waited. */
  deathNote: Extract<BridgeReply, { type: 'dead' }> | undefined;
  /** Set by the worker's 'error' / 'exit' events, seen when this thread's event loop has run since. */
  #gone = false;

  constructor() {
    const { port1, port2 } = new MessageChannel();
    const data: BridgeWorkerData & { script: string } = {
      [BRIDGE_MARK]: true,
      port: port2,
      state: this.state.buffer as SharedArrayBuffer,
      script: workerScript().href,
    };
    try {
      // The bootstrap is CommonJS source: a parent started with `--input-type=module` (node -e) would pass
      // that flag on to the worker, which would then fail to start and leave the caller waiting.
      const execArgv = process.execArgv.filter((arg) => !arg.startsWith('--input-type'));
      this.worker = new Worker(BOOTSTRAP, { eval: true, execArgv, workerData: data, transferList: [port2] });
    } catch (err) {
      port1.close();
      throw new ConnectorError('Cannot start the sync bridge worker', { code: 'SYNC_BRIDGE_FAILED', cause: err });
    }
    // Never keeps the process (or thread) alive: it only works while someone waits on it.
    this.worker.unref();
    port1.unref();
    this.port = port1;
    this.worker.on('error', (err) => {
      debug('sync bridge worker %d failed: %s', this.worker.threadId, err);
      this.#gone = true;
    });
    this.worker.on('exit', (code) => {
      debug('sync bridge worker %d exited with code %d', this.worker.threadId, code);
      this.#gone = true;
    });
    debug('sync bridge worker %d started', this.worker.threadId);
  }

  get dead(): boolean {
    return this.#gone || Atomics.load(this.state, STATUS) === DEAD;
  }

  /** Whether the worker is listening: before that, a silent worker is starting up, not wedged. */
  get ready(): boolean {
    return Atomics.load(this.state, READY) === 1;
  }

  dispose(): Promise<void> {
    this.#gone = true;
    this.port.close();
    return this.worker.terminate().then(
      () => undefined,
      () => undefined,
    );
  }
}

let bridge: Bridge | undefined;
let nextId = 1;
const counters = { started: 0, requests: 0, timeouts: 0, lateReplies: 0, failures: 0 };

function currentBridge(): Bridge {
  if (bridge?.dead === true) discard(bridge);
  if (bridge === undefined) {
    bridge = new Bridge();
    counters.started += 1;
  }
  return bridge;
}

function discard(b: Bridge): void {
  if (bridge === b) bridge = undefined;
  void b.dispose();
}

/** Takes every message off the port: the reply to `id`, if there; replies to abandoned reads are dropped. */
function drain(b: Bridge, id: number): BridgeReply | undefined {
  let found: BridgeReply | undefined;
  for (let m = receiveMessageOnPort(b.port); m !== undefined; m = receiveMessageOnPort(b.port)) {
    const message = m.message as BridgeReply;
    if (message.type === 'dead') {
      b.deathNote = message;
    } else if (message.id === id) {
      found = message;
    } else {
      counters.lateReplies += 1;
      debug('sync bridge: dropped the late reply to read %d', message.id);
    }
  }
  return found;
}

function describeRead(config: ConnectorConfig, key: Key): string {
  return `key ${JSON.stringify(key)} of connector '${config.kind}'`;
}

function settle(reply: Exclude<BridgeReply, { type: 'dead' }>, config: ConnectorConfig): Uint8Array[] | null {
  if (reply.type === 'frames') return reply.frames;
  const err = errorFromWire(reply.error);
  if (reply.stage === 'connect' && (err as { code?: unknown }).code === 'UNKNOWN_CONNECTOR') {
    throw new ConnectorError(
      `Connector '${config.kind}' has no synchronous read, and the sync bridge cannot build it in its worker ` +
        `thread (package '${config.package}' does not register kind '${config.kind}' there); ` +
        `await resolveAsync(proxy) before using the proxy`,
      { code: 'SYNC_UNSUPPORTED', cause: err },
    );
  }
  throw err;
}

/**
 * Reads `key` with the async `get` of the connector `config` describes, synchronously: the bridge worker
 * builds the connector from its config (once per config) and runs the get while this thread waits. The
 * frames arrive by transfer and belong to the caller. Returns null when the key is missing.
 *
 * Errors keep their class and code (ConnectorError, ClosedError, ConfigError, ...); anything else becomes
 * ConnectorError `SYNC_BRIDGE_REMOTE_ERROR` with the original as its cause. No answer within the timeout:
 * ConnectorError `SYNC_TIMEOUT`. The worker stopped: ConnectorError `SYNC_BRIDGE_FAILED`, and the next read
 * starts a new worker. Must not be used for a key this thread itself serves: see `Connector.getLocal`.
 */
export function syncBridgeGet(config: ConnectorConfig, key: Key, options: SyncBridgeGetOptions = {}): Uint8Array[] | null {
  if (inBridgeThread) {
    throw new ConnectorError(
      `Connector '${config.kind}' has no synchronous read, and this is the sync bridge's own worker thread`,
      { code: 'SYNC_UNSUPPORTED' },
    );
  }
  const timeoutMs =
    options.timeoutMs === undefined ? defaults.timeoutMs : checkSyncTimeout(options.timeoutMs, 'timeoutMs');
  const deadline = performance.now() + timeoutMs;
  const b = currentBridge();
  const id = nextId++;
  // Read before posting: any reply after the post moves SIGNAL, so the wait below cannot miss it.
  let seen = Atomics.load(b.state, SIGNAL);
  b.port.postMessage({ id, config, key } satisfies BridgeRequest);
  b.sent += 1;
  const sequence = b.sent;
  counters.requests += 1;
  for (;;) {
    const reply = drain(b, id);
    if (reply !== undefined && reply.type !== 'dead') return settle(reply, config);
    if (b.dead) {
      // The worker queues its last words (and perhaps this reply) before it marks itself DEAD.
      const last = drain(b, id);
      if (last !== undefined && last.type !== 'dead') return settle(last, config);
      counters.failures += 1;
      discard(b);
      const note = b.deathNote;
      const code = note?.code ?? Atomics.load(b.state, EXIT_CODE);
      throw new ConnectorError(
        `The sync bridge worker stopped (exit code ${code}) before answering a read of ${describeRead(config, key)}; ` +
          `the next synchronous read starts a new worker`,
        note?.error === undefined ? { code: 'SYNC_BRIDGE_FAILED' } : { code: 'SYNC_BRIDGE_FAILED', cause: rebuildError(note.error) },
      );
    }
    const remaining = deadline - performance.now();
    if (remaining <= 0) {
      counters.timeouts += 1;
      // A worker that is up but never took this request off its port is stuck (a connector blocking its
      // event loop): replace it. One that took it is waiting on I/O, and its late reply is dropped.
      if (b.ready && Atomics.load(b.state, RECEIVED) < sequence) discard(b);
      throw new ConnectorError(
        `No answer from the sync bridge within ${timeoutMs} ms for ${describeRead(config, key)}. If this ` +
          `process serves that key itself, its connector must answer it locally (Connector.getLocal); a slow ` +
          `transport needs a longer timeout (setSyncBridgeOptions({ timeoutMs }) or the store's syncTimeoutMs)`,
        { code: 'SYNC_TIMEOUT' },
      );
    }
    Atomics.wait(b.state, SIGNAL, seen, remaining);
    seen = Atomics.load(b.state, SIGNAL);
  }
}

export function syncBridgeStats(): SyncBridgeStats {
  const running = bridge !== undefined && !bridge.dead;
  return { running, threadId: running ? (bridge as Bridge).worker.threadId : null, ...counters };
}

/**
 * Stops this thread's bridge worker (the next synchronous read starts a new one). Never needed for a
 * process to exit: the worker does not keep it alive.
 */
export async function stopSyncBridge(): Promise<void> {
  const b = bridge;
  bridge = undefined;
  await b?.dispose();
}
