// The EndpointConnector: a client of one endpoint (its own), which stores objects there and reads any
// object of the deployment through it (the endpoint forwards to the owner). Keys name the owner's
// endpoint id. A reference revived in another process talks to that process's endpoint
// (PROXYSTORE_ENDPOINT), never dialling the owner itself.
import { readFileSync } from 'node:fs';
import {
  ClosedError,
  ConfigError,
  ConnectorError,
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
  type Key,
} from '@proxystore/core';
import { ControlClient, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, type ClientTlsOptions } from '@proxystore/control';
import { checkAddress, readToken } from './config.js';
import { localEndpoint, localEndpointAt } from './local.js';
import { SAFE_ID } from './storage.js';

export interface EndpointKey extends Key {
  readonly kind: 'endpoint';
  /** Id of the endpoint that owns the object. */
  readonly endpoint: string;
}

/** TLS to the endpoint: PEM inline or as file paths (read when the connector is built). */
export interface EndpointTlsOptions {
  /** CA certificate(s) that sign the endpoint's certificate; the system's roots when absent. */
  ca?: string;
  caFile?: string;
  /** A client certificate and key, for endpoints that require one. */
  cert?: string;
  certFile?: string;
  key?: string;
  keyFile?: string;
  /** The name to check the endpoint's certificate against, when it differs from the host dialled. */
  serverName?: string;
}

export interface EndpointConnectorOptions {
  /** The endpoint to talk to (host:port). Replaced by env PROXYSTORE_ENDPOINT in a revived connector. */
  address: string;
  /** Bearer token. It is part of `config()`, so it travels inside every proxy reference: prefer tokenFile. */
  token?: string;
  /** A file holding the token (trimmed), read when the connector is built; only the path travels. */
  tokenFile?: string;
  /** TLS to the endpoint; `true` trusts the system's roots. Default plaintext. */
  tls?: EndpointTlsOptions | true;
  /** Bytes per put chunk. Default the control plane's (1 MiB). */
  chunkSize?: number;
  /** Deadline of calls that move no object data (exists, evict, identity), in ms. Default 30000. */
  timeoutMs?: number;
}

/** Environment variables a revived EndpointConnector reads. */
export const ENV_ENDPOINT = 'PROXYSTORE_ENDPOINT';
export const ENV_TOKEN = 'PROXYSTORE_ENDPOINT_TOKEN';
export const ENV_TOKEN_FILE = 'PROXYSTORE_ENDPOINT_TOKEN_FILE';

/** Error codes of the connector itself (control-plane failures keep their CONTROL_* codes). */
export const EndpointErrorCode = {
  /** `set` of a key owned by another endpoint: objects are stored only at the connector's own endpoint. */
  NOT_OWNER: 'ENDPOINT_NOT_OWNER',
  /**
   * A synchronous read, in a thread that hosts the connector's endpoint, of a key another endpoint owns:
   * the sync bridge would have to call this blocked thread. Use `await resolveAsync(p)` there.
   */
  SYNC_SELF: 'ENDPOINT_SYNC_SELF',
} as const;

const OPTION_FIELDS = ['address', 'token', 'tokenFile', 'tls', 'chunkSize', 'timeoutMs'] as const;
const TLS_FIELDS = ['ca', 'caFile', 'cert', 'certFile', 'key', 'keyFile', 'serverName'] as const;

function fail(message: string): never {
  throw new ConfigError(`EndpointConnector: ${message}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkOptions(input: unknown): EndpointConnectorOptions {
  if (!isRecord(input)) fail('options must be an object with an address');
  for (const k of Object.keys(input)) {
    if (!(OPTION_FIELDS as readonly string[]).includes(k)) fail(`unknown option '${k}'`);
  }
  let address: string;
  try {
    address = checkAddress(input.address, 'address');
  } catch (err) {
    fail((err as Error).message.replace(/^Endpoint config: /, ''));
  }
  const out: EndpointConnectorOptions = { address };
  if (input.token !== undefined && input.tokenFile !== undefined) fail(`give 'token' or 'tokenFile', not both`);
  if (input.token !== undefined) {
    if (typeof input.token !== 'string' || !/^[\x21-\x7e]{1,4096}$/.test(input.token)) {
      fail(`'token' must be 1 to 4096 printable ASCII characters without spaces`);
    }
    out.token = input.token;
  }
  if (input.tokenFile !== undefined) {
    if (typeof input.tokenFile !== 'string' || input.tokenFile === '') fail(`'tokenFile' must be a path`);
    out.tokenFile = input.tokenFile;
  }
  if (input.tls !== undefined) {
    if (input.tls === true) out.tls = true;
    else {
      const tls = input.tls;
      if (!isRecord(tls)) fail(`'tls' must be true or an object`);
      const t: EndpointTlsOptions = {};
      for (const k of Object.keys(tls)) {
        if (!(TLS_FIELDS as readonly string[]).includes(k)) fail(`unknown TLS option '${k}'`);
        const v = tls[k];
        if (typeof v !== 'string' || v === '') fail(`'tls.${k}' must be a non-empty string`);
        t[k as (typeof TLS_FIELDS)[number]] = v;
      }
      for (const [inline, file] of [['ca', 'caFile'], ['cert', 'certFile'], ['key', 'keyFile']] as const) {
        if (t[inline] !== undefined && t[file] !== undefined) fail(`give 'tls.${inline}' or 'tls.${file}', not both`);
      }
      out.tls = t;
    }
  }
  for (const [name, min, max] of [
    ['chunkSize', MIN_CHUNK_SIZE, MAX_CHUNK_SIZE],
    ['timeoutMs', 1, 2 ** 31 - 1],
  ] as const) {
    const v = input[name];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      fail(`'${name}' must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    }
    out[name] = v;
  }
  return out;
}

function readPem(path: string, field: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`EndpointConnector: cannot read '${field}' ${path}: ${(err as Error).message}`, { cause: err });
  }
}

function clientTls(tls: EndpointTlsOptions | true | undefined): ClientTlsOptions | boolean {
  if (tls === undefined) return false;
  if (tls === true) return true;
  const out: ClientTlsOptions = {};
  const ca = tls.ca ?? (tls.caFile === undefined ? undefined : readPem(tls.caFile, 'tls.caFile'));
  const cert = tls.cert ?? (tls.certFile === undefined ? undefined : readPem(tls.certFile, 'tls.certFile'));
  const key = tls.key ?? (tls.keyFile === undefined ? undefined : readPem(tls.keyFile, 'tls.keyFile'));
  if (ca !== undefined) out.ca = ca;
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
  if (tls.serverName !== undefined) out.serverName = tls.serverName;
  return out;
}

export class EndpointConnector implements Connector<EndpointKey> {
  static readonly kind = 'endpoint';
  readonly kind = EndpointConnector.kind;
  /** The endpoint this connector talks to. */
  readonly address: string;
  readonly #options: EndpointConnectorOptions;
  readonly #client: ControlClient;
  /** Ids this connector stored and has not evicted: what `close({ clear })` removes. */
  readonly #owned = new Map<string, EndpointKey>();
  #endpointId: Promise<string> | undefined;
  #closed = false;

  constructor(options: EndpointConnectorOptions) {
    this.#options = checkOptions(options);
    this.address = this.#options.address;
    const token = readToken(this.#options, 'EndpointConnector');
    this.#client = new ControlClient(this.address, {
      ...(token === undefined ? {} : { token }),
      tls: clientTls(this.#options.tls),
      ...(this.#options.chunkSize === undefined ? {} : { chunkSize: this.#options.chunkSize }),
      ...(this.#options.timeoutMs === undefined ? {} : { timeoutMs: this.#options.timeoutMs }),
    });
  }

  /**
   * Builds a connector from `config().options`, in the process that revives a reference: env
   * PROXYSTORE_ENDPOINT (an address) replaces the address, so a consumer talks to its own endpoint, and
   * PROXYSTORE_ENDPOINT_TOKEN or PROXYSTORE_ENDPOINT_TOKEN_FILE, when set, replaces the config's token.
   */
  static fromConfig(options: { [k: string]: JsonValue }): EndpointConnector {
    const out = { ...options } as Record<string, unknown>;
    const env = process.env;
    if (env[ENV_ENDPOINT] !== undefined && env[ENV_ENDPOINT] !== '') out.address = env[ENV_ENDPOINT];
    // This process's own credentials win over the producer's: a token file path from another site may not
    // exist here. The environment names one credential; the config's token and tokenFile give way to it.
    if (env[ENV_TOKEN] !== undefined && env[ENV_TOKEN] !== '') {
      out.token = env[ENV_TOKEN];
      delete out.tokenFile;
    } else if (env[ENV_TOKEN_FILE] !== undefined && env[ENV_TOKEN_FILE] !== '') {
      out.tokenFile = env[ENV_TOKEN_FILE];
      delete out.token;
    }
    return new EndpointConnector(out as unknown as EndpointConnectorOptions);
  }

  /** The control-plane client (identity, health, peers, stat). */
  get client(): ControlClient {
    return this.#client;
  }

  #open(options?: IoOptions): void {
    if (this.#closed) throw new ClosedError(`EndpointConnector (${this.address})`);
    options?.signal?.throwIfAborted();
  }

  #check(key: unknown): EndpointKey {
    assertKey(key, EndpointConnector.kind);
    if (!SAFE_ID.test(key.id)) {
      throw new InvalidKeyError(`Endpoint key id ${JSON.stringify(key.id)} is not letters, digits, '_' and '-'`);
    }
    if (typeof key.endpoint !== 'string' || key.endpoint === '') {
      throw new InvalidKeyError(`An endpoint key needs a non-empty string 'endpoint' (the owner's id)`);
    }
    return key as EndpointKey;
  }

  #ref(key: EndpointKey): { id: string; owner: string } {
    return { id: key.id, owner: key.endpoint };
  }

  /** The id of this connector's endpoint (asked once). */
  endpointId(options?: IoOptions): Promise<string> {
    this.#endpointId ??= this.#client.identity(options?.signal ? { signal: options.signal } : {}).then(
      (i) => i.id,
      (err: unknown) => {
        this.#endpointId = undefined;
        throw err;
      },
    );
    return this.#endpointId;
  }

  async put(frames: Frames, options?: IoOptions): Promise<EndpointKey> {
    this.#open(options);
    assertFrames(frames);
    const result = await this.#client.put(frames, {
      id: newId(),
      ...(options?.signal === undefined ? {} : { signal: options.signal }),
    });
    const key: EndpointKey = { kind: 'endpoint', id: result.id, endpoint: result.owner };
    this.#owned.set(key.id, key);
    return key;
  }

  async get(key: EndpointKey, options?: IoOptions): Promise<Uint8Array[] | null> {
    this.#open(options);
    const k = this.#check(key);
    return this.#client.get(this.#ref(k), options?.signal === undefined ? {} : { signal: options.signal });
  }

  /**
   * Answers a synchronous read without the sync bridge when an endpoint in this thread owns the key
   * (`undefined` otherwise, and the bridge reads it). When this thread hosts the connector's own endpoint
   * but another endpoint owns the key, the bridge's worker would need this blocked thread to forward the
   * call: that is ENDPOINT_SYNC_SELF at once rather than a timeout.
   */
  getLocal(key: EndpointKey): Uint8Array[] | null | undefined {
    this.#open();
    const k = this.#check(key);
    const owner = localEndpoint(k.endpoint);
    if (owner !== undefined) return owner.readLocal(k.id);
    if (localEndpointAt(this.address) !== undefined) {
      throw new ConnectorError(
        `A synchronous read of ${k.id} (owned by endpoint ${k.endpoint}) in the thread that runs endpoint ` +
          `${this.address} cannot go through the sync bridge; resolve it with \`await resolveAsync(p)\``,
        { code: EndpointErrorCode.SYNC_SELF },
      );
    }
    return undefined;
  }

  async exists(key: EndpointKey, options?: IoOptions): Promise<boolean> {
    this.#open(options);
    const k = this.#check(key);
    return this.#client.exists(this.#ref(k), options?.signal === undefined ? {} : { signal: options.signal });
  }

  async evict(key: EndpointKey, options?: IoOptions): Promise<void> {
    this.#open(options);
    const k = this.#check(key);
    await this.#client.evict(this.#ref(k), options?.signal === undefined ? {} : { signal: options.signal });
    this.#owned.delete(k.id);
  }

  /** Every put at once; all or nothing: on a failure the ones that succeeded are evicted. */
  async putBatch(items: readonly Frames[], options?: IoOptions): Promise<EndpointKey[]> {
    this.#open(options);
    items.forEach((frames) => assertFrames(frames));
    const results = await Promise.allSettled(items.map((frames) => this.put(frames, options)));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed === undefined) return results.map((r) => (r as PromiseFulfilledResult<EndpointKey>).value);
    await Promise.allSettled(
      results.map((r) => (r.status === 'fulfilled' ? this.evict(r.value) : Promise.resolve())),
    );
    throw (failed as PromiseRejectedResult).reason;
  }

  async getBatch(keys: readonly EndpointKey[], options?: IoOptions): Promise<(Uint8Array[] | null)[]> {
    this.#open(options);
    const checked = keys.map((k) => this.#check(k));
    return Promise.all(checked.map((k) => this.get(k, options)));
  }

  /** A key at this connector's endpoint with no object yet; `set` fills it. */
  async newKey(options?: IoOptions): Promise<EndpointKey> {
    this.#open(options);
    const endpoint = await this.endpointId(options);
    return { kind: 'endpoint', id: newId(), endpoint };
  }

  /** Stores frames under a key from `newKey` (replacing what it held). */
  async set(key: EndpointKey, frames: Frames, options?: IoOptions): Promise<void> {
    this.#open(options);
    const k = this.#check(key);
    assertFrames(frames);
    const own = await this.endpointId(options);
    if (k.endpoint !== own) {
      throw new ConnectorError(
        `set of ${k.id}: the key belongs to endpoint ${k.endpoint}, and this connector stores only at its own ` +
          `endpoint ${own} (${this.address})`,
        { code: EndpointErrorCode.NOT_OWNER },
      );
    }
    await this.#client.put(frames, {
      id: k.id,
      ...(options?.signal === undefined ? {} : { signal: options.signal }),
    });
    this.#owned.set(k.id, k);
  }

  config(): ConnectorConfig {
    const options: { [k: string]: JsonValue } = {};
    for (const k of OPTION_FIELDS) {
      const v = this.#options[k];
      if (v !== undefined) options[k] = (typeof v === 'object' ? { ...v } : v) as JsonValue;
    }
    return { kind: EndpointConnector.kind, package: '@proxystore/endpoint', options };
  }

  /** Closes the channel; `clear` first evicts every object this connector put and has not evicted. */
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
    this.#client.close();
    if (failure !== undefined) throw failure.reason;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
