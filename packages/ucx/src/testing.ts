// @proxystore/ucx/testing: what this package's tests and the benchmark suite need to run UCX across
// processes. UCX reads UCX_TLS once per process, so every role with its own transport runs in a child
// started with an explicit environment: `UcxDaemonProcess` (the `proxystore-ucx-daemon` binary) and
// `UcxChild` (a connector and a Store driven over IPC: an owner that puts, or a consumer that reads).
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ProxyReference } from '@proxystore/core';
import type { UcxConnectorOptions } from './connector.js';
import type { UcxKey } from './descriptor.js';
import { ucxAvailability } from './native.js';

export { patternBytes } from './pattern.js';

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
/** The daemon's launcher (node with DAEMON_NODE_FLAGS, then dist/main.js), as a user runs it. */
const LAUNCHER = fileURLToPath(new URL('../bin/proxystore-ucx-daemon', import.meta.url));
const CHILD = fileURLToPath(new URL('./testing-child.js', import.meta.url));

/** Why UCX tests cannot run here (the addon is absent, with what to install), or undefined when they can. */
export function ucxSkipReason(): string | undefined {
  const a = ucxAvailability();
  return a.available ? undefined : `UCX is not available: ${a.reason}`;
}

/** The environment of a child: this process's, with UCX_TLS set (or removed with `null`) and extras. */
function childEnv(tls: string | null | undefined, env: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (tls === null) delete out.UCX_TLS;
  else if (tls !== undefined) out.UCX_TLS = tls;
  // vitest's worker sets these; a child is a plain Node process.
  delete out.NODE_OPTIONS;
  return out;
}

export interface UcxDaemonOptions {
  /** UCX_TLS of the daemon (e.g. 'tcp', 'sm,self'); null removes it; default this process's. */
  tls?: string | null;
  host?: string;
  port?: number;
  token?: string;
  maxBytes?: number;
  maxObjectSize?: number;
  timeoutMs?: number;
  errorMode?: 'peer' | 'none';
  /** --poll-us: how long its UCX worker keeps polling after each message before it sleeps. */
  pollUs?: number;
  /** --sched: the scheduling policy of its main thread (the daemon's default: 'batch'). */
  sched?: 'batch' | 'normal';
  /** Extra environment. */
  env?: Record<string, string>;
}

/** What the daemon prints when it listens. */
export interface UcxDaemonReady {
  id: string;
  /** host:port of its control plane: the `daemon` option of a daemon-mode UcxConnector. */
  address: string;
  /** Its UCX worker address, base64. */
  workerAddress: string;
  errorMode: string;
  pid: number;
  /** Its UCX worker's poll window in microseconds (0: it sleeps as soon as it is idle). */
  pollUs: number;
  /** V8's young generation (one semi-space) in MiB: 16 when started through the launcher (heap.ts). */
  youngGenerationMiB: number;
  /** The scheduling policy its main thread runs under ('batch' unless started with --sched normal). */
  schedPolicy: string;
}

/** One `proxystore-ucx-daemon` child process. */
export class UcxDaemonProcess {
  readonly id: string;
  readonly address: string;
  readonly pid: number;
  readonly ready: UcxDaemonReady;
  readonly #child: ChildProcess;
  #stderr = '';

  private constructor(child: ChildProcess, ready: UcxDaemonReady) {
    this.#child = child;
    this.ready = ready;
    this.id = ready.id;
    this.address = ready.address;
    this.pid = ready.pid;
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString('utf8')).slice(-8000);
    });
  }

  /** Starts a daemon and resolves once it prints `ready`. */
  static async start(options: UcxDaemonOptions = {}): Promise<UcxDaemonProcess> {
    const args: string[] = [];
    const flag = (name: string, v: string | number | undefined): void => {
      if (v !== undefined) args.push(`--${name}`, String(v));
    };
    flag('host', options.host);
    flag('port', options.port ?? 0);
    flag('token', options.token);
    flag('max-bytes', options.maxBytes);
    flag('max-object-size', options.maxObjectSize);
    flag('timeout-ms', options.timeoutMs);
    flag('error-mode', options.errorMode);
    flag('poll-us', options.pollUs);
    flag('sched', options.sched);
    // The launcher execs node (this very one): the child's pid is the daemon's.
    const child = spawn(LAUNCHER, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { NODE: process.execPath, ...childEnv(options.tls, options.env) },
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-8000);
    });
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    try {
      const ready = await new Promise<UcxDaemonReady>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`UCX daemon did not print ready in ${START_TIMEOUT_MS} ms: ${stderr}`)), START_TIMEOUT_MS);
        lines.on('line', (line) => {
          if (!line.startsWith('ready ')) return;
          clearTimeout(timer);
          resolve(JSON.parse(line.slice('ready '.length)) as UcxDaemonReady);
        });
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`UCX daemon exited (${code ?? signal}) before ready: ${stderr.trim()}`));
        });
      });
      const d = new UcxDaemonProcess(child, ready);
      d.#stderr = stderr;
      return d;
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }

  get stderr(): string {
    return this.#stderr;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Sends `signal` (SIGKILL by default, like a crash) and waits until the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    const exited = once(this.#child, 'exit');
    this.#child.kill(signal);
    await exited;
  }

  /** SIGTERM and wait for a clean exit; SIGKILL after a timeout. Idempotent. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) {
      const exited = once(this.#child, 'exit');
      this.#child.kill('SIGTERM');
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    return { code: this.#child.exitCode, signal: this.#child.signalCode };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

export interface UcxChildOptions {
  /** UCX_TLS of the child; null removes it; default this process's. */
  tls?: string | null;
  /** Options of the child's UcxConnector. */
  connector?: UcxConnectorOptions;
  /** Name of the child's Store (registered there; references name it). */
  storeName?: string;
  env?: Record<string, string>;
}

/** An error as the child reported it. */
export interface ChildError {
  name?: string;
  code?: string;
  message?: string;
  status?: string;
  reason?: string;
}

export class UcxChildError extends Error {
  readonly code: string | undefined;
  readonly remote: ChildError;
  constructor(op: string, remote: ChildError) {
    super(`${op} in the UCX child failed: ${remote.code ?? ''} ${remote.message ?? ''}`);
    this.code = remote.code;
    this.remote = remote;
  }
}

/** What a child's get answered: a digest instead of the bytes (so large objects do not cross IPC). */
export interface ChildGetResult {
  found: boolean;
  sha256?: string;
  lengths?: number[];
  ms: number;
}

/**
 * A UcxConnector (and a Store over it) in a child process with its own UCX_TLS: an owner whose puts it
 * serves (local mode), or a consumer. Bytes are made from (size, seed) with `patternBytes` on each side.
 */
export class UcxChild {
  readonly pid: number;
  readonly errorMode: string;
  readonly #child: ChildProcess;
  #exit: Promise<unknown>;

  private constructor(child: ChildProcess, info: { pid: number; errorMode: string }) {
    this.#child = child;
    this.pid = info.pid;
    this.errorMode = info.errorMode;
    this.#exit = once(child, 'exit');
  }

  static async start(options: UcxChildOptions = {}): Promise<UcxChild> {
    const child = fork(CHILD, [], {
      env: childEnv(options.tls, options.env),
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [],
    });
    const waiting = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void; op: string }>();
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`UCX child did not start in ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      child.on('message', (m: { seq: number; ok: boolean; result?: unknown; error?: ChildError }) => {
        if (m.seq === 0) {
          clearTimeout(timer);
          resolve();
          return;
        }
        const w = waiting.get(m.seq);
        if (w === undefined) return;
        waiting.delete(m.seq);
        if (m.ok) w.resolve(m.result);
        else w.reject(new UcxChildError(w.op, m.error ?? {}));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        const err = new Error(`UCX child exited (${code ?? signal})`);
        reject(err);
        for (const w of waiting.values()) w.reject(err);
        waiting.clear();
      });
    });
    await ready;
    let next = 1;
    const send = (op: string, args: Record<string, unknown>): Promise<unknown> => {
      const seq = next++;
      return new Promise((resolve, reject) => {
        waiting.set(seq, { resolve, reject, op });
        child.send({ seq, op, args });
      });
    };
    const info = (await send('init', { options: options.connector ?? {}, storeName: options.storeName })) as {
      pid: number;
      errorMode: string;
    };
    const c = new UcxChild(child, info);
    c.#send = send;
    return c;
  }

  #send: (op: string, args: Record<string, unknown>) => Promise<unknown> = () => Promise.reject(new Error('not started'));

  /** Puts frames of pattern bytes ([size, seed] each); resolves with the key and the digest of all frames. */
  put(frames: [number, number][]): Promise<{ key: UcxKey; sha256: string }> {
    return this.#send('put', { frames }) as Promise<{ key: UcxKey; sha256: string }>;
  }

  /** Stores a value made from `spec` in the child's Store; resolves with its proxy's reference. */
  proxy(spec: { kind: 'bytes' | 'float64' | 'structured'; size: number; seed: number }): Promise<ProxyReference> {
    return this.#send('proxy', { spec }) as Promise<ProxyReference>;
  }

  get(key: UcxKey): Promise<ChildGetResult> {
    return this.#send('get', { key }) as Promise<ChildGetResult>;
  }

  getSync(key: UcxKey): Promise<ChildGetResult> {
    return this.#send('getSync', { key }) as Promise<ChildGetResult>;
  }

  /** Revives a reference in the child and resolves it synchronously. */
  resolve(reference: ProxyReference): Promise<{ sha256?: string; value?: unknown }> {
    return this.#send('resolve', { reference }) as Promise<{ sha256?: string; value?: unknown }>;
  }

  evict(key: UcxKey): Promise<void> {
    return this.#send('evict', { key }) as Promise<void>;
  }

  stats(): Promise<Record<string, number>> {
    return this.#send('stats', {}) as Promise<Record<string, number>>;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Sends `signal` (SIGKILL by default, like a crash) and waits until the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.#child.kill(signal);
    await this.#exit;
  }

  /** Closes the child's store and connector, then ends it. Idempotent. */
  async stop(): Promise<void> {
    if (!this.running) return;
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    try {
      await this.#send('close', {}).catch(() => {});
      this.#child.kill('SIGTERM');
      await this.#exit;
    } finally {
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
