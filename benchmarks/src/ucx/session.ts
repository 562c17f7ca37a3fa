// The parent's side of the UCX measurements: per transport, an owner process and a measuring client
// process, both started with that transport's UCX_TLS (UCX reads it once per process, so the harness
// itself never loads UCX), wired to each other, and the byte checks that run before anything is timed.
import type { NativeStats } from '@proxystore/ucx/native';
import { childScript } from '../child.js';
import { DAEMON_NODE_FLAGS, defaultErrorMode } from '@proxystore/ucx';
import { type RemoteBlock, type RunResult, type UcxImpl } from './protocol.js';
import { RpcChild } from './rpc.js';

export interface UcxTransport {
  /** What rows and connector names call it: 'tcp', 'sm'. */
  name: string;
  /** UCX_TLS of every process of the measurement, ucx_perftest's included. */
  tls: string;
}

/**
 * The two transports every machine with UCX has. Shared memory is `sm,self` (posix/sysv segments and CMA
 * for zero-copy RMA): worker addresses travel over IPC, so no tcp is needed for wireup, and ucx_perftest
 * exchanges its addresses over its own socket.
 */
export const UCX_TRANSPORTS = {
  tcp: { name: 'tcp', tls: 'tcp' },
  sm: { name: 'sm', tls: 'sm,self' },
} as const satisfies Record<string, UcxTransport>;

/** The environment of a UCX process of this transport. */
export function ucxEnv(transport: UcxTransport, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, UCX_TLS: transport.tls, UCX_WARN_UNUSED_ENV_VARS: 'n' };
}

/**
 * PROXYSTORE_BENCH_DAEMON_POLL_US: the poll window (PROXYSTORE_UCX_POLL_US) of the owner process alone,
 * which stands in for the daemon: how a node's daemon run with `--poll-us` and producers without one
 * measure. Unset: the owner inherits PROXYSTORE_UCX_POLL_US like the client.
 */
export const ENV_DAEMON_POLL = 'PROXYSTORE_BENCH_DAEMON_POLL_US';

/** The owner's poll window in µs: PROXYSTORE_BENCH_DAEMON_POLL_US, else PROXYSTORE_UCX_POLL_US, else 0. */
export function ownerPollUs(env: NodeJS.ProcessEnv = process.env): number {
  const own = env[ENV_DAEMON_POLL];
  if (own === undefined || own === '') return Number(env.PROXYSTORE_UCX_POLL_US || 0);
  const us = Number(own);
  if (!/^\d+$/.test(own) || us > 1_000_000) {
    throw new Error(`${ENV_DAEMON_POLL} must be a whole number of microseconds from 0 to 1000000, not '${own}'`);
  }
  return us;
}

/** The owner's environment: the transport's, with its own poll window when one is given. */
export function ownerEnv(transport: UcxTransport, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const own = env[ENV_DAEMON_POLL];
  const out = ucxEnv(transport, env);
  if (own !== undefined && own !== '') out.PROXYSTORE_UCX_POLL_US = String(ownerPollUs(env));
  return out;
}

export class UcxRawSession {
  private constructor(
    readonly transport: UcxTransport,
    readonly owner: RpcChild,
    readonly client: RpcChild,
  ) {}

  /** Starts both processes, registers `maxBytes` on each side and connects them both ways. */
  static async start(transport: UcxTransport, maxBytes: number): Promise<UcxRawSession> {
    const env = ucxEnv(transport);
    const errorMode = defaultErrorMode(transport.tls);
    // The owner stands in for the daemon of the connector's rows: node runs it as the daemon's launcher
    // runs the daemon (its heap settings keep V8 from a full collection per large put).
    const owner = new RpcChild(childScript(import.meta.url, './owner'), `the UCX owner (UCX_TLS=${transport.tls})`, ownerEnv(transport), undefined, DAEMON_NODE_FLAGS);
    const client = new RpcChild(childScript(import.meta.url, './client'), `the UCX client (UCX_TLS=${transport.tls})`, env);
    try {
      await Promise.all([owner.ready, client.ready]);
      const block = await owner.request<RemoteBlock>('setup', { maxBytes });
      const back = await client.request<RemoteBlock>('setup', { maxBytes, errorMode, owner: block });
      await owner.request('connectBack', { block: back, errorMode });
      return new UcxRawSession(transport, owner, client);
    } catch (err) {
      await Promise.all([owner.stop(), client.stop()]);
      throw err;
    }
  }

  /** One raw get and one raw pull-put of `bytes`, outside any clock: each side must hold the other's bytes. */
  async check(bytes: number): Promise<void> {
    await this.client.request('once', { impl: 'rma-get', bytes });
    const [got, source] = await Promise.all([
      this.client.request<string>('digest', { what: 'dest', bytes }),
      this.owner.request<string>('digest', { what: 'source', bytes }),
    ]);
    if (got !== source) throw new Error(`UCX ${this.transport.name}: the raw get of ${bytes} B returned other bytes`);
    await this.client.request('once', { impl: 'pull-put', bytes });
    const [pulled, putSource] = await Promise.all([
      this.owner.request<string>('digest', { what: 'pulled', bytes }),
      this.client.request<string>('digest', { what: 'putSource', bytes }),
    ]);
    if (pulled !== putSource) throw new Error(`UCX ${this.transport.name}: the raw pull-put of ${bytes} B moved other bytes`);
  }

  /**
   * The subject's side: a UcxServer in the owner (as `proxystore-ucx-daemon` runs one) and, in the client,
   * a store over a daemon-mode UcxConnector to it, with a bearer token.
   */
  async startConnector(token: string): Promise<void> {
    const errorMode = defaultErrorMode(this.transport.tls);
    const { address } = await this.owner.request<{ address: string }>('serverStart', { token, errorMode });
    await this.client.request('connectorSetup', { daemon: address, token, errorMode });
  }

  /** Puts the object the connector's gets of `bytes` read, and checks a put and a get give back the bytes. */
  async prepareConnector(bytes: number): Promise<void> {
    await this.client.request('connectorPrepare', { bytes }, 300_000);
  }

  /** A timed batch in the client: `iterations` calls of `impl` after `warmup` untimed ones. */
  run(impl: UcxImpl, bytes: number, iterations: number, warmup: number): Promise<RunResult> {
    return this.client.request<RunResult>('run', { impl, bytes, iterations, warmup }, 600_000);
  }

  /** The client's addon counters (registrations, pool hits and misses, wakeups). */
  stats(): Promise<NativeStats> {
    return this.client.request<NativeStats>('stats');
  }

  async stop(): Promise<void> {
    await Promise.all([this.client.stop(), this.owner.stop()]);
  }
}
