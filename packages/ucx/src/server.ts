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
  NONCE_SIZE,
  checkObject,
  clearNonce,
  frameCopies,
  layoutOf,
  newNonce,
  writeNonce,
  writeObject,
  type Layout,
} from './layout.js';
import { defaultErrorMode, ucx } from './native-loader.js';
import type { AmInfo, Endpoint, ErrorMode, MemoryRegion, NativeAddon } from './native.js';
import {
  AM_PULL_REPLY,
  AM_PULL_REQUEST,
  AM_PUSH_REQUEST,
  AM_FETCH_REPLY,
  AM_FETCH_REQUEST,
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
}

interface Stored {
  readonly id: string;
  readonly region: MemoryRegion;
  readonly block: Uint8Array;
  readonly layout: Layout;
  readonly nonce: Uint8Array;
  readonly key: UcxKey;
  /** gRPC gets streaming it now; its block is released when the last ends. */
  pins: number;
  evicted: boolean;
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
  /** This thread's UCX worker address (what consumers connect to). */
  readonly workerAddress: Uint8Array;
  readonly #native: NativeAddon;
  readonly #control: ControlServer;
  readonly #tokens: Buffer[] | null;
  readonly #objects = new Map<string, Stored>();
  readonly #startedMs = Date.now();
  #address = '';
  #bytesUsed = 0;
  /** Bytes promised to pulls in progress. */
  #reserved = 0;
  #closed = false;

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

  #descriptor(id: string, region: MemoryRegion, layout: Layout, nonce: Uint8Array): RemoteObjectInfo {
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
      pins: 0,
      evicted: false,
    };
    this.#objects.set(id, stored);
    this.#bytesUsed += layout.length;
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
    if (this.#objects.has(id)) throw new ControlError(ControlErrorCode.INVALID_ARGUMENT, `object ${id} exists already`);
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
  read(id: string, nonce?: Uint8Array): Uint8Array[] | null {
    this.#open();
    const stored = this.#objects.get(id);
    if (stored === undefined) return null;
    if (nonce !== undefined && !Buffer.from(nonce).equals(Buffer.from(stored.nonce))) return null;
    return frameCopies(stored.block, stored.layout);
  }

  /** Removes the object; its block goes back to the pool now, or when the last gRPC get of it ends. */
  evict(id: string): boolean {
    const stored = this.#objects.get(id);
    if (stored === undefined) return false;
    this.#objects.delete(id);
    this.#bytesUsed -= stored.layout.length;
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
    const held = this.#closed ? undefined : this.#objects.get(ask.id);
    // The key's descriptor must name this very block, as an RMA get of it would read it.
    const stored =
      held !== undefined && held.region.address.toString() === ask.address && held.region.byteLength === ask.length ? held : undefined;
    if (stored === undefined) {
      const message = `object ${ask.id} (at ${ask.address}, ${ask.length} B) is not held by UCX server ${this.id}`;
      const reply = encodePull(PullKind.ERROR, seq, jsonBytes({ code: FETCH_NOT_FOUND, message }), new Uint8Array(0));
      await replyEp.amSend(AM_FETCH_REPLY, reply, new Uint8Array(0), { timeoutMs: this.timeoutMs }).catch(() => {});
      return;
    }
    const unpin = this.#pin(stored);
    try {
      const reply = encodePull(PullKind.OK, seq, new Uint8Array(0), new Uint8Array(0));
      await replyEp.amSend(AM_FETCH_REPLY, reply, stored.region, { timeoutMs: this.timeoutMs });
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
        // Pushes that arrive from now on are dropped before a block is taken for them.
        this.#native.setAmHandler(AM_PUSH_REQUEST, null, { receive: 'placed', maxBlock: 0 });
      } catch {
        // The addon is being torn down with the thread.
      }
    }
    await this.#control.close({ graceMs: 200 });
    for (const id of [...this.#objects.keys()]) this.evict(id);
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
      get: (ref, ctx) => {
        const stored = this.#mine(ref);
        if (stored === undefined) return null;
        return this.#stream(stored, ctx);
      },
      exists: (ref) => this.#mine(ref) !== undefined,
      evict: (ref) => (this.#mine(ref) === undefined ? false : this.evict(ref.id)),
      stat: (ref): ObjectDescriptorInfo | null => {
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
    },
    region: MemoryRegion,
    replyEp: Endpoint,
  ): Promise<void> {
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
    }
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

/**
 * The thread's PUSH_REQUEST handler (a pooled slot: `info.region` holds the data). A header that is not a
 * push of this version cannot be answered (no sequence number to answer to): its block is released.
 */
function onPushRequest(header: ArrayBuffer, _data: ArrayBuffer, info: AmInfo): void {
  const region = info.region;
  if (region === undefined) return;
  const placed = splitPlacement(header);
  const msg = placed === null ? null : decodePull(placed.message);
  if (placed === null || msg === null || msg.kind !== PullKind.PUSH) {
    releaseRegion(region);
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
    releaseRegion(region);
    const code = target === undefined ? 'UCX_DAEMON' : ControlErrorCode.INVALID_ARGUMENT;
    const reply = encodePull(PullKind.ERROR, msg.seq, jsonBytes({ code, message: problem }), new Uint8Array(0));
    info.endpoint.amSend(AM_PULL_REPLY, reply, new Uint8Array(0), { timeoutMs: DEFAULT_TIMEOUT_MS }).catch(() => {});
    return;
  }
  const token = typeof a?.token === 'string' ? a.token : undefined;
  void target.push(
    {
      seq: msg.seq,
      token,
      id: a?.id as string,
      frameLengths: frames as number[],
      nonce: msg.b.slice(0, NONCE_SIZE),
      offset: placed.offset,
      ...(inPlace === undefined ? {} : { inPlace: inPlace as number, inline: msg.b.subarray(NONCE_SIZE) }),
    },
    region,
    info.endpoint,
  );
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
