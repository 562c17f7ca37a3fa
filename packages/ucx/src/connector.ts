// The UcxConnector: objects are served from registered memory, by the producing process itself ('local'
// mode) or by a node-local daemon ('daemon' mode), and read by one-sided RMA get straight into a pooled
// registered block of the consumer, which becomes the value's backing memory (no copy after the wire).
// The key carries the whole descriptor, so a get needs no control-plane call; exists and evict go over
// the serving process's gRPC control plane.
import { readFileSync } from 'node:fs';
import {
  ClosedError,
  ConfigError,
  InvalidKeyError,
  assertFrames,
  assertKey,
  evictAll,
  newId,
  type CloseOptions,
  type Connector,
  type ConnectorConfig,
  type Frames,
  type IoOptions,
  type JsonValue,
} from '@proxystore/core';
import { ControlClient, ControlErrorCode } from '@proxystore/control';
import {
  decodeRemoteObject,
  descriptorOfKey,
  encodeRemoteObject,
  keyOf,
  type RemoteObjectInfo,
  type SameHostSource,
  type UcxKey,
} from './descriptor.js';
import { UcxError, UcxErrorCode, toUcxError } from './errors.js';
import { NONCE_SIZE, checkObject, clearNonce, frameViews, layoutOf, newNonce, objectPieces, writeObject, type Layout } from './layout.js';
import { defaultErrorMode, fetchGets, pushErrorMode, ucx } from './native-loader.js';
import type { AmDropReason, AmInfo, Endpoint, ErrorMode, MemoryRegion, NativeAddon, ProcessIdentity } from './native.js';
import { type Peer, peerFor, peerStats, releasePeers, retainPeers, withPeer, withPeerSync } from './peers.js';
import {
  AM_FETCH_REPLY,
  AM_FETCH_REQUEST,
  AM_PULL_REPLY,
  AM_PULL_REQUEST,
  AM_PUSH_REQUEST,
  AM_RESERVE,
  FETCH_NOT_FOUND,
  PullKind,
  decodePull,
  encodePull,
  jsonBytes,
  parseJson,
  withPlacement,
} from './pull.js';
import { PRIVATE, acquireRegion, regionBytes, releaseRegion } from './regions.js';
import {
  ENV_RESERVE,
  type Grant,
  addGrant,
  dropGrant,
  grantsHeld,
  grantsToAsk,
  reservationCapacity,
  abandonGrants,
  takeAbandoned,
  takeAllGrants,
  takeGrant,
} from './reserve.js';
import { defaultSameHost, markUnreachable, processIdentityOf, sameHostDisabledByEnv, sameHostSource } from './samehost.js';
import { UcxServer, localServer } from './server.js';

export type UcxMode = 'local' | 'daemon';

export interface UcxConnectorOptions {
  /**
   * 'local' (default): this process serves its own puts, from a UcxServer started on the first put (so a
   * consumer starts nothing); objects live while the connector is open. 'daemon': puts go to a node-local
   * `proxystore-ucx-daemon`, so objects outlive the producer.
   */
  mode?: UcxMode;
  /** Daemon mode: the daemon's control address (host:port). Env PROXYSTORE_UCX_DAEMON replaces it when revived. */
  daemon?: string;
  /** Local mode: interface of this process's control plane. Default 127.0.0.1. */
  host?: string;
  /** Local mode: its port. Default 0 (any free port). */
  port?: number;
  /** Bearer token of the control planes (and daemon pulls). It travels in every reference: prefer tokenFile. */
  token?: string;
  /** A file holding the token, read when the connector is built; only the path travels. */
  tokenFile?: string;
  /**
   * How endpoints notice a dead peer. Default: 'none' when UCX_TLS names only shared-memory transports
   * (which have no peer-failure support in UCX 1.13), else 'peer'. With 'none', a dead peer shows as
   * UCX_TIMEOUT after `timeoutMs`.
   */
  errorMode?: ErrorMode;
  /** Limit of every UCX operation and control call, in ms. Default 30000. */
  timeoutMs?: number;
  /**
   * Same-host reads: a get of an object whose owner runs on this host (same boot, same pid namespace)
   * copies it straight out of the owner's memfd block (mapped read-only through /proc/<pid>/fd) instead
   * of an RMA get, which UCX 1.13 emulates over shared memory with active messages the owner must answer.
   * Default: on when UCX_TLS is unset or names a shared-memory transport (so UCX_TLS=tcp tests tcp).
   * Env PROXYSTORE_UCX_SAME_HOST=0 turns it off.
   */
  sameHost?: boolean;
}

/** Environment variables a revived UcxConnector reads. */
export const ENV_DAEMON = 'PROXYSTORE_UCX_DAEMON';
export const ENV_TOKEN = 'PROXYSTORE_UCX_TOKEN';

const OPTION_FIELDS = ['mode', 'daemon', 'host', 'port', 'token', 'tokenFile', 'errorMode', 'timeoutMs', 'sameHost'] as const;
const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/;
const DEFAULT_TIMEOUT_MS = 30_000;
/**
 * A push still running after this long has its daemon's control plane asked, as often, whether the daemon
 * is still there: over shared memory UCX never sees a daemon die, and the push would wait for timeoutMs.
 */
const WATCH_MS = 1_000;
/** Unreachable control-plane answers in a row that mean the daemon is gone (one may be a blip). */
const WATCH_MISSES = 2;
/** Control-plane clients kept (one per serving process met); the oldest beyond are closed. */
const MAX_CLIENTS = 64;

function fail(message: string): never {
  throw new ConfigError(`UcxConnector: ${message}`);
}

function checkOptions(input: unknown): UcxConnectorOptions {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) fail('options must be an object');
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(OPTION_FIELDS as readonly string[]).includes(k)) fail(`unknown option '${k}'`);
  }
  const out: UcxConnectorOptions = {};
  if (o.mode !== undefined) {
    if (o.mode !== 'local' && o.mode !== 'daemon') fail(`'mode' must be 'local' or 'daemon'`);
    out.mode = o.mode;
  }
  if (o.daemon !== undefined) {
    if (typeof o.daemon !== 'string' || !ADDRESS.test(o.daemon)) fail(`'daemon' must be host:port`);
    out.daemon = o.daemon;
  }
  if (out.mode === 'daemon' && out.daemon === undefined) fail(`mode 'daemon' needs 'daemon' (the daemon's host:port)`);
  if (o.host !== undefined) {
    if (typeof o.host !== 'string' || o.host === '') fail(`'host' must be a non-empty string`);
    out.host = o.host;
  }
  if (o.port !== undefined) {
    if (typeof o.port !== 'number' || !Number.isSafeInteger(o.port) || o.port < 0 || o.port > 65535) {
      fail(`'port' must be an integer from 0 to 65535`);
    }
    out.port = o.port;
  }
  if (o.token !== undefined && o.tokenFile !== undefined) fail(`give 'token' or 'tokenFile', not both`);
  if (o.token !== undefined) {
    if (typeof o.token !== 'string' || !/^[\x21-\x7e]{1,4096}$/.test(o.token)) {
      fail(`'token' must be 1 to 4096 printable ASCII characters without spaces`);
    }
    out.token = o.token;
  }
  if (o.tokenFile !== undefined) {
    if (typeof o.tokenFile !== 'string' || o.tokenFile === '') fail(`'tokenFile' must be a path`);
    out.tokenFile = o.tokenFile;
  }
  if (o.errorMode !== undefined) {
    if (o.errorMode !== 'peer' && o.errorMode !== 'none') fail(`'errorMode' must be 'peer' or 'none'`);
    out.errorMode = o.errorMode;
  }
  if (o.timeoutMs !== undefined) {
    if (typeof o.timeoutMs !== 'number' || !Number.isSafeInteger(o.timeoutMs) || o.timeoutMs < 1 || o.timeoutMs > 2 ** 31 - 1) {
      fail(`'timeoutMs' must be an integer from 1 to ${2 ** 31 - 1}`);
    }
    out.timeoutMs = o.timeoutMs;
  }
  if (o.sameHost !== undefined) {
    if (typeof o.sameHost !== 'boolean') fail(`'sameHost' must be a boolean`);
    out.sameHost = o.sameHost;
  }
  return out;
}

function readToken(options: UcxConnectorOptions): string | undefined {
  if (options.token !== undefined) return options.token;
  if (options.tokenFile === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(options.tokenFile, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`UcxConnector: cannot read tokenFile ${options.tokenFile}: ${(err as Error).message}`, { cause: err });
  }
  if (!/^[\x21-\x7e]{1,4096}$/.test(text)) {
    throw new ConfigError(`UcxConnector: tokenFile ${options.tokenFile} must hold one token of printable ASCII`);
  }
  return text;
}

/** Rejects with the signal's reason as soon as it aborts (the operation itself runs on). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

// ---- Local-mode servers, shared by the connectors of this thread with the same listen options --------

interface SharedServer {
  server: Promise<UcxServer>;
  users: number;
}

const sharedServers = new Map<string, SharedServer>();

function attachServer(options: { host: string; port: number; token: string | undefined; errorMode: ErrorMode; timeoutMs: number }): {
  server: Promise<UcxServer>;
  detach: () => Promise<void>;
} {
  const k = JSON.stringify([options.host, options.port, options.token ?? null]);
  let shared = sharedServers.get(k);
  if (shared === undefined) {
    const s: SharedServer = {
      server: UcxServer.start({
        host: options.host,
        port: options.port,
        ...(options.token === undefined ? {} : { tokens: [options.token] }),
        errorMode: options.errorMode,
        timeoutMs: options.timeoutMs,
      }),
      users: 0,
    };
    s.server.catch(() => {
      if (sharedServers.get(k) === s) sharedServers.delete(k);
    });
    sharedServers.set(k, s);
    shared = s;
  }
  const entry = shared;
  entry.users++;
  let detached = false;
  return {
    server: entry.server,
    detach: async () => {
      if (detached) return;
      detached = true;
      if (--entry.users > 0) return;
      if (sharedServers.get(k) === entry) sharedServers.delete(k);
      const server = await entry.server.catch(() => null);
      await server?.close();
    },
  };
}

/** Frames of a push other than the one sent in place travel in the message header: at most this much. */
const INLINE_MAX = 4 * 1024;
/** ... and a frame goes in place only from this size (smaller objects: one copy is cheaper than a second
 * rendezvous segment's bookkeeping, and they go eagerly anyway). */
const IN_PLACE_MIN = 256 * 1024;

/** The index of the frame a push sends where it lies, or -1 to copy the frames into one block. */
function frameInPlace(frames: Frames): number {
  let big = -1;
  let rest = 0;
  for (const [i, f] of frames.entries()) {
    if (big < 0 || f.byteLength > (frames[big] as Uint8Array).byteLength) {
      if (big >= 0) rest += (frames[big] as Uint8Array).byteLength;
      big = i;
    } else {
      rest += f.byteLength;
    }
  }
  if (big < 0 || (frames[big] as Uint8Array).byteLength < IN_PLACE_MIN || rest > INLINE_MAX) return -1;
  return big;
}

// ---- Daemon-mode puts: replies to this thread's push (and pull) requests -----------------------------

/**
 * PROXYSTORE_UCX_PUT=pull makes daemon-mode puts stage the block and have the daemon pull it by RMA get
 * (the put of earlier versions, which every daemon still answers): for comparing the two, and for a
 * daemon that predates pushes. Read when a connector is built.
 */
export const ENV_PUT = 'PROXYSTORE_UCX_PUT';

interface PendingPull {
  resolve(reply: { kind: PullKind; a: Uint8Array; b: Uint8Array }): void;
}

const pendingPulls = new Map<number, PendingPull>();
let nextSeq = 1;
let replyHandlerSet = false;

function onPullReply(header: ArrayBuffer, _data: ArrayBuffer, info: AmInfo): void {
  const msg = decodePull(header);
  if (msg?.kind === PullKind.GRANT) return onGrant(msg.a, msg.b, info.endpoint);
  if (msg?.kind === PullKind.REVOKE) return onRevoke(msg.a, info.endpoint);
  if (msg === null || (msg.kind !== PullKind.OK && msg.kind !== PullKind.ERROR)) return;
  const pending = pendingPulls.get(msg.seq);
  if (pending === undefined) return; // timed out already
  pendingPulls.delete(msg.seq);
  pending.resolve({ kind: msg.kind, a: msg.a.slice(), b: msg.b.slice() });
}

// ---- Puts into blocks the daemon lent (reserve.ts) -------------------------------------------------

/** Daemon-mode puts that went into a lent block, for tests and diagnostics. */
let lentPuts = 0;
/** Daemons whose blocks this thread cannot write (no permission): it stops asking them. */
const noLending = new Set<string>();
/** The open connectors of this thread per daemon (server id): the last one to close gives the grants back. */
const daemonUsers = new Map<string, Set<object>>();

/**
 * Tells the daemon its blocks `grants` will not be written. Best effort: when the message cannot go, the
 * grants are remembered as abandoned, and a later REVOKE of one is answered.
 */
function giveBack(ep: Endpoint, server: string, grants: readonly Grant[]): Promise<void> {
  if (grants.length === 0) return Promise.resolve();
  const msg = encodePull(PullKind.RETURN, 0, jsonBytes({ server, rids: grants.map((g) => g.rid) }), new Uint8Array(0));
  return ep.amSend(AM_RESERVE, msg, new Uint8Array(0), { timeoutMs: DEFAULT_TIMEOUT_MS }).catch(() => abandonGrants(grants));
}

/** The `reserve` field of a push or commit: blocks of this class still to ask for, and who asks; none when enough are held or asked for. */
function reserveAsk(me: ProcessIdentity, server: string, capacity: number): { reserve?: Record<string, unknown> } {
  const count = grantsToAsk(server, capacity);
  if (count === 0) return {};
  return { reserve: { capacity, count, hostId: me.hostId, pid: me.pid, startTime: me.startTime.toString() } };
}

/** A GRANT: kept when it names a block this thread can write (same host) for a daemon in use, else given back at once. */
function onGrant(a: Uint8Array, b: Uint8Array, ep: Endpoint): void {
  const g = parseJson(a) as { server?: unknown; rid?: unknown; capacity?: unknown } | null;
  if (typeof g?.server !== 'string' || typeof g.rid !== 'string') return;
  const server = g.server;
  const rid = g.rid;
  let template: RemoteObjectInfo | undefined;
  try {
    template = decodeRemoteObject(b, 'a lent block');
  } catch {
    template = undefined;
  }
  const me = processIdentityOf(ucx());
  const capacity = g.capacity;
  const usable =
    template?.shm !== undefined && me !== null && template.shm.hostId === me.hostId && template.server === server &&
    typeof capacity === 'number' && reservationCapacity(capacity) === capacity && template.length === capacity;
  // Also given back: a grant that arrives when no open connector of this thread uses that daemon (the
  // last one closed while the grant was on its way).
  if (!usable || template?.shm === undefined || (daemonUsers.get(server)?.size ?? 0) === 0) {
    const back = encodePull(PullKind.RETURN, 0, jsonBytes({ server, rids: [rid] }), new Uint8Array(0));
    ep.amSend(AM_RESERVE, back, new Uint8Array(0), { timeoutMs: DEFAULT_TIMEOUT_MS }).catch(() => {});
    return;
  }
  addGrant({ rid, server, capacity: capacity as number, template, target: template.shm });
}

/** A REVOKE of a block left unused: given back if still held (a block already written was committed). */
function onRevoke(a: Uint8Array, ep: Endpoint): void {
  const r = parseJson(a) as { server?: unknown; rid?: unknown } | null;
  if (typeof r?.server !== 'string' || typeof r.rid !== 'string') return;
  if (dropGrant(r.server, r.rid) || takeAbandoned(r.rid)) {
    const back = encodePull(PullKind.RETURN, 0, jsonBytes({ server: r.server, rids: [r.rid] }), new Uint8Array(0));
    ep.amSend(AM_RESERVE, back, new Uint8Array(0), { timeoutMs: DEFAULT_TIMEOUT_MS }).catch(() => {});
  }
}

// ---- Gets by fetch: the owner sends the block (tcp alone) ----------------------------------------------

/**
 * PROXYSTORE_UCX_GET=rma makes gets (get and getSync) over tcp alone read by RMA get (which UCX emulates
 * there with messages the owner answers piece by piece) instead of asking the owner to send the block (a
 * fetch): for comparing the two. Read when a connector is built.
 */
export const ENV_GET = 'PROXYSTORE_UCX_GET';

interface PendingFetch {
  resolve(reply: FetchAnswer): void;
}

/** A fetch's answer: its kind and JSON, and the block the object landed in (or why it could not land). */
interface FetchAnswer {
  kind: PullKind;
  a: Uint8Array;
  region: MemoryRegion | undefined;
  dropped?: AmDropReason | undefined;
}

const pendingFetches = new Map<number, PendingFetch>();
let fetchHandlerSet = false;
/** Fetches this thread asked for (ucxStats().fetches). */
let fetchesSent = 0;

/** FETCH_REPLY: the block (a pooled region of private memory, now the value's) or an error, by sequence. */
function onFetchReply(header: ArrayBuffer, _data: ArrayBuffer, info: { region?: MemoryRegion; dropped?: AmDropReason }): void {
  const msg = decodePull(header);
  const pending = msg === null ? undefined : pendingFetches.get(msg.seq);
  if (msg === null || pending === undefined || (msg.kind !== PullKind.OK && msg.kind !== PullKind.ERROR)) {
    // Garbage, or the answer to a get that ended (timed out, aborted) already.
    if (info.region !== undefined) releaseRegion(info.region);
    return;
  }
  pendingFetches.delete(msg.seq);
  pending.resolve({ kind: msg.kind, a: msg.a.slice(), region: info.region, dropped: info.dropped });
}

/** Sets this thread's FETCH_REPLY slot once: answers land in private pooled blocks (they become values). */
function setFetchHandler(native: NativeAddon): void {
  if (fetchHandlerSet) return;
  native.setAmHandler(AM_FETCH_REPLY, onFetchReply, { receive: 'pool', shared: false });
  fetchHandlerSet = true;
}

/** A FETCH_REQUEST header: the server, the object, and the block's address and length from the descriptor
 * (the owner answers only for the very block the key describes). */
function fetchRequest(k: UcxKey, d: RemoteObjectInfo, seq: number): Uint8Array {
  const ask = { server: k.server, id: k.id, address: d.remoteAddress.toString(), length: d.length };
  return encodePull(PullKind.FETCH, seq, jsonBytes(ask), new Uint8Array(0));
}

/** Id naming this thread's staged blocks in pull requests (a descriptor needs a server). */
const STAGING_ID = `producer-${newId()}`;

interface DaemonInfo {
  id: string;
  workerAddress: Uint8Array;
}

export class UcxConnector implements Connector<UcxKey> {
  static readonly kind = 'ucx';
  readonly kind = UcxConnector.kind;
  readonly mode: UcxMode;
  /** The errorMode in effect (the option, or what UCX_TLS implies). */
  readonly errorMode: ErrorMode;
  /** The errorMode of the endpoint a daemon-mode put pushes over: 'none' where UCX_TLS is tcp only
   * (UCX 1.13 gives a tcp endpoint with peer-failure handling no zero-copy rendezvous), else errorMode
   * (and errorMode with PROXYSTORE_UCX_PUT=pull, where the daemon reads from the producer instead). */
  readonly pushErrorMode: ErrorMode;
  readonly timeoutMs: number;
  /** Whether gets from owners on this host copy from their blocks directly (the option, its default from
   * UCX_TLS, and PROXYSTORE_UCX_SAME_HOST=0). */
  readonly sameHost: boolean;
  readonly #options: UcxConnectorOptions;
  readonly #token: string | undefined;
  readonly #owned = new Map<string, UcxKey>();
  readonly #clients = new Map<string, ControlClient>();
  #local: { server: Promise<UcxServer>; detach: () => Promise<void> } | null = null;
  #daemon: Promise<DaemonInfo> | null = null;
  readonly #pull: boolean;
  readonly #fetch: boolean;
  /** Whether daemon-mode puts use blocks a same-host daemon lends (reserve.ts). */
  readonly #lending: boolean;
  #closed = false;

  constructor(options: UcxConnectorOptions = {}) {
    this.#options = checkOptions(options);
    this.mode = this.#options.mode ?? 'local';
    this.errorMode = this.#options.errorMode ?? defaultErrorMode();
    this.#pull = process.env[ENV_PUT] === 'pull';
    this.#fetch = fetchGets(this.errorMode) && process.env[ENV_GET] !== 'rma';
    this.pushErrorMode = this.#pull ? this.errorMode : pushErrorMode(this.errorMode);
    this.timeoutMs = this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.sameHost = !sameHostDisabledByEnv() && (this.#options.sameHost ?? defaultSameHost());
    this.#lending = this.mode === 'daemon' && this.sameHost && !this.#pull && process.env[ENV_RESERVE] !== '0';
    this.#token = readToken(this.#options);
    retainPeers();
  }

  /**
   * Builds a connector from `config().options` in the process that revives a reference. Env
   * PROXYSTORE_UCX_DAEMON replaces a daemon-mode connector's daemon (this node's daemon), and
   * PROXYSTORE_UCX_TOKEN the token.
   */
  static fromConfig(options: { [k: string]: JsonValue }): UcxConnector {
    const out = { ...options } as Record<string, unknown>;
    const env = process.env;
    if (out.mode === 'daemon' && env[ENV_DAEMON] !== undefined && env[ENV_DAEMON] !== '') out.daemon = env[ENV_DAEMON];
    if (env[ENV_TOKEN] !== undefined && env[ENV_TOKEN] !== '') {
      out.token = env[ENV_TOKEN];
      delete out.tokenFile;
    }
    return new UcxConnector(out as UcxConnectorOptions);
  }

  static async fromConfigAsync(options: { [k: string]: JsonValue }): Promise<UcxConnector> {
    return UcxConnector.fromConfig(options);
  }

  /** The local-mode server of this connector, once a put started it (else null). */
  async server(): Promise<UcxServer | null> {
    return this.#local === null ? null : this.#local.server;
  }

  #open(options?: IoOptions): void {
    if (this.#closed) throw new ClosedError(`UcxConnector (${this.mode})`);
    options?.signal?.throwIfAborted();
  }

  #check(key: unknown): UcxKey {
    assertKey(key, UcxConnector.kind);
    if (!SAFE_ID.test(key.id)) throw new InvalidKeyError(`UCX key id ${JSON.stringify(key.id)} is not letters, digits, '_' and '-'`);
    for (const field of ['server', 'control', 'descriptor'] as const) {
      const v = (key as Record<string, unknown>)[field];
      if (typeof v !== 'string' || v === '') throw new InvalidKeyError(`A UCX key needs a non-empty string '${field}'`);
    }
    return key as UcxKey;
  }

  #descriptor(key: UcxKey): RemoteObjectInfo {
    const d = descriptorOfKey(key);
    if (d.memoryType !== 'host') {
      throw new UcxError(
        UcxErrorCode.MEMORY_TYPE_UNSUPPORTED,
        `UCX key ${key.id} names ${d.memoryType} memory; this build moves host memory only`,
      );
    }
    return d;
  }

  #client(address: string): ControlClient {
    let client = this.#clients.get(address);
    if (client !== undefined) return client;
    if (!ADDRESS.test(address)) throw new UcxError(UcxErrorCode.BAD_KEY, `control address '${address}' is not host:port`);
    client = new ControlClient(address, {
      ...(this.#token === undefined ? {} : { token: this.#token }),
      timeoutMs: this.timeoutMs,
    });
    this.#clients.set(address, client);
    if (this.#clients.size > MAX_CLIENTS) {
      const [oldest, c] = this.#clients.entries().next().value as [string, ControlClient];
      this.#clients.delete(oldest);
      c.close();
    }
    return client;
  }

  // ---- put ----------------------------------------------------------------------------------------

  #localServer(): Promise<UcxServer> {
    this.#local ??= attachServer({
      host: this.#options.host ?? '127.0.0.1',
      port: this.#options.port ?? 0,
      token: this.#token,
      errorMode: this.errorMode,
      timeoutMs: this.timeoutMs,
    });
    return this.#local.server;
  }

  async put(frames: Frames, options?: IoOptions): Promise<UcxKey> {
    this.#open(options);
    assertFrames(frames);
    const key = this.mode === 'daemon' ? await this.#putDaemon(frames, options) : await this.#putLocal(frames, options);
    this.#owned.set(key.id, key);
    return key;
  }

  async #putLocal(frames: Frames, options?: IoOptions): Promise<UcxKey> {
    let server: UcxServer;
    try {
      server = await abortable(this.#localServer(), options?.signal);
    } catch (err) {
      if (options?.signal?.aborted) throw err;
      this.#local = null;
      throw err instanceof UcxError ? err : toUcxError('starting the local UCX server', err);
    }
    this.#open(options);
    return server.put(frames);
  }

  #daemonInfo(options?: IoOptions): Promise<DaemonInfo> {
    const address = this.#options.daemon as string;
    this.#daemon ??= this.#client(address)
      .identity(options?.signal === undefined ? {} : { signal: options.signal })
      .then(
        (identity) => {
          if (identity.workerAddress === undefined || identity.workerAddress.byteLength === 0) {
            throw new UcxError(UcxErrorCode.DAEMON, `${address} is a control plane without UCX (not a proxystore-ucx-daemon)`);
          }
          const users = daemonUsers.get(identity.id) ?? new Set<object>();
          users.add(this);
          daemonUsers.set(identity.id, users);
          return { id: identity.id, workerAddress: identity.workerAddress };
        },
        (err: unknown) => {
          if (options?.signal?.aborted) throw err;
          const code = (err as { code?: string }).code;
          if (code === ControlErrorCode.UNAVAILABLE || code === ControlErrorCode.TIMEOUT) {
            throw new UcxError(
              UcxErrorCode.UNREACHABLE,
              `the UCX daemon at ${address} is not reachable (is proxystore-ucx-daemon running there?): ${(err as Error).message}`,
              { cause: err },
            );
          }
          throw new UcxError(UcxErrorCode.DAEMON, `the UCX daemon at ${address} refused: ${(err as Error).message}`, {
            cause: err,
            ...(typeof code === 'string' ? { reason: code } : {}),
          });
        },
      );
    const info = this.#daemon;
    // A failure is not cached: the daemon may come up later.
    info.catch(() => {
      if (this.#daemon === info) this.#daemon = null;
    });
    return info;
  }

  /**
   * A daemon-mode put: one active message to the daemon whose data lands (rendezvous for large objects)
   * in a block of the daemon's pool that the daemon keeps. An object with one large frame sends that
   * frame from where it lies, the other frames inline in the header (frameInPlace); any other object is
   * first copied once into a pooled block in its layout, which is sent whole. The daemon answers with its
   * descriptor or a typed error. With PROXYSTORE_UCX_PUT=pull the message carries a staged block's
   * descriptor instead and the daemon reads the block by RMA get.
   */
  async #putDaemon(frames: Frames, options?: IoOptions): Promise<UcxKey> {
    const daemon = await this.#daemonInfo(options);
    try {
      return await this.#putDaemonTo(daemon, frames, options);
    } catch (err) {
      // The daemon this connector knew is gone (a restart): one more try with the one at its address now.
      const now = await this.#restartedDaemon(daemon, err, options);
      if (now === undefined) throw err;
      return this.#putDaemonTo(now, frames, options);
    }
  }

  /**
   * After a put to `daemon` failed because the daemon is gone, unreachable over UCX or silent: the
   * daemon now answering at the connector's address, when it is another one (the old one restarted, with
   * a new worker address). Only then is the put tried again: the old daemon, and anything it might have
   * kept of the put, is gone. Undefined otherwise: the failure stands (a daemon that is merely slow may
   * still keep a put that timed out).
   */
  async #restartedDaemon(daemon: DaemonInfo, err: unknown, options?: IoOptions): Promise<DaemonInfo | undefined> {
    const code = (err as { code?: unknown }).code;
    if (code !== UcxErrorCode.PEER_GONE && code !== UcxErrorCode.UNREACHABLE && code !== UcxErrorCode.TIMEOUT) return undefined;
    if (options?.signal?.aborted) return undefined;
    if (this.#daemon !== null) {
      // Still the cached answer of before: ask the control plane again.
      const cached = await this.#daemon.catch(() => undefined);
      if (cached?.id === daemon.id) this.#daemon = null;
    }
    try {
      const now = await this.#daemonInfo(options);
      return now.id !== daemon.id ? now : undefined;
    } catch {
      return undefined;
    }
  }

  async #putDaemonTo(daemon: DaemonInfo, frames: Frames, options?: IoOptions): Promise<UcxKey> {
    this.#open(options);
    // A daemon in this very thread (tests, benchmarks) stores without a round trip.
    const inThread = localServer(daemon.id);
    if (inThread !== undefined) return inThread.put(frames);

    const native = ucx();
    const layout = layoutOf(frames.map((f) => f.byteLength));
    const me = this.#lending && !noLending.has(daemon.id) ? processIdentityOf(native) : null;
    const capacity = me === null ? 0 : reservationCapacity(layout.length);
    if (capacity > 0) {
      const key = await this.#putLent(native, daemon, layout, frames, capacity, options);
      if (key !== undefined) return key;
    }
    // Blocks of this size class for the next puts, lent after the answer.
    const reserve = me === null || capacity === 0 ? {} : reserveAsk(me, daemon.id, capacity);
    const id = newId();
    const nonce = newNonce();
    // One frame that is nearly the whole object goes as it lies (no copy); otherwise one copy of the frames
    // into a registered block, sent whole.
    const inPlace = this.#pull ? -1 : frameInPlace(frames);
    let region: MemoryRegion | undefined;
    let block: Uint8Array | undefined;
    if (inPlace < 0) {
      // Only sent (or, with the pull, read by the daemon over UCX): never mapped by a same-host reader.
      region = acquireRegion(native, layout.length, `put of ${id}`, this.#pull ? undefined : PRIVATE);
      block = regionBytes(region);
      writeObject(block, layout, frames, nonce);
    }
    const seq = nextSeq++;
    const what = `put of ${id} to the UCX daemon at ${this.#options.daemon}`;
    const auth = this.#token === undefined ? {} : { token: this.#token };
    let timer: NodeJS.Timeout | undefined;
    let peer: Peer | undefined;
    let stopWatching: (() => void) | undefined;
    const watch = this.#watchDaemon(daemon, what);
    try {
      if (!replyHandlerSet) {
        native.setAmHandler(AM_PULL_REPLY, onPullReply);
        replyHandlerSet = true;
      }
      let failReply: (err: unknown) => void = () => {};
      const reply = new Promise<{ kind: PullKind; a: Uint8Array; b: Uint8Array }>((resolve, reject) => {
        pendingPulls.set(seq, { resolve });
        failReply = reject;
        timer = setTimeout(() => {
          pendingPulls.delete(seq);
          reject(new UcxError(UcxErrorCode.TIMEOUT, `${what}: no answer within ${this.timeoutMs} ms`));
        }, this.timeoutMs);
      });
      reply.catch(() => {});
      // In flight until the answer comes: the endpoint to the daemon must not be closed as idle while
      // the daemon receives (a large object on a busy node takes longer than the idle limit). Puts go over
      // an endpoint of pushErrorMode (errorMode for a pull: the daemon reads from us over one of its own
      // errorMode, which UCX pairs with our first endpoint to it, and the two modes must agree).
      peer = peerFor(`daemon ${this.#options.daemon}`, daemon.workerAddress, this.pushErrorMode);
      peer.begin();
      // A daemon that dies after taking the bytes never answers: its endpoint's failure ends the wait.
      stopWatching = peer.onFailure((err) => {
        this.#daemon = null;  // a restarted daemon has a new worker address
        failReply(toUcxError(`${what}: the connection to the daemon failed`, err));
      });
      // A push ends with the daemon's acknowledgement; a daemon that died never gives it (over shared
      // memory UCX does not notice): its control plane's silence ends the wait instead.
      const guarded = <T>(step: Promise<T>): Promise<T> => Promise.race([step, watch.gone]);
      try {
        const ep = await guarded(peer.endpoint(this.timeoutMs)).catch((err: unknown) => {
          throw toUcxError(`${what}: connecting`, err);
        });
        if (this.#pull && region !== undefined) {
          const staged: RemoteObjectInfo = {
            id,
            server: STAGING_ID,
            control: this.#options.daemon as string,
            workerAddress: new Uint8Array(native.workerAddress()),
            remoteAddress: region.address,
            rkey: new Uint8Array(region.packRkey()),
            length: layout.length,
            frameLengths: layout.frameLengths.slice(),
            memoryType: 'host',
            nonce,
          };
          const request = encodePull(PullKind.REQUEST, seq, jsonBytes({ server: daemon.id, ...auth }), encodeRemoteObject(staged));
          await guarded(ep.amSend(AM_PULL_REQUEST, request, new Uint8Array(0), { timeoutMs: this.timeoutMs }));
        } else if (region !== undefined) {
          const request = encodePull(
            PullKind.PUSH,
            seq,
            jsonBytes({ server: daemon.id, ...auth, id, frames: layout.frameLengths, ...reserve }),
            nonce,
          );
          // Completes when the daemon has the bytes (a rendezvous send ends with the receiver's ack).
          await guarded(ep.amSend(AM_PUSH_REQUEST, withPlacement(layout.length, 0, request), region, { timeoutMs: this.timeoutMs }));
        } else {
          // The large frame straight from the caller's memory to its offset in the daemon's block; the
          // others (the serialization header, small buffers) inline after the nonce.
          const inline = new Uint8Array(NONCE_SIZE + layout.payload - (frames[inPlace] as Uint8Array).byteLength);
          inline.set(nonce, 0);
          let at = NONCE_SIZE;
          for (const [i, f] of frames.entries()) {
            if (i === inPlace) continue;
            inline.set(f, at);
            at += f.byteLength;
          }
          const request = encodePull(
            PullKind.PUSH,
            seq,
            jsonBytes({ server: daemon.id, ...auth, id, frames: layout.frameLengths, inPlace, ...reserve }),
            inline,
          );
          const header = withPlacement(layout.length, layout.offsets[inPlace] as number, request);
          await guarded(ep.amSend(AM_PUSH_REQUEST, header, frames[inPlace] as Uint8Array, { timeoutMs: this.timeoutMs }));
        }
      } catch (err) {
        peer.failed(err);
        // A daemon that restarted has a new worker address: ask again next time. Blocks it lent are gone.
        this.#daemon = null;
        abandonGrants(takeAllGrants(daemon.id));
        throw toUcxError(what, err);
      }
      const answer = await abortable(guarded(reply), options?.signal);
      if (answer.kind === PullKind.ERROR) {
        const e = parseJson(answer.a) as { code?: unknown; message?: unknown } | null;
        const code = typeof e?.code === 'string' ? e.code : 'UCX_ERROR';
        const message = typeof e?.message === 'string' ? e.message : 'no reason given';
        throw new UcxError(UcxErrorCode.DAEMON, `${what}: the daemon refused (${code}): ${message}`, { reason: code });
      }
      const d = decodeRemoteObject(answer.b, `the daemon's reply to ${what}`);
      if (d.id !== id) throw new UcxError(UcxErrorCode.DAEMON, `${what}: the daemon answered for another object (${d.id})`);
      return keyOf(d, answer.b);
    } catch (err) {
      pendingPulls.delete(seq);
      throw err;
    } finally {
      clearTimeout(timer);
      watch.stop();
      stopWatching?.();
      peer?.end();
      // The daemon has its copy (or gave up). Pull: a late read of this block now sees it released.
      // Push: a send that timed out but still runs inside UCX delivers a block the daemon refuses.
      if (region !== undefined && block !== undefined) {
        clearNonce(block, layout);
        releaseRegion(region);
      }
    }
  }

  /**
   * Watches `daemon` while a push to it runs: from WATCH_MS on, its control plane is asked every WATCH_MS
   * who answers there. `gone` rejects with UCX_PEER_GONE when another daemon answers (a restart) or when
   * nothing does WATCH_MISSES times in a row; a slow answer is no verdict (the put's own timeoutMs bounds
   * it). `stop` ends the watch, which never keeps the process alive.
   */
  #watchDaemon(daemon: DaemonInfo, what: string): { gone: Promise<never>; stop: () => void } {
    const address = this.#options.daemon as string;
    let fail: (err: UcxError) => void = () => {};
    const gone = new Promise<never>((_resolve, reject) => {
      fail = reject;
    });
    gone.catch(() => {});
    let stopped = false;
    let misses = 0;
    let timer: NodeJS.Timeout | undefined;
    const next = (): void => {
      if (stopped) return;
      timer = setTimeout(check, WATCH_MS);
      timer.unref();
    };
    const check = (): void => {
      this.#client(address)
        .identity({ timeoutMs: WATCH_MS })
        .then(
          (info) => {
            misses = 0;
            if (info.id !== daemon.id) {
              fail(new UcxError(UcxErrorCode.PEER_GONE, `${what}: the daemon is gone (another one, ${info.id}, answers at ${address})`));
            }
          },
          (err: unknown) => {
            if ((err as { code?: unknown }).code !== ControlErrorCode.UNAVAILABLE) return;
            if (++misses >= WATCH_MISSES) {
              fail(new UcxError(UcxErrorCode.PEER_GONE, `${what}: the daemon is gone (its control plane at ${address} does not answer)`, { cause: err }));
            }
          },
        )
        .finally(next);
    };
    next();
    return {
      gone,
      stop: () => {
        stopped = true;
        clearTimeout(timer);
      },
    };
  }

  /**
   * A put into a block the daemon lent this thread (reserve.ts): the object is written straight into the
   * daemon's memfd block (peerWrite, one copy), then a one-way COMMIT goes to the daemon; the key comes
   * from the grant, so nothing waits for the daemon. Undefined when no grant of the size class is held, or
   * the block cannot be written from here (then the grants go back and the put pushes instead).
   */
  async #putLent(
    native: NativeAddon,
    daemon: DaemonInfo,
    layout: Layout,
    frames: Frames,
    capacity: number,
    options?: IoOptions,
  ): Promise<UcxKey | undefined> {
    const what = `put to the UCX daemon at ${this.#options.daemon}`;
    const peer = peerFor(`daemon ${this.#options.daemon}`, daemon.workerAddress, this.pushErrorMode);
    peer.begin();
    try {
      const ep = await peer.endpoint(this.timeoutMs).catch((err: unknown) => {
        throw toUcxError(`${what}: connecting`, err);
      });
      this.#open(options);
      // Nothing awaits from taking the grant to sending the commit: a REVOKE cannot give back a block that
      // is being written.
      const grant = takeGrant(daemon.id, capacity);
      if (grant === undefined) return undefined;
      const nonce = newNonce();
      try {
        native.peerWrite(grant.target, objectPieces(layout, frames, nonce));
      } catch (err) {
        if ((err as { code?: unknown }).code === UcxErrorCode.PEER_GONE) {
          // The daemon's process is gone, its blocks with it: nothing to give back, and a push to its
          // worker address would wait for an answer until timeoutMs (over shared memory nothing tells
          // UCX the peer died). The caller asks the control plane whether another daemon took its place.
          abandonGrants([grant, ...takeAllGrants(daemon.id)]);
          this.#daemon = null;
          peer.failed(err);
          throw toUcxError(`${what}: writing a block the daemon lent`, err);
        }
        // No permission to write the daemon's blocks: stop asking it, give its grants back, and push.
        if ((err as { code?: unknown }).code === UcxErrorCode.UNREACHABLE) noLending.add(daemon.id);
        void giveBack(ep, daemon.id, [grant, ...takeAllGrants(daemon.id)]);
        return undefined;
      }
      const me = processIdentityOf(native);
      const reserve = me === null ? {} : reserveAsk(me, daemon.id, capacity);
      const commit = encodePull(PullKind.COMMIT, 0, jsonBytes({ server: daemon.id, rid: grant.rid, frames: layout.frameLengths, ...reserve }), nonce);
      try {
        await ep.amSend(AM_RESERVE, commit, new Uint8Array(0), { timeoutMs: this.timeoutMs });
      } catch (err) {
        peer.failed(err);
        this.#daemon = null;
        abandonGrants(takeAllGrants(daemon.id));
        throw toUcxError(`${what}: sending the commit`, err);
      }
      lentPuts++;
      return keyOf({ ...grant.template, length: layout.length, frameLengths: [...layout.frameLengths], nonce });
    } finally {
      peer.end();
    }
  }

  /** Every put at once; all or nothing: on a failure the ones that succeeded are evicted. */
  async putBatch(items: readonly Frames[], options?: IoOptions): Promise<UcxKey[]> {
    this.#open(options);
    items.forEach((frames) => assertFrames(frames));
    const results = await Promise.allSettled(items.map((frames) => this.put(frames, options)));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed === undefined) return results.map((r) => (r as PromiseFulfilledResult<UcxKey>).value);
    await Promise.allSettled(results.map((r) => (r.status === 'fulfilled' ? this.evict(r.value) : Promise.resolve())));
    throw (failed as PromiseRejectedResult).reason;
  }

  // ---- get ----------------------------------------------------------------------------------------

  /**
   * The frames, as views over one pooled registered block that the RMA get filled (no copy after the
   * wire): the block returns to the pool when the frames are garbage-collected. Null when the object is
   * gone (evicted, or its block reused).
   */
  async get(key: UcxKey, options?: IoOptions): Promise<Uint8Array[] | null> {
    this.#open(options);
    const k = this.#check(key);
    const d = this.#descriptor(k);
    const local = localServer(k.server);
    if (local !== undefined) return local.read(k.id, d.nonce, d.frameLengths);
    const native = ucx();
    const what = `get of ${k.id} from UCX server ${k.server} (${k.control})`;
    if (this.#fetch && !(this.sameHost && sameHostSource(native, d) !== undefined)) return this.#fetchGet(native, k, d, what, options);
    const region = acquireRegion(native, d.length, what, PRIVATE);
    if (this.#readSameHost(native, d, region, what)) {
      // The copy never waited: yield one loop turn, as any I/O would, so timers and I/O run between such
      // gets and the finalizers of values collected meanwhile give their blocks back (Node runs them
      // between turns; a loop of gets that never yields would map a fresh block every time).
      await new Promise<void>((resolve) => setImmediate(resolve));
      return this.#received(region, d);
    }
    const peer = peerFor(`UCX server ${k.server}`, d.workerAddress, this.errorMode);
    try {
      await abortable(
        withPeer(peer, what, this.timeoutMs, d.rkey, (ep, rkey) =>
          ep.get(region, 0, d.length, d.remoteAddress, rkey, { timeoutMs: this.timeoutMs }),
        ),
        options?.signal,
      );
    } catch (err) {
      releaseRegion(region);
      throw err;
    }
    return this.#received(region, d);
  }

  /**
   * A get by fetch (tcp alone): asks the owner for the block, which it sends as one rendezvous message
   * (a put_zcopy over tcp) straight into a private block of this thread's pool; that block becomes the
   * value, as an RMA get's would. The owner's death fails it as UCX_PEER_GONE (its endpoint's failure),
   * an object it no longer holds gives null.
   */
  async #fetchGet(native: NativeAddon, k: UcxKey, d: RemoteObjectInfo, what: string, options?: IoOptions): Promise<Uint8Array[] | null> {
    setFetchHandler(native);
    const seq = nextSeq++;
    const peer = peerFor(`UCX server ${k.server}`, d.workerAddress, this.errorMode);
    let timer: NodeJS.Timeout | undefined;
    let stopWatching: (() => void) | undefined;
    let failReply: (err: unknown) => void = () => {};
    const reply = new Promise<FetchAnswer>((resolve, reject) => {
      pendingFetches.set(seq, { resolve });
      failReply = reject;
      timer = setTimeout(() => reject(new UcxError(UcxErrorCode.TIMEOUT, `${what}: no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    reply.catch(() => {});
    peer.begin();
    try {
      stopWatching = peer.onFailure((err) => failReply(toUcxError(`${what}: the connection to the owner failed`, err)));
      try {
        const ep = await peer.endpoint(this.timeoutMs);
        await ep.amSend(AM_FETCH_REQUEST, fetchRequest(k, d, seq), new Uint8Array(0), { timeoutMs: this.timeoutMs });
        fetchesSent++;
      } catch (err) {
        peer.failed(err);
        throw toUcxError(what, err);
      }
      let answer: FetchAnswer;
      try {
        answer = await abortable(reply, options?.signal);
      } catch (err) {
        peer.failed(err);
        throw err;
      }
      return this.#fetched(answer, d, what);
    } finally {
      clearTimeout(timer);
      stopWatching?.();
      pendingFetches.delete(seq);
      peer.end();
    }
  }

  /** `#fetchGet` without yielding (getSync): the answer is awaited by blocking progress in the addon. */
  #fetchGetSync(native: NativeAddon, k: UcxKey, d: RemoteObjectInfo, what: string): Uint8Array[] | null {
    setFetchHandler(native);
    const seq = nextSeq++;
    const peer = peerFor(`UCX server ${k.server}`, d.workerAddress, this.errorMode);
    peer.begin();
    try {
      let ep: Endpoint;
      try {
        ep = peer.endpointSync(this.timeoutMs);
      } catch (err) {
        throw toUcxError(`${what}: connecting`, err);
      }
      // Progressed by the wait below; a failure shows there as the endpoint's.
      ep.amSend(AM_FETCH_REQUEST, fetchRequest(k, d, seq), new Uint8Array(0), { timeoutMs: this.timeoutMs }).catch(() => {});
      fetchesSent++;
      const { header, info } = ep.waitAmSync(AM_FETCH_REPLY, BigInt(seq), { timeoutMs: this.timeoutMs });
      const msg = decodePull(header);
      if (msg === null || (msg.kind !== PullKind.OK && msg.kind !== PullKind.ERROR)) {
        if (info.region !== undefined) releaseRegion(info.region);
        throw new UcxError(UcxErrorCode.ERROR, `${what}: the owner's answer is garbled`);
      }
      return this.#fetched({ kind: msg.kind, a: msg.a, region: info.region, dropped: info.dropped }, d, what);
    } catch (err) {
      peer.failed(err);
      throw toUcxError(what, err);
    } finally {
      peer.end();
    }
  }

  /** A fetch's answer as a get's result: the frames, null for an object not there, or a typed error. */
  #fetched({ kind, a, region, dropped }: FetchAnswer, d: RemoteObjectInfo, what: string): Uint8Array[] | null {
    if (kind === PullKind.ERROR) {
      if (region !== undefined) releaseRegion(region);
      const e = parseJson(a) as { code?: unknown; message?: unknown } | null;
      if (e?.code === FETCH_NOT_FOUND) return null;
      throw new UcxError(UcxErrorCode.ERROR, `${what}: the owner refused (${String(e?.code)}): ${String(e?.message)}`);
    }
    if (region === undefined) {
      // An object of 0 bytes cannot be (every block has its header): the addon could not take the block.
      const why = dropped === 'receive-failed' ? 'receiving it failed' : dropped === 'malformed' ? 'it was malformed' : 'it found no memory here';
      throw new UcxError(UcxErrorCode.ERROR, `${what}: the owner's block was dropped: ${why} (stats().amDropped)`);
    }
    if (region.byteLength !== d.length) {
      releaseRegion(region);
      return null; // not the block the key describes: the object was replaced
    }
    return this.#received(region, d);
  }

  /**
   * A same-host read of the whole block into `region` (synchronous: a memcpy from the owner's mapped
   * memfd). False when there is no same-host path (disabled, another host, no shm fields, or an owner
   * whose blocks this process may not open: UCX_UNREACHABLE, remembered, read over UCX from then on).
   * UCX_PEER_GONE and UCX_BAD_KEY are thrown (the region released): no silent fallback, no partial value.
   */
  #readSameHost(native: NativeAddon, d: RemoteObjectInfo, region: MemoryRegion, what: string): boolean {
    if (!this.sameHost) return false;
    const src: SameHostSource | undefined = sameHostSource(native, d);
    if (src === undefined) return false;
    try {
      native.peerRead(src, region, 0, d.length);
      return true;
    } catch (err) {
      if ((err as { code?: unknown } | null)?.code === UcxErrorCode.UNREACHABLE) {
        markUnreachable(src);
        return false;
      }
      releaseRegion(region);
      throw toUcxError(`${what} (same-host read of process ${src.pid})`, err);
    }
  }

  /** The frames of a block a get filled, or null (and the block released) when it no longer holds the object. */
  #received(region: MemoryRegion, d: RemoteObjectInfo): Uint8Array[] | null {
    const block = regionBytes(region);
    const layout = layoutOf(d.frameLengths);
    if (!checkObject(block, layout, d.nonce)) {
      releaseRegion(region);
      return null;
    }
    return frameViews(block, layout);
  }

  /**
   * `get` without yielding: the addon posts the RMA get and progresses this thread's worker until it
   * completes, fails or times out. What a proxy's just-in-time resolution uses.
   */
  getSync(key: UcxKey): Uint8Array[] | null {
    this.#open();
    const k = this.#check(key);
    const d = this.#descriptor(k);
    const local = localServer(k.server);
    if (local !== undefined) return local.read(k.id, d.nonce, d.frameLengths);
    const native = ucx();
    const what = `get of ${k.id} from UCX server ${k.server} (${k.control})`;
    if (this.#fetch && !(this.sameHost && sameHostSource(native, d) !== undefined)) return this.#fetchGetSync(native, k, d, what);
    const region = acquireRegion(native, d.length, what, PRIVATE);
    if (this.#readSameHost(native, d, region, what)) return this.#received(region, d);
    const peer = peerFor(`UCX server ${k.server}`, d.workerAddress, this.errorMode);
    try {
      withPeerSync(peer, what, this.timeoutMs, d.rkey, (ep, rkey) =>
        ep.getSync(region, 0, d.length, d.remoteAddress, rkey, { timeoutMs: this.timeoutMs }),
      );
    } catch (err) {
      releaseRegion(region);
      throw err;
    }
    return this.#received(region, d);
  }

  /** A key this thread serves, answered from its server (a copy); undefined for any other key. */
  getLocal(key: UcxKey): Uint8Array[] | null | undefined {
    this.#open();
    const k = this.#check(key);
    const local = localServer(k.server);
    if (local === undefined) return undefined;
    const d = this.#descriptor(k);
    return local.read(k.id, d.nonce, d.frameLengths);
  }

  async getBatch(keys: readonly UcxKey[], options?: IoOptions): Promise<(Uint8Array[] | null)[]> {
    this.#open(options);
    const checked = keys.map((k) => this.#check(k));
    return Promise.all(checked.map((k) => this.get(k, options)));
  }

  // ---- exists / evict -----------------------------------------------------------------------------

  async exists(key: UcxKey, options?: IoOptions): Promise<boolean> {
    this.#open(options);
    const k = this.#check(key);
    const local = localServer(k.server);
    if (local !== undefined) {
      const d = this.#descriptor(k);
      return local.read(k.id, d.nonce, d.frameLengths) !== null;
    }
    return this.#client(k.control).exists(
      { id: k.id, owner: k.server },
      options?.signal === undefined ? {} : { signal: options.signal },
    );
  }

  async evict(key: UcxKey, options?: IoOptions): Promise<void> {
    this.#open(options);
    const k = this.#check(key);
    const local = localServer(k.server);
    if (local !== undefined) {
      local.evict(k.id);
    } else {
      await this.#client(k.control).evict(
        { id: k.id, owner: k.server },
        options?.signal === undefined ? {} : { signal: options.signal },
      );
    }
    this.#owned.delete(k.id);
  }

  config(): ConnectorConfig {
    const options: { [k: string]: JsonValue } = {};
    for (const k of OPTION_FIELDS) {
      const v = this.#options[k];
      if (v !== undefined) options[k] = v;
    }
    return { kind: UcxConnector.kind, package: '@proxystore/ucx', options };
  }

  /**
   * Closes the connector; `clear` first evicts every object it put and has not evicted. In local mode the
   * objects go with the process's server when the last connector using it closes.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    if (this.#closed) return;
    let failure: { reason: unknown } | undefined;
    if (options.clear === true) {
      try {
        await evictAll(this.#owned.values(), (k) => this.evict(k));
      } catch (reason) {
        failure = { reason };
      }
    }
    this.#closed = true;
    await this.#giveBackGrants();
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
    const local = this.#local;
    this.#local = null;
    await local?.detach();
    releasePeers();
    if (failure !== undefined) throw failure.reason;
  }

  /** The last open connector of this thread using a daemon gives its unused lent blocks back. */
  async #giveBackGrants(): Promise<void> {
    for (const [server, users] of daemonUsers) {
      if (!users.delete(this) || users.size > 0) continue;
      daemonUsers.delete(server);
      const grants = takeAllGrants(server);
      if (grants.length === 0) continue;
      const info = await this.#daemon?.catch(() => null);
      if (info === null || info === undefined || info.id !== server) {
        abandonGrants(grants);
        continue;
      }
      const peer = peerFor(`daemon ${this.#options.daemon}`, info.workerAddress, this.pushErrorMode);
      peer.begin();
      try {
        await giveBack(await peer.endpoint(this.timeoutMs), server, grants);
      } catch {
        // The daemon is gone or unreachable: it takes its blocks back when this process ends (or asks).
        abandonGrants(grants);
      } finally {
        peer.end();
      }
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * The addon's counters plus this thread's cached endpoints and rkeys, the gets it fetched (tcp alone), its
 * daemon puts into lent blocks and the lent blocks it holds, for tests and diagnostics.
 */
export function ucxStats(): ReturnType<NativeAddon['stats']> & { peers: number; rkeys: number; fetches: number; lentPuts: number; grantsHeld: number } {
  return { ...ucx().stats(), ...peerStats(), fetches: fetchesSent, lentPuts, grantsHeld: grantsHeld() };
}
