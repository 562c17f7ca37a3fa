// Who the other endpoints are. Keys name their owner by endpoint id; this table maps ids to addresses,
// learnt by asking each static peer its identity (lazily, and again after a failure) and from a
// directory endpoint (registered with on start and periodically, asked again for an unknown owner). One
// ControlClient per peer address, with this endpoint's token and TLS.
import { debuglog } from 'node:util';
import {
  ControlClient,
  ControlError,
  ControlErrorCode,
  type ControlClientOptions,
  type PeerInfoData,
} from '@proxystore/control';

const debug = debuglog('proxystore:endpoint');

/** Deadline of a discovery call (identity, register) to a peer or the directory. */
const DISCOVERY_TIMEOUT_MS = 5_000;
/** Directory registration period. */
export const REGISTER_INTERVAL_MS = 10_000;

export interface Self {
  id: string;
  name: string;
  address: string;
}

export interface PeerTableOptions {
  self: Self;
  peers: readonly string[];
  directory?: string;
  client: ControlClientOptions;
}

export class PeerTable {
  readonly #self: Self;
  readonly #clientOptions: ControlClientOptions;
  readonly #byId = new Map<string, PeerInfoData>();
  readonly #clients = new Map<string, ControlClient>();
  /** Static peer addresses. */
  readonly #static: readonly string[];
  /** Those that have not answered yet. */
  readonly #unidentified: Set<string>;
  readonly #directory: string | undefined;
  #discovering: Promise<void> | null = null;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: PeerTableOptions) {
    this.#self = options.self;
    this.#clientOptions = options.client;
    this.#static = options.peers.filter((a) => a !== options.self.address);
    this.#unidentified = new Set(this.#static);
    this.#directory = options.directory;
  }

  /** The peers known, this endpoint first. */
  list(): PeerInfoData[] {
    const self: PeerInfoData = { ...this.#self, lastSeenMs: Date.now(), reachable: true };
    return [self, ...this.#byId.values()];
  }

  /** Records (or refreshes) an endpoint that announced itself. */
  record(peer: PeerInfoData): void {
    if (peer.id === this.#self.id || peer.id === '' || peer.address === '') return;
    const known = this.#byId.get(peer.id);
    if (known !== undefined && known.lastSeenMs > peer.lastSeenMs && known.address === peer.address) return;
    this.#byId.set(peer.id, { ...peer });
  }

  /** The client for a peer address, made once. */
  client(address: string): ControlClient {
    let c = this.#clients.get(address);
    if (c === undefined) {
      c = new ControlClient(address, this.#clientOptions);
      this.#clients.set(address, c);
    }
    return c;
  }

  /** Marks a peer reached or not (for peer lists). */
  seen(id: string, reachable: boolean): void {
    const p = this.#byId.get(id);
    if (p === undefined) return;
    p.reachable = reachable;
    if (reachable) p.lastSeenMs = Date.now();
  }

  /** The address of endpoint `owner`, discovering peers when it is not known; CONTROL_PEER_UNKNOWN else. */
  async lookup(owner: string): Promise<PeerInfoData> {
    const known = this.#byId.get(owner);
    if (known !== undefined) return known;
    await this.discover();
    const found = this.#byId.get(owner);
    if (found !== undefined) return found;
    const where = [
      this.#unidentified.size > 0 ? `${this.#unidentified.size} static peer(s) did not answer` : '',
      this.#directory === undefined ? 'no directory is configured' : `the directory ${this.#directory} does not know it`,
    ].filter((s) => s !== '');
    throw new ControlError(
      ControlErrorCode.PEER_UNKNOWN,
      `endpoint ${this.#self.id} (${this.#self.name}) knows no endpoint ${owner}: it is not among its ` +
        `${this.#byId.size} known peer(s), and ${where.join(', ')}`,
    );
  }

  /**
   * Asks every static peer who it is (one restarted without a storageDir has a new id) and the directory
   * whom it knows; one round at a time, however many lookups wait on it.
   */
  discover(): Promise<void> {
    this.#discovering ??= this.#discoverOnce().finally(() => {
      this.#discovering = null;
    });
    return this.#discovering;
  }

  async #discoverOnce(): Promise<void> {
    if (this.#closed) return;
    const rounds: Promise<void>[] = this.#static.map(async (address) => {
      try {
        const identity = await this.client(address).identity({ timeoutMs: DISCOVERY_TIMEOUT_MS });
        this.#unidentified.delete(address);
        this.record({
          id: identity.id,
          name: identity.name,
          address,
          lastSeenMs: Date.now(),
          reachable: true,
        });
      } catch (err) {
        debug('peer %s did not say who it is: %s', address, (err as Error).message);
      }
    });
    if (this.#directory !== undefined) rounds.push(this.register().then(() => undefined));
    await Promise.all(rounds);
  }

  /** Registers with the directory and records whom it knows; false when it could not be reached. */
  async register(): Promise<boolean> {
    const directory = this.#directory;
    if (directory === undefined || this.#closed) return false;
    try {
      const peers = await this.client(directory).register(
        { ...this.#self, lastSeenMs: Date.now(), reachable: true },
        { timeoutMs: DISCOVERY_TIMEOUT_MS },
      );
      for (const p of peers) this.record(p);
      return true;
    } catch (err) {
      debug('directory %s: registration failed: %s', directory, (err as Error).message);
      return false;
    }
  }

  /** Registers now and every REGISTER_INTERVAL_MS (an unref'd timer: it never holds the process open). */
  async startRegistering(): Promise<void> {
    if (this.#directory === undefined) return;
    await this.register();
    this.#timer = setInterval(() => void this.register(), REGISTER_INTERVAL_MS);
    this.#timer.unref();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
  }
}
