// A UcxServer holds objects in registered blocks of this thread's pool (one copy of the frames in) and
// lets consumers read them by one-sided RMA get: a consumer needs only the key. Beside the data it runs a
// gRPC control plane (ControlServer from @proxystore/control) for exists, evict, stat, identity and health,
// and for consumers without UCX a chunked put and get. A daemon-mode producer puts by active message: it
// pushes the object block as the message's data, which lands in a block of this server's pool and is
// kept as it is; or, the older way, it stages the block and the server pulls it by RMA (pull.ts).
//
// A local-mode UcxConnector runs one in the producer's own process; `proxystore-ucx-daemon` runs one as a
// node-local daemon.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { totalmem } from 'node:os';
import { assertFrames, newId, type Frames } from '@proxystore/core';
import {
  ControlError,
  ControlErrorCode,
  ControlServer,
  type CallContext,
  type ControlHandlers,
  type IdentityInfo,
  type ObjectRefMessage,
  type ObjectSource,
  type ServerTlsOptions,
} from '@proxystore/control';
import type { ObjectDescriptorInfo } from '@proxystore/serialize';
import { decodeRemoteObject, encodeRemoteObject, keyOf, type RemoteObjectInfo, type UcxKey } from './descriptor.js';
import { UcxError, UcxErrorCode, toUcxError } from './errors.js';
import {
  HEADER_SIZE,
  NONCE_SIZE,
  TRAILER_SIZE,
  checkObject,
  clearHeaderNonce,
  clearNonce,
  frameCopies,
  layoutOf,
  newNonce,
  writeNonce,
  writeObject,
  type Layout,
} from './layout.js';
import { defaultErrorMode, ucx } from './native-loader.js';
import type { AmDropReason, AmInfo, Endpoint, ErrorMode, MemoryRegion, NativeAddon } from './native.js';
import {
  AM_PULL_REPLY,
  AM_PULL_REQUEST,
  AM_PUSH_REQUEST,
  AM_FETCH_REPLY,
  AM_FETCH_REQUEST,
  AM_RESERVE,
  FETCH_NOT_FOUND,
  PullKind,
  decodePull,
  encodePull,
  jsonBytes,
  parseJson,
  splitPlacement,
} from './pull.js';
import { peerFor, releasePeers, retainPeers, withPeer } from './peers.js';
import { acquireRegion, regionBytes, releaseRegion } from './regions.js';
import { RESERVE_MAX_BLOCK, RESERVE_PER_CLASS, reservationCapacity } from './reserve.js';
import { processIdentityOf } from './samehost.js';

const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const DEFAULT_TIMEOUT_MS = 30_000;
/** Bytes per chunk of a gRPC get (the control plane's default). */
const GRPC_CHUNK = 1 << 20;

export interface UcxServerOptions {
  /** Interface of the control plane. Default 127.0.0.1. */
  host?: string;
  /** Port of the control plane. Default 0 (any free port). */
  port?: number;
  /** The control address clients should dial (host:port), when it differs from the bound one (0.0.0.0). */
  advertiseAddress?: string;
  /** Bearer tokens accepted on the control plane and in pull requests. None: no authentication (loopback). */
  tokens?: readonly string[];
  /** TLS of the control plane. */
  tls?: ServerTlsOptions;
  /** Largest object accepted (payload bytes). Default: no limit. */
  maxObjectSize?: number;
  /** Bytes of blocks held at once; a put beyond is refused with CONTROL_STORAGE_FULL. Default: no limit. */
  maxBytes?: number;
  /** Server id (default random); keys name it. */
  id?: string;
  name?: string;
  /** Error mode of the endpoints it opens to producers (pulls). Default from UCX_TLS. */
  errorMode?: ErrorMode;
  /** Limit of every UCX operation of a pull, in ms. Default 30000. */
  timeoutMs?: number;
  /**
   * A block lent to a same-host producer and left unused this long is asked back (REVOKE), in ms.
   * Default: env PROXYSTORE_UCX_LEND_IDLE_MS, else 10000.
   */
  lendIdleMs?: number;
}

/** The default of UcxServerOptions.lendIdleMs. */
export const ENV_LEND_IDLE = 'PROXYSTORE_UCX_LEND_IDLE_MS';

interface Stored {
  readonly id: string;
  readonly region: MemoryRegion;
  readonly block: Uint8Array;
  readonly layout: Layout;
  readonly nonce: Uint8Array;
  readonly key: UcxKey;
  /** Bytes of its block (a lent block may be larger than the object's layout). */
  readonly bytes: number;
  /** gRPC gets streaming it now; its block is released when the last ends. */
  pins: number;
  evicted: boolean;
}

/** A block lent to a same-host producer (reserve.ts), until its commit, its return or the producer's end. */
interface Reservation {
  readonly rid: string;
  /** The id of the object it will hold: pending at this server until then. */
  readonly id: string;
  readonly region: MemoryRegion;
  readonly capacity: number;
  /** `pid:startTime` of the producer. */
  readonly producer: string;
  readonly pid: number;
  readonly startTime: bigint;
  /** Where to send a REVOKE (the producer's worker, as its push or commit came from). */
  replyEp: Endpoint;
  /** When it was lent or last revoked. */
  since: number;
  /** Lookups of its id waiting for the commit. */
  readonly waiters: Array<() => void>;
}

/** What a producer asks to be lent, with a push or a commit. */
interface ReserveAsk {
  capacity: number;
  count: number;
  hostId: string;
  pid: number;
  startTime: bigint;
}

/** Bytes one producer may hold lent from one server, and every producer together (of maxBytes, at most). */
const RESERVE_PER_PRODUCER = 256 << 20;
const RESERVE_TOTAL = 1 << 30;
/** How often lent blocks are checked: producers gone take theirs back, blocks unused this long are revoked. */
const RESERVE_SWEEP_MS = 1_000;
const RESERVE_IDLE_MS = 10_000;

function lendIdleMsOf(option: number | undefined): number {
  const env = process.env[ENV_LEND_IDLE];
  const v = option ?? (env === undefined || env === '' ? RESERVE_IDLE_MS : Number(env));
  if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`UcxServer: lendIdleMs (or ${ENV_LEND_IDLE}) must be a positive integer of ms`);
  return v;
}

/** Lent blocks of servers that closed: never reused (their producers may still write them), kept until exit. */
const quarantined: MemoryRegion[] = [];

/** The start time of process `pid` (clock ticks since boot, as /proc/<pid>/stat has it), or null when there is none. */
function startTimeOf(pid: number): bigint | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return BigInt(fields[19] as string);
  } catch {
    return null;
  }
}

/** Servers of this thread, by id: a connector answers keys they serve without UCX. */
const servers = new Map<string, UcxServer>();

/** The server of this thread with this id, if any. */
export function localServer(id: string): UcxServer | undefined {
  return servers.get(id);
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export class UcxServer {
  readonly id: string;
  readonly name: string;
  readonly maxObjectSize: number;
  readonly maxBytes: number;
  readonly errorMode: ErrorMode;
  readonly timeoutMs: number;
  readonly lendIdleMs: number;
  /** This thread's UCX worker address (what consumers connect to). */
  readonly workerAddress: Uint8Array;
  readonly #native: NativeAddon;
  readonly #control: ControlServer;
  readonly #tokens: Buffer[] | null;
  readonly #objects = new Map<string, Stored>();
  readonly #startedMs = Date.now();
  #address = '';
  #bytesUsed = 0;
  /** Bytes promised to pulls in progress, and lent to producers. */
  #reserved = 0;
  #closed = false;
  /** Blocks lent to same-host producers, by reservation id and by the object id each will hold. */
  readonly #lent = new Map<string, Reservation>();
  readonly #pending = new Map<string, Reservation>();
  #lentBytes = 0;
  #sweep: NodeJS.Timeout | null = null;

  private constructor(options: UcxServerOptions, native: NativeAddon) {
    this.#native = native;
    this.id = options.id ?? newId();
    if (!SAFE_ID.test(this.id)) throw new TypeError(`UcxServer: id must be 1 to 128 letters, digits, '_' or '-'`);
    this.name = options.name ?? `ucx-${process.pid}`;
    this.maxObjectSize = options.maxObjectSize ?? Number.MAX_SAFE_INTEGER;
    this.maxBytes = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
    for (const [field, v] of [['maxObjectSize', this.maxObjectSize], ['maxBytes', this.maxBytes]] as const) {
      if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`UcxServer: ${field} must be a non-negative integer`);
    }
    this.errorMode = options.errorMode ?? defaultErrorMode();
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.lendIdleMs = lendIdleMsOf(options.lendIdleMs);
    const tokens = options.tokens ?? [];
    this.#tokens = tokens.length > 0 ? tokens.map(digest) : null;
    this.workerAddress = new Uint8Array(native.workerAddress());
    this.#control = new ControlServer({
      handlers: this.#handlers(),
      ...(tokens.length > 0 ? { tokens } : {}),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      ...(options.maxObjectSize === undefined ? {} : { maxObjectSize: options.maxObjectSize }),
    });
  }

  /** Starts a server on this thread: its control plane listens, and it takes daemon-mode pulls. */
  static async start(options: UcxServerOptions = {}): Promise<UcxServer> {
    const native = ucx();
    let server: UcxServer;
    try {
      server = new UcxServer(options, native);
    } catch (err) {
      // Bad options stay what they are; a native failure (UCX cannot start here) becomes a UcxError.
      if (err instanceof TypeError || err instanceof RangeError) throw err;
      throw toUcxError('starting a UcxServer', err);
    }
    const bound = await server.#control.listen(options.host ?? '127.0.0.1', options.port ?? 0);
    server.#address = options.advertiseAddress ?? bound.address;
    if (servers.size === 0) {
      native.setAmHandler(AM_PULL_REQUEST, onPullRequest);
      // Answered inside this thread's own getSync too: a peer may be blocked on it meanwhile (a getSync
      // of ours waiting on a getSync of theirs would otherwise wait out both time limits).
      native.setAmHandler(AM_FETCH_REQUEST, onFetchRequest, { duringSync: true });
      native.setAmHandler(AM_RESERVE, onReserve);
    }
    servers.set(server.id, server);
    setPushSlot(native);
    retainPeers();
    return server;
  }

  /** host:port of the control plane. */
  get address(): string {
    return this.#address;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get objects(): number {
    return this.#objects.size;
  }

  /** Bytes of the blocks it holds (headers and trailers included). */
  get bytesUsed(): number {
    return this.#bytesUsed;
  }

  #open(): void {
    if (this.#closed) throw new UcxError(UcxErrorCode.CLOSED, `UcxServer ${this.id} is closed`);
  }

  #admit(payload: number, length: number): void {
    if (payload > this.maxObjectSize) {
      throw new ControlError(
        ControlErrorCode.OBJECT_TOO_LARGE,
        `an object of ${payload} bytes is larger than this server's maximum of ${this.maxObjectSize}`,
      );
    }
    if (this.#bytesUsed + this.#reserved + length > this.maxBytes) {
      throw new ControlError(
        ControlErrorCode.STORAGE_FULL,
        `no room for ${length} bytes: ${this.#bytesUsed + this.#reserved} of ${this.maxBytes} in use`,
      );
    }
  }

  #descriptor(id: string, region: MemoryRegion, layout: Pick<Layout, 'length' | 'frameLengths'>, nonce: Uint8Array): RemoteObjectInfo {
    // A reader on this host maps the block's memfd and copies from it instead of an RMA get, which UCX
    // 1.13 would emulate over shared memory with active messages this process must answer.
    const me = processIdentityOf(this.#native);
    const shm = region.shm;
    return {
      ...(me === null || shm === null
        ? {}
        : { shm: { hostId: me.hostId, pid: me.pid, startTime: me.startTime, fd: shm.fd, inode: shm.inode, offset: shm.offset } }),
      id,
      server: this.id,
      control: this.#address,
      workerAddress: this.workerAddress,
      remoteAddress: region.address,
      rkey: new Uint8Array(region.packRkey()),
      length: layout.length,
      frameLengths: [...layout.frameLengths],
      memoryType: 'host',
      nonce,
    };
  }

  #keep(id: string, region: MemoryRegion, layout: Layout, nonce: Uint8Array): Stored {
    const d = this.#descriptor(id, region, layout, nonce);
    const stored: Stored = {
      id,
      region,
      block: regionBytes(region),
      layout,
      nonce,
      key: keyOf(d, encodeRemoteObject(d)),
      bytes: region.byteLength,
      pins: 0,
      evicted: false,
    };
    this.#objects.set(id, stored);
    this.#bytesUsed += stored.bytes;
    return stored;
  }

  /**
   * Stores a copy of `frames` (one copy, into a pooled registered block) and returns its key. `id` asks for
   * that id (refused when taken). Throws CONTROL_OBJECT_TOO_LARGE / CONTROL_STORAGE_FULL over the limits.
   */
  put(frames: Frames, id?: string): UcxKey {
    this.#open();
    assertFrames(frames);
    const objectId = this.#checkNewId(id);
    const layout = layoutOf(frames.map((f) => f.byteLength));
    this.#admit(layout.payload, layout.length);
    const region = acquireRegion(this.#native, layout.length, `put of ${objectId}`);
    try {
      const nonce = newNonce();
      writeObject(regionBytes(region), layout, frames, nonce);
      return this.#keep(objectId, region, layout, nonce).key;
    } catch (err) {
      releaseRegion(region);
      throw err;
    }
  }

  #checkNewId(id: string | undefined): string {
    if (id === undefined || id === '') return newId();
    if (!SAFE_ID.test(id)) {
      throw new ControlError(ControlErrorCode.INVALID_ARGUMENT, `object id ${JSON.stringify(id)} is not letters, digits, '_' and '-'`);
    }
    if (this.#objects.has(id) || this.#pending.has(id)) throw new ControlError(ControlErrorCode.INVALID_ARGUMENT, `object ${id} exists already`);
    return id;
  }

  /** The key of a stored object (what a consumer needs to read it), or null. */
  keyOf(id: string): UcxKey | null {
    return this.#objects.get(id)?.key ?? null;
  }

  has(id: string): boolean {
    return this.#objects.has(id);
  }

  /**
   * Copies of the frames of `id`, or null when it holds none (or, with `nonce`, holds another object under
   * that id). What an in-process get returns: the caller owns the copies.
   */
  read(id: string, nonce?: Uint8Array, frameLengths?: readonly number[]): Uint8Array[] | null {
    this.#open();
    const stored = this.#objects.get(id);
    if (stored === undefined) return this.#readLent(id, nonce, frameLengths);
    if (nonce !== undefined && !Buffer.from(nonce).equals(Buffer.from(stored.nonce))) return null;
    return frameCopies(stored.block, stored.layout);
  }

  /**
   * An object written into a lent block whose commit has not arrived yet (its producer's put has returned,
   * and the key reached this thread first): copies of its frames when the block holds it whole, with the
   * key's nonce, else null.
   */
  #readLent(id: string, nonce: Uint8Array | undefined, frameLengths: readonly number[] | undefined): Uint8Array[] | null {
    const r = this.#pending.get(id);
    if (r === undefined || nonce === undefined || frameLengths === undefined) return null;
    let layout: Layout;
    try {
      layout = layoutOf(frameLengths);
    } catch {
      return null;
    }
    const block = regionBytes(r.region);
    return layout.length <= r.capacity && checkObject(block, layout, nonce) ? frameCopies(block, layout) : null;
  }

  /** Removes the object; its block goes back to the pool now, or when the last gRPC get of it ends. */
  evict(id: string): boolean {
    const stored = this.#objects.get(id);
    if (stored === undefined) return false;
    this.#objects.delete(id);
    this.#bytesUsed -= stored.bytes;
    stored.evicted = true;
    if (stored.pins === 0) this.#release(stored);
    return true;
  }

  /**
   * A consumer's fetch (a get over tcp alone): sends the object's block back over `replyEp` as the data
   * of FETCH_REPLY, pinned until the send ends (an eviction meanwhile waits for it, so the consumer never
   * gets a block whose nonces were cleared half-way); an error reply without data when it is not here.
   */
  async fetch(seq: number, ask: { id: string; address: string; length: number }, replyEp: Endpoint): Promise<void> {
    // Only a pending object waits: any other is answered synchronously (this may run inside a getSync of
    // this thread, where no promise reaction runs until it returns).
    const settling = this.#settled(ask.id);
    if (settling !== undefined) await settling;
    const held = this.#closed ? undefined : this.#objects.get(ask.id);
    // The key's descriptor must name this very block, as an RMA get of it would read it.
    const stored =
      held !== undefined && held.region.address.toString() === ask.address && held.layout.length === ask.length ? held : undefined;
    if (stored === undefined) {
      const message = `object ${ask.id} (at ${ask.address}, ${ask.length} B) is not held by UCX server ${this.id}`;
      const reply = encodePull(PullKind.ERROR, seq, jsonBytes({ code: FETCH_NOT_FOUND, message }), new Uint8Array(0));
      await replyEp.amSend(AM_FETCH_REPLY, reply, new Uint8Array(0), { timeoutMs: this.timeoutMs }).catch(() => {});
      return;
    }
    const unpin = this.#pin(stored);
    try {
      const reply = encodePull(PullKind.OK, seq, new Uint8Array(0), new Uint8Array(0));
      // A lent block may be larger than its object: only the object goes.
      const data = stored.bytes === stored.layout.length ? stored.region : stored.block.subarray(0, stored.layout.length);
      await replyEp.amSend(AM_FETCH_REPLY, reply, data, { timeoutMs: this.timeoutMs });
    } catch {
      // The consumer is gone or too slow: it sees its own failure or timeout.
    } finally {
      unpin();
    }
  }

  #release(stored: Stored): void {
    // Zero the nonces first: a remote read in flight, or one that comes later with the old key, sees the
    // object as gone rather than the block's next occupant.
    clearNonce(stored.block, stored.layout);
    releaseRegion(stored.region);
  }

  #pin(stored: Stored): () => void {
    stored.pins++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      stored.pins--;
      if (stored.evicted && stored.pins === 0) this.#release(stored);
    };
  }

  /** Stops the control plane and releases every block (their nonces zeroed first). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (servers.get(this.id) === this) servers.delete(this.id);
    if (servers.size > 0) {
      try {
        setPushSlot(this.#native);
      } catch {
        // The addon is being torn down with the thread.
      }
    }
    if (servers.size === 0) {
      try {
        this.#native.setAmHandler(AM_PULL_REQUEST, null);
        this.#native.setAmHandler(AM_FETCH_REQUEST, null);
        this.#native.setAmHandler(AM_RESERVE, null);
        // Pushes that arrive from now on are dropped before a block is taken for them.
        this.#native.setAmHandler(AM_PUSH_REQUEST, null, { receive: 'placed', maxBlock: 0 });
      } catch {
        // The addon is being torn down with the thread.
      }
    }
    await this.#control.close({ graceMs: 200 });
    for (const id of [...this.#objects.keys()]) this.evict(id);
    // Lent blocks are not reused: a producer may still write one. They stay mapped until the process ends.
    for (const r of [...this.#lent.values()]) {
      quarantined.push(r.region);
      this.#unlend(r, false);
    }
    releasePeers();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  identity(): IdentityInfo {
    return {
      id: this.id,
      name: this.name,
      address: this.#address,
      version: VERSION,
      startedMs: this.#startedMs,
      objects: this.#objects.size,
      bytesUsed: this.#bytesUsed,
      bytesLimit: this.maxBytes,
      maxObjectSize: this.maxObjectSize,
      chunkSize: GRPC_CHUNK,
      persistent: false,
      workerAddress: this.workerAddress,
    };
  }

  #mine(ref: ObjectRefMessage): Stored | undefined {
    if (ref.owner !== '' && ref.owner !== this.id) return undefined;
    return this.#objects.get(ref.id);
  }

  #handlers(): ControlHandlers {
    return {
      admitPut: (layout) => {
        this.#open();
        this.#checkNewId(layout.id);
        this.#admit(layout.size, layoutOf(layout.frameLengths).length);
      },
      put: ({ id, frames, size }) => {
        const key = this.put(frames, id);
        return { id: key.id, owner: this.id, size };
      },
      // An object whose producer wrote it into a lent block is looked up once its commit is in.
      get: async (ref, ctx) => {
        await this.#settled(ref.id);
        const stored = this.#mine(ref);
        if (stored === undefined) return null;
        return this.#stream(stored, ctx);
      },
      exists: async (ref) => {
        await this.#settled(ref.id);
        return this.#mine(ref) !== undefined;
      },
      evict: async (ref) => {
        await this.#settled(ref.id);
        return this.#mine(ref) === undefined ? false : this.evict(ref.id);
      },
      stat: async (ref): Promise<ObjectDescriptorInfo | null> => {
        await this.#settled(ref.id);
        const stored = this.#mine(ref);
        if (stored === undefined) return null;
        return {
          size: stored.layout.payload,
          frameLengths: [...stored.layout.frameLengths],
          dtype: 'bytes',
          shape: [],
          memoryType: 'host',
          location: this.id,
        };
      },
      identity: () => this.identity(),
      health: () => ({
        serving: !this.#closed,
        uptimeMs: Date.now() - this.#startedMs,
        objects: this.#objects.size,
        bytesUsed: this.#bytesUsed,
      }),
      peers: () => [],
      register: () => {
        throw new ControlError(
          ControlErrorCode.INVALID_ARGUMENT,
          'a UCX server keeps no peers: register with a ProxyStore endpoint (proxystore-endpoint) instead',
        );
      },
    };
  }

  /** A gRPC get: views of the block in chunks, the object pinned until the stream ends or is cancelled. */
  #stream(stored: Stored, ctx: CallContext): ObjectSource {
    const unpin = this.#pin(stored);
    ctx.signal.addEventListener('abort', unpin, { once: true });
    const { block, layout } = stored;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      try {
        for (let i = 0; i < layout.frameLengths.length; i++) {
          const start = layout.offsets[i] as number;
          const end = start + (layout.frameLengths[i] as number);
          for (let at = start; at < end; at += GRPC_CHUNK) yield block.subarray(at, Math.min(end, at + GRPC_CHUNK));
        }
      } finally {
        unpin();
      }
    }
    return { frameLengths: layout.frameLengths, chunks: chunks() };
  }

  /** One daemon-mode put: pull the producer's staged block, check it, keep it, answer. */
  async pull(request: { seq: number; token: string | undefined; descriptor: Uint8Array }, replyEp: Endpoint): Promise<void> {
    let d: RemoteObjectInfo | undefined;
    let ep: Endpoint = replyEp;
    try {
      this.#open();
      this.#authenticate(request.token);
      d = decodeRemoteObject(request.descriptor, 'pull request');
      if (d.memoryType !== 'host') {
        throw new UcxError(UcxErrorCode.MEMORY_TYPE_UNSUPPORTED, `object ${d.id} is in ${d.memoryType} memory; this server holds host memory only`);
      }
      const id = this.#checkNewId(d.id);
      const layout = layoutOf(d.frameLengths);
      this.#admit(layout.payload, layout.length);
      this.#reserved += layout.length;
      let region: MemoryRegion | undefined;
      let reserved = true;
      try {
        region = acquireRegion(this.#native, layout.length, `pull of ${id}`);
        const into = region;
        const peer = peerFor(`producer of ${id}`, d.workerAddress, this.errorMode);
        const src = d;
        await withPeer(peer, `pull of ${id}`, this.timeoutMs, src.rkey, async (e, rkey) => {
          ep = e;
          await e.get(into, 0, layout.length, src.remoteAddress, rkey, { timeoutMs: this.timeoutMs });
        });
        this.#open();
        const block = regionBytes(region);
        if (!checkObject(block, layout, src.nonce)) {
          throw new UcxError(UcxErrorCode.DAEMON, `the staged object ${id} changed or was released during the pull`);
        }
        if (this.#objects.has(id)) throw new ControlError(ControlErrorCode.INVALID_ARGUMENT, `object ${id} exists already`);
        const nonce = newNonce();
        writeNonce(block, layout, nonce);
        this.#reserved -= layout.length;
        reserved = false;
        const stored = this.#keep(id, region, layout, nonce);
        region = undefined;
        await this.#reply(ep, PullKind.OK, request.seq, new Uint8Array(0), Buffer.from(stored.key.descriptor, 'base64'));
        return;
      } finally {
        if (reserved) this.#reserved -= layout.length;
        if (region !== undefined) releaseRegion(region);
      }
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const message = err instanceof Error ? err.message : String(err);
      await this.#reply(ep, PullKind.ERROR, request.seq, jsonBytes({ code: typeof code === 'string' ? code : 'UCX_ERROR', message }), new Uint8Array(0));
    }
  }

  /**
   * One pushed daemon-mode put: `region` (a block of this thread's pool, now this server's) holds the
   * object as the producer laid it out. Checked, re-stamped with this server's nonce and kept as it is;
   * on any refusal it goes back to the pool and the producer gets a typed error.
   */
  async push(
    request: {
      seq: number;
      token: string | undefined;
      id: string;
      frameLengths: readonly number[];
      nonce: Uint8Array;
      /** Where the message data went in the block: 0 for a whole block. */
      offset: number;
      /** The frame sent as the data (in place at `offset`), the others being `inline`; absent: a whole block. */
      inPlace?: number;
      inline?: Uint8Array;
      /** Blocks the producer asks to be lent for its next puts (lent after the answer). */
      reserve?: ReserveAsk;
      /** The block length the push asked for (its placement header). */
      block?: number;
    },
    /** The block the data landed in, or why the addon could not take the data (AmInfo.dropped). */
    landed: MemoryRegion | { dropped: AmDropReason },
    replyEp: Endpoint,
  ): Promise<void> {
    const region = 'dropped' in landed ? undefined : landed;
    let held: MemoryRegion | undefined = region;
    try {
      this.#open();
      this.#authenticate(request.token);
      const id = this.#checkNewId(request.id);
      let layout: Layout;
      try {
        layout = layoutOf(request.frameLengths);
      } catch (err) {
        throw new ControlError(ControlErrorCode.INVALID_ARGUMENT, `push of ${id}: ${(err as Error).message}`);
      }
      // The bytes are here already (a push cannot be refused before it lands); the limits still decide
      // whether they stay.
      this.#admit(layout.payload, layout.length);
      if (region === undefined) throw droppedPush(id, request.block ?? layout.length, 'dropped' in landed ? landed.dropped : 'no-memory');
      const block = regionBytes(region);
      const nonce = newNonce();
      if (request.inPlace === undefined) {
        if (region.byteLength !== layout.length || request.offset !== 0 || !checkObject(block, layout, request.nonce)) {
          throw new ControlError(
            ControlErrorCode.INVALID_ARGUMENT,
            `push of ${id}: ${region.byteLength} bytes that are not an object block of frames [${layout.frameLengths.join(', ')}] with the given nonce`,
          );
        }
        writeNonce(block, layout, nonce);
      } else {
        // One frame came as the data, at its offset; the others came inline: lay the rest out around it.
        const k = request.inPlace;
        const inline = request.inline ?? new Uint8Array(0);
        const others = layout.frameLengths.reduce((sum, n, i) => (i === k ? sum : sum + n), 0);
        if (!Number.isSafeInteger(k) || k < 0 || k >= layout.frameLengths.length || region.byteLength !== layout.length ||
            request.offset !== layout.offsets[k] || inline.byteLength !== others) {
          throw new ControlError(
            ControlErrorCode.INVALID_ARGUMENT,
            `push of ${id}: frame ${k} in place at ${request.offset} with ${inline.byteLength} inline bytes does not match frames [${layout.frameLengths.join(', ')}]`,
          );
        }
        const frames: (Uint8Array | null)[] = [];
        let at = 0;
        for (const [i, n] of layout.frameLengths.entries()) {
          if (i === k) {
            frames.push(null);
          } else {
            frames.push(inline.subarray(at, at + n));
            at += n;
          }
        }
        writeObject(block, layout, frames, nonce);
      }
      const stored = this.#keep(id, region, layout, nonce);
      held = undefined;
      await this.#reply(replyEp, PullKind.OK, request.seq, new Uint8Array(0), Buffer.from(stored.key.descriptor, 'base64'));
    } catch (err) {
      if (held !== undefined) releaseRegion(held);
      held = undefined;
      const code = (err as { code?: unknown }).code;
      const message = err instanceof Error ? err.message : String(err);
      await this.#reply(replyEp, PullKind.ERROR, request.seq, jsonBytes({ code: typeof code === 'string' ? code : 'UCX_ERROR', message }), new Uint8Array(0));
      return;
    }
    // Kept and answered: blocks for the producer's next puts, if it asked.
    if (request.reserve !== undefined) this.lend(request.reserve, replyEp);
  }

  // ---- blocks lent to same-host producers (reserve.ts) ----------------------------------------------

  /** Blocks lent now, and their bytes (counted against maxBytes until committed or given back). */
  get lent(): { blocks: number; bytes: number } {
    return { blocks: this.#lent.size, bytes: this.#lentBytes };
  }

  /**
   * Lends up to `ask.count` blocks of `ask.capacity` bytes to a producer on this host, each sent to it as a
   * GRANT over `replyEp`. Quietly lends fewer (or none) past the limits: 2 per size class and 256 MiB per
   * producer, 1 GiB (and a quarter of maxBytes) in all, room under maxBytes, a memfd-backed block.
   */
  lend(ask: ReserveAsk, replyEp: Endpoint): void {
    const me = processIdentityOf(this.#native);
    if (this.#closed || me === null || ask.hostId !== me.hostId || reservationCapacity(ask.capacity) !== ask.capacity) return;
    const producer = `${ask.pid}:${ask.startTime}`;
    let ofClass = 0;
    let ofProducer = 0;
    for (const r of this.#lent.values()) {
      if (r.producer !== producer) continue;
      ofProducer += r.capacity;
      if (r.capacity === ask.capacity) ofClass++;
    }
    const total = Math.min(RESERVE_TOTAL, Math.floor(this.maxBytes / 4));
    const count = Math.min(ask.count, RESERVE_PER_CLASS - ofClass);
    for (let i = 0; i < count; i++) {
      if (ofProducer + ask.capacity > RESERVE_PER_PRODUCER || this.#lentBytes + ask.capacity > total) break;
      if (this.#bytesUsed + this.#reserved + ask.capacity > this.maxBytes) break;
      let region: MemoryRegion;
      try {
        region = acquireRegion(this.#native, ask.capacity, 'a block to lend');
      } catch {
        break;
      }
      if (region.shm === null) {
        // No memfd behind it (PROXYSTORE_UCX_SHM=0): nothing a producer could write.
        releaseRegion(region);
        break;
      }
      const r: Reservation = {
        rid: newId(),
        id: newId(),
        region,
        capacity: ask.capacity,
        producer,
        pid: ask.pid,
        startTime: ask.startTime,
        replyEp,
        since: Date.now(),
        waiters: [],
      };
      this.#lent.set(r.rid, r);
      this.#pending.set(r.id, r);
      this.#lentBytes += r.capacity;
      this.#reserved += r.capacity;
      ofProducer += r.capacity;
      // As if one frame filled the block (a valid descriptor): the producer puts its own length, frames, nonce.
      const template = this.#descriptor(r.id, region, layoutOf([r.capacity - HEADER_SIZE - TRAILER_SIZE]), new Uint8Array(NONCE_SIZE));
      const grant = encodePull(PullKind.GRANT, 0, jsonBytes({ server: this.id, rid: r.rid, capacity: r.capacity }), encodeRemoteObject(template));
      // Undelivered (the producer's endpoint failed): the sweep takes it back when the producer is gone.
      replyEp.amSend(AM_PULL_REPLY, grant, new Uint8Array(0), { timeoutMs: this.timeoutMs }).catch(() => {});
    }
    if (this.#lent.size > 0 && this.#sweep === null) {
      this.#sweep = setInterval(() => this.#sweepLent(), Math.min(RESERVE_SWEEP_MS, this.lendIdleMs));
      this.#sweep.unref();
    }
  }

  /**
   * A producer's COMMIT: the object it wrote into lent block `rid` becomes an object of this server when
   * its layout fits the block and the block holds it whole with `nonce`. Anything else ends the loan (the
   * producer writes a block before it commits it, never after): the block goes back to the pool.
   */
  commit(c: { rid: string; frameLengths: unknown; nonce: Uint8Array; reserve?: ReserveAsk }, replyEp: Endpoint): void {
    const r = this.#lent.get(c.rid);
    if (r === undefined) return;
    let layout: Layout | undefined;
    try {
      if (Array.isArray(c.frameLengths)) layout = layoutOf(c.frameLengths as number[]);
    } catch {
      layout = undefined;
    }
    const block = regionBytes(r.region);
    if (layout === undefined || layout.length > r.capacity || layout.payload > this.maxObjectSize || !checkObject(block, layout, c.nonce)) {
      this.#unlend(r, true);
      return;
    }
    this.#unlend(r, false);
    this.#keep(r.id, r.region, layout, c.nonce.slice());
    for (const wake of r.waiters) wake();
    if (c.reserve !== undefined) this.lend(c.reserve, replyEp);
  }

  /** A producer's RETURN: blocks it will not write, back to the pool. */
  giveBack(rids: readonly string[]): void {
    for (const rid of rids) {
      const r = this.#lent.get(rid);
      if (r !== undefined) this.#unlend(r, true);
    }
  }

  /** Ends a loan; `release`: the block back to the pool (nobody writes it any more), its header nonce zeroed. */
  #unlend(r: Reservation, release: boolean): void {
    this.#lent.delete(r.rid);
    this.#pending.delete(r.id);
    this.#lentBytes -= r.capacity;
    this.#reserved -= r.capacity;
    if (release) {
      clearHeaderNonce(regionBytes(r.region));
      releaseRegion(r.region);
    }
    for (const wake of r.waiters.splice(0)) wake();
    if (this.#lent.size === 0 && this.#sweep !== null) {
      clearInterval(this.#sweep);
      this.#sweep = null;
    }
  }

  /** Takes back the blocks of producers that are gone; asks for blocks left unused too long (REVOKE). */
  #sweepLent(): void {
    const now = Date.now();
    const alive = new Map<string, boolean>();
    for (const r of [...this.#lent.values()]) {
      let ok = alive.get(r.producer);
      if (ok === undefined) {
        ok = startTimeOf(r.pid) === r.startTime;
        alive.set(r.producer, ok);
      }
      if (!ok) {
        this.#unlend(r, true);
      } else if (now - r.since >= this.lendIdleMs) {
        r.since = now;
        const revoke = encodePull(PullKind.REVOKE, 0, jsonBytes({ server: this.id, rid: r.rid }), new Uint8Array(0));
        r.replyEp.amSend(AM_PULL_REPLY, revoke, new Uint8Array(0), { timeoutMs: this.timeoutMs }).catch(() => {});
      }
    }
  }

  /** Resolves when `id` is no longer waiting for its commit (or after timeoutMs); undefined when it is not. */
  #settled(id: string): Promise<void> | undefined {
    const r = this.#pending.get(id);
    if (r === undefined) return undefined;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.timeoutMs);
      timer.unref();
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      r.waiters.push(done);
    });
  }

  #authenticate(token: string | undefined): void {
    if (this.#tokens === null) return;
    const given = token === undefined ? null : digest(token);
    if (given === null || !this.#tokens.some((t) => timingSafeEqual(t, given))) {
      throw new ControlError(ControlErrorCode.UNAUTHENTICATED, token === undefined ? 'the pull carries no token' : 'wrong token');
    }
  }

  async #reply(ep: Endpoint, kind: PullKind, seq: number, a: Uint8Array, b: Uint8Array): Promise<void> {
    try {
      await ep.amSend(AM_PULL_REPLY, encodePull(kind, seq, a, b), new Uint8Array(0), { timeoutMs: this.timeoutMs });
    } catch (err) {
      // The producer is gone or unreachable: it sees its own timeout. An object stored for it stays until
      // evicted (its key was never handed out, so nobody will: log-worthy, not fatal).
      void toUcxError('pull reply', err);
    }
  }
}

/** The thread's PULL_REQUEST handler: decodes the header and hands it to the server it names. */
function onPullRequest(header: ArrayBuffer, _data: ArrayBuffer, info: AmInfo): void {
  const msg = decodePull(header);
  if (msg === null || msg.kind !== PullKind.REQUEST) return;
  const a = parseJson(msg.a) as { server?: unknown; token?: unknown } | null;
  const target = typeof a?.server === 'string' ? servers.get(a.server) : undefined;
  const token = typeof a?.token === 'string' ? a.token : undefined;
  const descriptor = msg.b.slice();
  if (target === undefined) {
    const reply = encodePull(
      PullKind.ERROR,
      msg.seq,
      jsonBytes({ code: 'UCX_DAEMON', message: `no UCX server ${String(a?.server)} in this process` }),
      new Uint8Array(0),
    );
    info.endpoint.amSend(AM_PULL_REPLY, reply, new Uint8Array(0), { timeoutMs: DEFAULT_TIMEOUT_MS }).catch(() => {});
    return;
  }
  void target.pull({ seq: msg.seq, token, descriptor }, info.endpoint);
}


/** The thread's FETCH_REQUEST handler: hands the request to the server it names (or answers that none does). */
function onFetchRequest(header: ArrayBuffer, _data: ArrayBuffer, info: AmInfo): void {
  const msg = decodePull(header);
  if (msg === null || msg.kind !== PullKind.FETCH) return;
  const a = parseJson(msg.a) as { server?: unknown; id?: unknown; address?: unknown; length?: unknown } | null;
  const target = typeof a?.server === 'string' ? servers.get(a.server) : undefined;
  const valid = typeof a?.id === 'string' && typeof a.address === 'string' && Number.isSafeInteger(a.length);
  if (target === undefined || !valid) {
    const message = target === undefined ? `no UCX server ${String(a?.server)} in this process` : 'the fetch names no object';
    const reply = encodePull(PullKind.ERROR, msg.seq, jsonBytes({ code: FETCH_NOT_FOUND, message }), new Uint8Array(0));
    info.endpoint.amSend(AM_FETCH_REPLY, reply, new Uint8Array(0), { timeoutMs: DEFAULT_TIMEOUT_MS }).catch(() => {});
    return;
  }
  void target.fetch(msg.seq, { id: a?.id as string, address: a?.address as string, length: a?.length as number }, info.endpoint);
}

/** A producer's ask to be lent blocks, as a push or commit carries it; undefined when malformed. */
function parseAsk(v: unknown): ReserveAsk | undefined {
  const a = v as { capacity?: unknown; count?: unknown; hostId?: unknown; pid?: unknown; startTime?: unknown } | null | undefined;
  if (a === null || typeof a !== 'object') return undefined;
  const { capacity, count, hostId, pid, startTime } = a;
  if (!Number.isSafeInteger(capacity) || (capacity as number) <= 0 || (capacity as number) > RESERVE_MAX_BLOCK) return undefined;
  if (!Number.isSafeInteger(count) || (count as number) < 1) return undefined;
  if (typeof hostId !== 'string' || !Number.isSafeInteger(pid) || (pid as number) <= 0) return undefined;
  if (typeof startTime !== 'string' || !/^\d{1,20}$/.test(startTime)) return undefined;
  return { capacity: capacity as number, count: Math.min(count as number, RESERVE_PER_CLASS), hostId, pid: pid as number, startTime: BigInt(startTime) };
}

/** The thread's RESERVE handler: a producer's COMMIT or RETURN of lent blocks, handed to the server it names. */
function onReserve(header: ArrayBuffer, _data: ArrayBuffer, info: AmInfo): void {
  const msg = decodePull(header);
  if (msg === null) return;
  const a = parseJson(msg.a) as { server?: unknown; rid?: unknown; rids?: unknown; frames?: unknown; reserve?: unknown } | null;
  const target = typeof a?.server === 'string' ? servers.get(a.server) : undefined;
  if (target === undefined) return;
  if (msg.kind === PullKind.COMMIT && typeof a?.rid === 'string' && msg.b.byteLength === NONCE_SIZE) {
    const reserve = parseAsk(a.reserve);
    target.commit({ rid: a.rid, frameLengths: a.frames, nonce: msg.b, ...(reserve === undefined ? {} : { reserve }) }, info.endpoint);
  } else if (msg.kind === PullKind.RETURN && Array.isArray(a?.rids)) {
    target.giveBack(a.rids.filter((r): r is string => typeof r === 'string'));
  }
}

/**
 * The thread's PUSH_REQUEST handler (a pooled slot: `info.region` holds the data). A header that is not a
 * push of this version cannot be answered (no sequence number to answer to): its block is released.
 */
function onPushRequest(header: ArrayBuffer, _data: ArrayBuffer, info: AmInfo): void {
  const region = info.region;
  // No block and no reason: nothing to answer (a pooled slot always gives one or the other).
  if (region === undefined && info.dropped === undefined) return;
  const placed = splitPlacement(header);
  const msg = placed === null ? null : decodePull(placed.message);
  if (placed === null || msg === null || msg.kind !== PullKind.PUSH) {
    if (region !== undefined) releaseRegion(region);
    return;
  }
  const a = parseJson(msg.a) as { server?: unknown; token?: unknown; id?: unknown; frames?: unknown; inPlace?: unknown } | null;
  const inPlace = a?.inPlace;
  const target = typeof a?.server === 'string' ? servers.get(a.server) : undefined;
  const frames = a?.frames;
  let problem: string | undefined;
  if (target === undefined) problem = `no UCX server ${String(a?.server)} in this process`;
  else if (typeof a?.id !== 'string') problem = 'the push names no object id';
  else if (!Array.isArray(frames) || !frames.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) {
    problem = 'the push has no valid frame lengths';
  } else if (inPlace !== undefined && !(Number.isSafeInteger(inPlace) && (inPlace as number) >= 0)) {
    problem = 'the push names no valid frame in place';
  } else if (inPlace === undefined ? msg.b.byteLength !== NONCE_SIZE : msg.b.byteLength < NONCE_SIZE) {
    problem = `the push's nonce is ${msg.b.byteLength} bytes, not ${NONCE_SIZE}`;
  }
  if (problem !== undefined || target === undefined) {
    if (region !== undefined) releaseRegion(region);
    const code = target === undefined ? 'UCX_DAEMON' : ControlErrorCode.INVALID_ARGUMENT;
    const reply = encodePull(PullKind.ERROR, msg.seq, jsonBytes({ code, message: problem }), new Uint8Array(0));
    info.endpoint.amSend(AM_PULL_REPLY, reply, new Uint8Array(0), { timeoutMs: DEFAULT_TIMEOUT_MS }).catch(() => {});
    return;
  }
  const token = typeof a?.token === 'string' ? a.token : undefined;
  const reserve = parseAsk((a as { reserve?: unknown } | null)?.reserve);
  void target.push(
    {
      seq: msg.seq,
      token,
      id: a?.id as string,
      frameLengths: frames as number[],
      nonce: msg.b.slice(0, NONCE_SIZE),
      offset: placed.offset,
      ...(inPlace === undefined ? {} : { inPlace: inPlace as number, inline: msg.b.subarray(NONCE_SIZE) }),
      ...(reserve === undefined ? {} : { reserve }),
      block: placed.blockLength,
    },
    region ?? { dropped: info.dropped ?? 'no-memory' },
    info.endpoint,
  );
}

/**
 * The error a push gets whose data the addon could not take although the server's limits admit the
 * object: the block did not fit any server of this process (a block larger than the object calls for),
 * found no memory, did not match its placement, or was not received.
 */
function droppedPush(id: string, block: number, why: AmDropReason): ControlError {
  switch (why) {
    case 'no-memory':
      return new ControlError(ControlErrorCode.STORAGE_FULL, `push of ${id}: no memory for a block of ${block} bytes`);
    case 'too-large':
      return new ControlError(ControlErrorCode.INVALID_ARGUMENT, `push of ${id}: a block of ${block} bytes is larger than its object needs`);
    case 'malformed':
      return new ControlError(ControlErrorCode.INVALID_ARGUMENT, `push of ${id}: its data does not fit where its header places it`);
    case 'receive-failed':
      return new ControlError(ControlErrorCode.INTERNAL, `push of ${id}: receiving its data failed`);
  }
}

/** Room for a block's header, trailer and frame alignment beyond a server's maxObjectSize. */
const PUSH_BLOCK_SLACK = 1 << 20;

/**
 * (Re)sets the thread's PUSH_REQUEST slot: 'placed', so a push's data lands where its header says, in a
 * block of the pool the server keeps as the object's storage; blocks larger than any server here could
 * admit are refused before they are taken (the servers' own checks decide the rest).
 */
function setPushSlot(native: NativeAddon): void {
  let maxBlock = 0;
  for (const s of servers.values()) {
    maxBlock = Math.max(maxBlock, Math.min(s.maxBytes, s.maxObjectSize + PUSH_BLOCK_SLACK));
  }
  // Without limits, still no block larger than this machine's memory: no such object could be kept.
  maxBlock = Math.min(maxBlock, totalmem());
  native.setAmHandler(AM_PUSH_REQUEST, onPushRequest, { receive: 'placed', maxBlock });
}
