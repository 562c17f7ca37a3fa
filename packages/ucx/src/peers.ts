// The UCX endpoints of this thread, one per peer worker address (and error mode), with the remote keys
// unpacked on each. Connectors (reading objects) and servers (pulling a producer's staged object) share
// them: each RMA get of a known block costs no connect and no rkey unpack. Module state is per thread, as
// the addon's workers are.
//
// Cached endpoints are unref'd, so they never keep a process alive on their own (an operation in flight
// does). They are not closed for being idle: in UCX 1.13 over tcp, closing our endpoint to a peer while
// that peer's endpoint to us is in use loses the peer's later messages to us (a daemon that closed its
// idle pull endpoint to a producer stopped receiving that producer's put requests while the producer was
// reading from it). Beyond MAX_PEERS, the least recently used idle ones are closed; every endpoint is
// closed when the last connector or server of the thread lets go (release()).
import { UcxError, UcxErrorCode, toUcxError } from './errors.js';
import { ucx } from './native-loader.js';
import type { Endpoint, ErrorMode, NativeError, RemoteKey } from './native.js';

/** Peers (endpoints) kept per thread; beyond, the least recently used idle ones are closed. */
export const MAX_PEERS = 256;
/** Unpacked rkeys kept per endpoint; the least recently used beyond this are destroyed once idle. */
export const RKEY_CACHE_SIZE = 256;

interface CachedRkey {
  readonly rkey: RemoteKey;
  uses: number;
  evicted: boolean;
}

/** One peer worker: its endpoint (made on first use) and the rkeys unpacked on it. */
export class Peer {
  readonly id: string;
  readonly address: Uint8Array;
  readonly errorMode: ErrorMode;
  #ep: Endpoint | null = null;
  #connecting: Promise<Endpoint> | null = null;
  readonly #rkeys = new Map<string, CachedRkey>();
  #inflight = 0;
  #dropped = false;
  readonly #failureListeners = new Set<(err: NativeError) => void>();

  constructor(id: string, address: Uint8Array, errorMode: ErrorMode) {
    this.id = id;
    this.address = address;
    this.errorMode = errorMode;
  }

  get inflight(): number {
    return this.#inflight;
  }

  #usable(ep: Endpoint | null): ep is Endpoint {
    return ep !== null && (ep.state === 'open' || ep.state === 'connecting');
  }

  /** The endpoint, connecting (and waiting for wireup) when there is none. */
  async endpoint(timeoutMs: number): Promise<Endpoint> {
    if (this.#usable(this.#ep)) return this.#ep;
    this.#resetEndpoint();
    this.#connecting ??= ucx()
      .connectAddress(this.address, { errorMode: this.errorMode, timeoutMs })
      .then(
        (ep) => {
          this.#connecting = null;
          if (this.#dropped || this.#usable(this.#ep)) {
            // A sync caller made one meanwhile, or the peer was dropped: this one is surplus.
            void ep.close({ force: true });
            if (this.#dropped) throw new UcxError(UcxErrorCode.CLOSED, `connection to ${this.id} was closed`);
            return this.#ep as Endpoint;
          }
          this.#ep = this.#watch(ep.unref());
          return ep;
        },
        (err: unknown) => {
          this.#connecting = null;
          throw err;
        },
      );
    return this.#connecting;
  }

  /** The endpoint without waiting: `connectAddressSync` (operations on it wait for wireup in UCX). */
  endpointSync(timeoutMs: number): Endpoint {
    if (this.#usable(this.#ep)) return this.#ep;
    this.#resetEndpoint();
    const native = ucx();
    if (typeof native.connectAddressSync !== 'function') {
      throw new UcxError(UcxErrorCode.ERROR, 'this build of the UCX addon has no connectAddressSync (rebuild native/ucx)');
    }
    const ep = this.#watch(native.connectAddressSync(this.address, { errorMode: this.errorMode, timeoutMs }).unref());
    this.#ep = ep;
    return ep;
  }

  /** Tells the failure listeners when `ep` fails (UCX reports it once; the addon then closes it). */
  #watch(ep: Endpoint): Endpoint {
    ep.onError((err) => {
      // An endpoint already replaced (its failure seen in its state first) concerns no one now.
      if (this.#ep !== ep) return;
      for (const listener of [...this.#failureListeners]) listener(err);
    });
    return ep;
  }

  /**
   * Calls `listener` when the endpoint in use fails (a dead peer, in errorMode 'none' too where the
   * transport notices, as tcp does); returns the function that stops listening. For operations that
   * wait on the peer beyond a UCX request, such as a put's answer.
   */
  onFailure(listener: (err: NativeError) => void): () => void {
    this.#failureListeners.add(listener);
    return () => this.#failureListeners.delete(listener);
  }

  /** Forgets a failed or closed endpoint (its rkeys died with it). */
  #resetEndpoint(): void {
    if (this.#ep === null) return;
    const old = this.#ep;
    this.#ep = null;
    this.#rkeys.clear();
    void old.close({ force: true });
  }

  /** The rkey unpacked on `ep`, cached; pair every call with `unuse`. */
  rkey(ep: Endpoint, packed: Uint8Array): CachedRkey {
    const k = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength).toString('latin1');
    let entry = this.#rkeys.get(k);
    if (entry !== undefined) {
      // Most recently used last.
      this.#rkeys.delete(k);
      this.#rkeys.set(k, entry);
    } else {
      entry = { rkey: ep.unpackRkey(packed), uses: 0, evicted: false };
      this.#rkeys.set(k, entry);
      this.#trimRkeys();
    }
    entry.uses++;
    return entry;
  }

  unuse(entry: CachedRkey): void {
    entry.uses--;
    if (entry.evicted && entry.uses === 0) entry.rkey.destroy();
  }

  #trimRkeys(): void {
    for (const [k, entry] of this.#rkeys) {
      if (this.#rkeys.size <= RKEY_CACHE_SIZE) break;
      this.#rkeys.delete(k);
      entry.evicted = true;
      if (entry.uses === 0) entry.rkey.destroy();
    }
  }

  /** Brackets one operation: idle endpoints are closed only between operations. */
  begin(): void {
    this.#inflight++;
  }

  end(): void {
    this.#inflight--;
  }

  get rkeyCount(): number {
    return this.#rkeys.size;
  }

  /** After a failure that may have broken the connection: the next operation reconnects. */
  failed(err: unknown): void {
    const code = (err as { code?: string } | null)?.code;
    if (code === 'UCX_PEER_GONE' || code === 'UCX_TIMEOUT' || code === 'UCX_CLOSED' || code === 'UCX_UNREACHABLE') {
      this.#resetEndpoint();
    }
  }

  /** Closes the endpoint (gracefully when nothing is in flight). */
  close(): void {
    this.#dropped = true;
    const ep = this.#ep;
    this.#ep = null;
    this.#rkeys.clear();
    if (ep !== null) void ep.close(this.#inflight > 0 ? { force: true } : {});
  }
}

const peers = new Map<string, Peer>(); // least recently used first
let users = 0;

/** Closes the least recently used idle peers beyond MAX_PEERS. */
function trimPeers(): void {
  for (const [k, peer] of peers) {
    if (peers.size <= MAX_PEERS) break;
    if (peer.inflight > 0) continue;
    peers.delete(k);
    peer.close();
  }
}

/** The peer for a worker address in this thread (made on first use). `id` names it in errors. */
export function peerFor(id: string, address: Uint8Array, errorMode: ErrorMode): Peer {
  const k = `${errorMode}:${Buffer.from(address.buffer, address.byteOffset, address.byteLength).toString('base64')}`;
  let peer = peers.get(k);
  if (peer === undefined) {
    peer = new Peer(id, address.slice(), errorMode);
    peers.set(k, peer);
    trimPeers();
  } else {
    peers.delete(k);
    peers.set(k, peer);
  }
  return peer;
}

/** A connector or server of this thread starts using the peer cache. */
export function retainPeers(): void {
  users++;
}

/** ... and stops: with no user left, every endpoint is closed (so the thread's event loop may end). */
export function releasePeers(): void {
  users = Math.max(0, users - 1);
  if (users > 0) return;
  for (const peer of peers.values()) peer.close();
  peers.clear();
}

/** Runs one RMA operation on a peer: in-flight accounting, the cached rkey, typed errors. */
export async function withPeer<T>(
  peer: Peer,
  what: string,
  timeoutMs: number,
  rkeyBytes: Uint8Array,
  op: (ep: Endpoint, rkey: RemoteKey) => Promise<T>,
): Promise<T> {
  peer.begin();
  try {
    let ep: Endpoint;
    try {
      ep = await peer.endpoint(timeoutMs);
    } catch (err) {
      throw toUcxError(`${what}: connecting`, err);
    }
    const entry = peer.rkey(ep, rkeyBytes);
    try {
      return await op(ep, entry.rkey);
    } finally {
      peer.unuse(entry);
    }
  } catch (err) {
    peer.failed(err);
    throw toUcxError(what, err);
  } finally {
    peer.end();
  }
}

/** `withPeer` without yielding (for getSync). */
export function withPeerSync<T>(
  peer: Peer,
  what: string,
  timeoutMs: number,
  rkeyBytes: Uint8Array,
  op: (ep: Endpoint, rkey: RemoteKey) => T,
): T {
  peer.begin();
  try {
    const ep = peer.endpointSync(timeoutMs);
    const entry = peer.rkey(ep, rkeyBytes);
    try {
      return op(ep, entry.rkey);
    } finally {
      peer.unuse(entry);
    }
  } catch (err) {
    peer.failed(err);
    throw toUcxError(what, err);
  } finally {
    peer.end();
  }
}

/** For tests and diagnostics: endpoints and rkeys this thread holds. */
export function peerStats(): { peers: number; rkeys: number } {
  let rkeys = 0;
  for (const p of peers.values()) rkeys += p.rkeyCount;
  return { peers: peers.size, rkeys };
}
