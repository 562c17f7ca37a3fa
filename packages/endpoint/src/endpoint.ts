// The endpoint daemon: a ControlServer whose handlers store objects (ObjectStorage) and forward calls for
// objects owned by other endpoints to their owner, once (a forwarded call is never forwarded again).
// Gets are piped chunk by chunk from the owner's stream, never buffered whole; a peer that is unknown or
// fails is a typed ControlError (PEER_UNKNOWN, PEER_UNAVAILABLE), never a hang.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { debuglog } from 'node:util';
import {
  ControlError,
  ControlErrorCode,
  ControlServer,
  formatAddress,
  type CallContext,
  type ClientTlsOptions,
  type ControlHandlers,
  type IdentityInfo,
  type ObjectRefMessage,
  type ObjectSource,
  type PeerInfoData,
  type ServerTlsOptions,
} from '@proxystore/control';
import type { ObjectDescriptorInfo } from '@proxystore/serialize';
import {
  DEFAULT_MAX_OBJECT_SIZE,
  DEFAULT_MEMORY_LIMIT,
  checkEndpointConfig,
  readConfigFile,
  readToken,
  type EndpointConfig,
} from './config.js';
import { addLocalEndpoint, removeLocalEndpoint, type LocalEndpoint } from './local.js';
import { PeerTable } from './peers.js';
import { ObjectStorage, checkId } from './storage.js';

const debug = debuglog('proxystore:endpoint');
const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
/** Deadline of a forwarded exists, evict or stat. */
const PEER_TIMEOUT_MS = 10_000;

/** A peer's failure as the error the caller gets: the owner is known but could not serve the call. */
function peerError(what: string, owner: PeerInfoData, err: unknown): ControlError {
  if (err instanceof ControlError && err.code === ControlErrorCode.PEER_UNKNOWN) return err;
  const why = err instanceof Error ? err.message : String(err);
  return new ControlError(
    ControlErrorCode.PEER_UNAVAILABLE,
    `${what}: the owner, endpoint ${owner.id} (${owner.name}) at ${owner.address}, failed: ${why}`,
    { cause: err },
  );
}

export class Endpoint implements LocalEndpoint {
  readonly id: string;
  readonly name: string;
  /** The address clients and peers dial (host:port). */
  readonly address: string;
  /** The address the server is bound to (host:port). */
  readonly boundAddress: string;
  readonly config: Readonly<EndpointConfig>;
  readonly startedMs = Date.now();
  readonly #storage: ObjectStorage;
  readonly #server: ControlServer;
  readonly #peers: PeerTable;
  readonly #maxObjectSize: number;
  #closing: Promise<void> | null = null;

  private constructor(init: {
    id: string;
    config: EndpointConfig;
    address: string;
    boundAddress: string;
    storage: ObjectStorage;
    server: ControlServer;
    peers: PeerTable;
    maxObjectSize: number;
  }) {
    this.id = init.id;
    this.name = init.config.name;
    this.config = init.config;
    this.address = init.address;
    this.boundAddress = init.boundAddress;
    this.#storage = init.storage;
    this.#server = init.server;
    this.#peers = init.peers;
    this.#maxObjectSize = init.maxObjectSize;
  }

  /** Checks the config, reads its files, reloads the storage directory, listens and joins its peers. */
  static async start(input: EndpointConfig): Promise<Endpoint> {
    const config = checkEndpointConfig(input);
    const token = readToken(config);
    let serverTls: ServerTlsOptions | undefined;
    let clientTls: ClientTlsOptions | undefined;
    if (config.tls !== undefined) {
      const cert = readConfigFile(config.tls.certFile, 'tls.certFile');
      const key = readConfigFile(config.tls.keyFile, 'tls.keyFile');
      const ca = config.tls.caFile === undefined ? undefined : readConfigFile(config.tls.caFile, 'tls.caFile');
      // Opt-in (the CLI's --require-client-cert): a CA alone only verifies peers.
      const requireClientCert = config.tls.requireClientCert ?? false;
      serverTls = { cert, key, requireClientCert, ...(ca === undefined ? {} : { ca }) };
      clientTls = { ...(ca === undefined ? {} : { ca }), ...(requireClientCert ? { cert, key } : {}) };
    }
    const id =
      config.storageDir === undefined
        ? (config.id ?? randomUUID())
        : ObjectStorage.claimDirectory(config.storageDir, config.id);
    const storage = new ObjectStorage({
      memoryLimit: config.memoryLimit ?? DEFAULT_MEMORY_LIMIT,
      ...(config.storageDir === undefined ? {} : { storageDir: config.storageDir }),
    });
    const maxObjectSize = config.maxObjectSize ?? DEFAULT_MAX_OBJECT_SIZE;
    // The handlers need the endpoint, which needs the bound address: they reach it through this box.
    const box: { endpoint?: Endpoint } = {};
    const ready = (): Endpoint => {
      if (box.endpoint === undefined) throw new ControlError(ControlErrorCode.UNAVAILABLE, 'the endpoint is starting');
      return box.endpoint;
    };
    const server = new ControlServer({
      handlers: handlersOf(ready),
      ...(token === undefined ? {} : { tokens: [token] }),
      ...(serverTls === undefined ? {} : { tls: serverTls }),
      maxObjectSize,
      ...(config.maxConcurrentStreams === undefined ? {} : { maxConcurrentStreams: config.maxConcurrentStreams }),
      ...(config.chunkSize === undefined ? {} : { chunkSize: config.chunkSize }),
    });
    let bound;
    try {
      bound = await server.listen(config.host ?? '127.0.0.1', config.port ?? 0);
    } catch (err) {
      await server.close({ graceMs: 0 });
      throw new ControlError(
        ControlErrorCode.UNAVAILABLE,
        `endpoint '${config.name}' cannot listen on ${formatAddress(config.host ?? '127.0.0.1', config.port ?? 0)}: ` +
          (err as Error).message,
        { cause: err },
      );
    }
    const wildcard = bound.host === '0.0.0.0' || bound.host === '::';
    const address = config.advertiseAddress ?? (wildcard ? formatAddress(hostname(), bound.port) : bound.address);
    const peers = new PeerTable({
      self: { id, name: config.name, address },
      peers: config.peers ?? [],
      ...(config.directory === undefined ? {} : { directory: config.directory }),
      client: {
        ...(token === undefined ? {} : { token }),
        ...(clientTls === undefined ? {} : { tls: clientTls }),
        ...(config.chunkSize === undefined ? {} : { chunkSize: config.chunkSize }),
        timeoutMs: PEER_TIMEOUT_MS,
      },
    });
    const endpoint = new Endpoint({
      id,
      config,
      address,
      boundAddress: bound.address,
      storage,
      server,
      peers,
      maxObjectSize,
    });
    box.endpoint = endpoint;
    addLocalEndpoint(endpoint);
    // A directory that is not up yet is retried every period; static peers are asked when first needed.
    await peers.startRegistering();
    debug('endpoint %s (%s) listening on %s', id, config.name, address);
    return endpoint;
  }

  get addresses(): readonly string[] {
    return this.address === this.boundAddress ? [this.address] : [this.address, this.boundAddress];
  }

  /** Objects held. */
  get objects(): number {
    return this.#storage.objects;
  }

  /** Bytes of objects in memory. */
  get bytesUsed(): number {
    return this.#storage.bytesUsed;
  }

  /** The most calls served at once since start. */
  get peakCalls(): number {
    return this.#server.peakCalls;
  }

  /** Endpoints this one knows (itself first). */
  peers(): PeerInfoData[] {
    return this.#peers.list();
  }

  /** Copies of the frames of an object this endpoint owns, or null: the in-thread read of getLocal. */
  readLocal(id: string): Uint8Array[] | null {
    if (this.#closing !== null) {
      throw new ControlError(ControlErrorCode.UNAVAILABLE, `endpoint ${this.id} (${this.name}) is closed`);
    }
    return this.#storage.readCopy(id);
  }

  identity(): IdentityInfo {
    return {
      id: this.id,
      name: this.name,
      address: this.address,
      version: VERSION,
      startedMs: this.startedMs,
      objects: this.#storage.objects,
      bytesUsed: this.#storage.bytesUsed,
      bytesLimit: this.#storage.memoryLimit,
      maxObjectSize: this.#maxObjectSize,
      chunkSize: this.#server.chunkSize,
      persistent: this.#storage.storageDir !== undefined,
    };
  }

  /** Stops serving (running calls get a short grace period) and leaves the peers. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      removeLocalEndpoint(this);
      this.#peers.close();
      await this.#server.close({ graceMs: 1000 });
      debug('endpoint %s closed', this.id);
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- serving ----

  /** The owner a call is about: this endpoint (null), or a peer to forward to. */
  async #route(ref: ObjectRefMessage, what: string): Promise<PeerInfoData | null> {
    const owner = ref.owner === '' ? this.id : ref.owner;
    if (owner === this.id) {
      checkId(ref.id);
      return null;
    }
    if (ref.forwarded) {
      // The sender thought this endpoint owns the object; forwarding again could loop.
      throw new ControlError(
        ControlErrorCode.PEER_UNKNOWN,
        `${what}: forwarded to endpoint ${this.id} (${this.name}), which is not the owner ${owner}; not forwarded again`,
      );
    }
    return this.#peers.lookup(owner);
  }

  async #forward<T>(
    what: string,
    owner: PeerInfoData,
    call: (client: ReturnType<PeerTable['client']>) => Promise<T>,
  ): Promise<T> {
    try {
      const result = await call(this.#peers.client(owner.address));
      this.#peers.seen(owner.id, true);
      return result;
    } catch (err) {
      this.#peers.seen(owner.id, false);
      throw peerError(what, owner, err);
    }
  }

  async get(ref: ObjectRefMessage, ctx: CallContext): Promise<ObjectSource | null> {
    const what = `get of '${ref.id}'`;
    const owner = await this.#route(ref, what);
    if (owner === null) {
      const frames = this.#storage.read(ref.id);
      return frames === null ? null : { frames };
    }
    const stream = await this.#forward(what, owner, (c) =>
      c.openGet({ id: ref.id, owner: owner.id }, { forwarded: true, signal: ctx.signal }),
    );
    if (stream === null) return null;
    const peers = this.#peers;
    const source = stream;
    const from = owner;
    async function* relay(): AsyncGenerator<Uint8Array> {
      let relayed = 0;
      try {
        for await (const chunk of source.chunks) {
          relayed += chunk.byteLength;
          yield chunk;
        }
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        peers.seen(from.id, false);
        throw peerError(`${what} (after ${relayed} of ${source.size} bytes were relayed)`, from, err);
      }
    }
    return { frameLengths: stream.frameLengths, chunks: relay() };
  }

  async exists(ref: ObjectRefMessage, ctx: CallContext): Promise<boolean> {
    const what = `exists of '${ref.id}'`;
    const owner = await this.#route(ref, what);
    if (owner === null) return this.#storage.has(ref.id);
    return this.#forward(what, owner, (c) =>
      c.exists({ id: ref.id, owner: owner.id }, { forwarded: true, signal: ctx.signal }),
    );
  }

  async evict(ref: ObjectRefMessage, ctx: CallContext): Promise<boolean> {
    const what = `evict of '${ref.id}'`;
    const owner = await this.#route(ref, what);
    if (owner === null) return this.#storage.evict(ref.id);
    return this.#forward(what, owner, (c) =>
      c.evict({ id: ref.id, owner: owner.id }, { forwarded: true, signal: ctx.signal }),
    );
  }

  async stat(ref: ObjectRefMessage, ctx: CallContext): Promise<ObjectDescriptorInfo | null> {
    const what = `stat of '${ref.id}'`;
    const owner = await this.#route(ref, what);
    if (owner === null) {
      const frameLengths = this.#storage.frameLengths(ref.id);
      if (frameLengths === null) return null;
      let size = 0;
      for (const n of frameLengths) size += n;
      return { size, frameLengths, dtype: 'bytes', shape: [], memoryType: 'host', location: this.id };
    }
    return this.#forward(what, owner, (c) =>
      c.stat({ id: ref.id, owner: owner.id }, { forwarded: true, signal: ctx.signal }),
    );
  }

  admitPut(layout: { id: string; size: number }): void {
    if (layout.id !== '') checkId(layout.id);
    this.#storage.admit(layout.size, layout.id === '' ? undefined : layout.id);
  }

  async put(object: { id: string; frames: Uint8Array[]; size: number }): Promise<{ id: string; owner: string; size: number }> {
    const id = object.id === '' ? randomUUID() : checkId(object.id);
    await this.#storage.put(id, object.frames);
    return { id, owner: this.id, size: object.size };
  }

  register(peer: PeerInfoData): PeerInfoData[] {
    this.#peers.record({ ...peer, lastSeenMs: Date.now(), reachable: true });
    return this.#peers.list();
  }
}

/** The ControlHandlers of an endpoint (reached through `ready`, which throws while it starts). */
function handlersOf(ready: () => Endpoint): ControlHandlers {
  return {
    admitPut: (layout) => ready().admitPut(layout),
    put: (object) => ready().put(object),
    get: (ref, ctx) => ready().get(ref, ctx),
    exists: (ref, ctx) => ready().exists(ref, ctx),
    evict: (ref, ctx) => ready().evict(ref, ctx),
    stat: (ref, ctx) => ready().stat(ref, ctx),
    identity: () => ready().identity(),
    health: () => {
      const e = ready();
      return { serving: true, uptimeMs: Date.now() - e.startedMs, objects: e.objects, bytesUsed: e.bytesUsed };
    },
    peers: () => ready().peers(),
    register: (peer) => ready().register(peer),
  };
}
