// The Redis connector: each object is one Redis LIST whose elements, read in order and concatenated, are
// the packed frames encoding of @proxystore/serialize (the bytes a FileConnector file holds). Frames go to
// ioredis as separate elements, never joined by us; a frame larger than Redis' element limit spans several
// elements, so there is no object size limit short of memory. Works against one server or a Redis Cluster:
// every Redis key of an object carries the hash tag `{id}`, so they share a slot.
import { constants as bufferConstants } from 'node:buffer';
import type { Socket } from 'node:net';
import { debuglog } from 'node:util';
import {
  ClosedError,
  ConnectorError,
  InvalidKeyError,
  assertFrames,
  assertKey,
  newId,
  type CloseOptions,
  type Connector,
  type ConnectorConfig,
  type Frames,
  type IoOptions,
  type JsonValue,
  type Key,
} from '@proxystore/core';
import { SerializationError, packFrames, unpackFrames } from '@proxystore/serialize';
import { Cluster, Redis } from 'ioredis';
import { RedisErrorCode, redisError } from './errors.js';
import {
  type RedisConnectorOptions,
  clusterOptions,
  ioredisOptions,
  normalizeOptions,
  optionsToJson,
} from './options.js';

const debug = debuglog('proxystore');

export interface RedisKey extends Key {
  readonly kind: 'redis';
}

/** Ids go inside a hash tag and a key name: no braces, no separators, no whitespace. */
const SAFE_ID = /^[A-Za-z0-9_-]{1,200}$/;
/**
 * ioredis encodes each command into one Buffer: an object whose elements add up to more than this is
 * written with several RPUSH commands to a temp key, then renamed into place.
 */
const MAX_COMMAND_BYTES = 1024 * 1024 * 1024;
/** Keys deleted per round of `close({ clear })`: enough to pipeline, few enough to bound memory. */
const CLEAR_BATCH = 4096;

type Client = Redis | Cluster;

/** A call waiting on Redis, as the watchdog sees it. */
interface WaitingCall {
  readonly what: string;
  readonly started: number;
  fail(err: unknown): void;
}

/** The frames as list elements: the packed encoding's parts, split at `max` bytes, as Buffer views. */
function toElements(frames: Frames, max: number): Buffer[] {
  assertFrames(frames);
  const out: Buffer[] = [];
  for (const part of packFrames(frames)) {
    // ioredis writes Buffers as bytes but stringifies any other argument, Uint8Array included.
    for (let offset = 0; offset < part.byteLength; offset += max) {
      const length = Math.min(max, part.byteLength - offset);
      out.push(Buffer.from(part.buffer, part.byteOffset + offset, length));
    }
  }
  return out;
}

/** Elements grouped into RPUSH commands of at most MAX_COMMAND_BYTES each (at least one element each). */
function toCommands(elements: Buffer[]): Buffer[][] {
  const commands: Buffer[][] = [];
  let current: Buffer[] = [];
  let bytes = 0;
  for (const element of elements) {
    if (current.length > 0 && bytes + element.byteLength > MAX_COMMAND_BYTES) {
      commands.push(current);
      current = [];
      bytes = 0;
    }
    current.push(element);
    bytes += element.byteLength;
  }
  if (current.length > 0) commands.push(current);
  return commands;
}

function socketProgress(stream: unknown): number {
  const socket = stream as (Socket & { _handle?: { writeQueueSize?: unknown } | null }) | undefined;
  if (socket === undefined || socket === null || typeof socket.bytesRead !== 'number') return 0;
  // bytesWritten counts bytes handed to the socket, not sent: what libuv and the stream still hold is
  // subtracted, so a large write that drains slowly still shows progress.
  const queued = socket._handle?.writeQueueSize;
  return (
    socket.bytesRead + socket.bytesWritten - socket.writableLength - (typeof queued === 'number' ? queued : 0)
  );
}

export class RedisConnector implements Connector<RedisKey> {
  static readonly kind = 'redis';
  readonly kind = RedisConnector.kind;
  /** Prefix of every Redis key this connector writes. */
  readonly namespace: string;
  readonly timeoutMs: number;
  readonly maxElementBytes: number;
  readonly #options: RedisConnectorOptions;
  readonly #client: Client;
  /** Ids this connector stored and has not evicted: what `close({ clear })` removes. */
  readonly #owned = new Set<string>();
  readonly #tickMs: number;
  readonly #waiting = new Set<WaitingCall>();
  #watchdog: NodeJS.Timeout | undefined;
  #lastProgress: number | undefined;
  #idleSince = 0;
  #closed = false;
  #lastError: unknown;

  constructor(options: RedisConnectorOptions = {}) {
    const normalized = normalizeOptions(options);
    this.#options = normalized;
    this.namespace = normalized.namespace;
    this.timeoutMs = normalized.timeoutMs;
    this.maxElementBytes = normalized.maxElementBytes;
    this.#tickMs = Math.min(1000, Math.max(5, Math.floor(this.timeoutMs / 4)));
    if (normalized.cluster !== undefined) {
      const cluster = new Cluster(normalized.cluster.nodes, clusterOptions(normalized));
      cluster.on('node error', (err: unknown, address: unknown) => this.#onError(err, String(address)));
      this.#client = cluster;
    } else if (normalized.url !== undefined) {
      this.#client = new Redis(normalized.url, ioredisOptions(normalized));
    } else {
      this.#client = new Redis(ioredisOptions(normalized));
    }
    // Without a listener ioredis prints every connection error; they reach callers as typed errors instead.
    this.#client.on('error', (err: unknown) => this.#onError(err));
  }

  /** Builds a connector from `config().options` (JSON); bad options are a ConfigError. */
  static fromConfig(options: { [k: string]: JsonValue }): RedisConnector {
    return new RedisConnector(options as RedisConnectorOptions);
  }

  /** The ioredis client (a `Redis` or a `Cluster`), for what this connector does not cover. */
  get client(): Client {
    return this.#client;
  }

  #onError(err: unknown, where?: string): void {
    this.#lastError = err;
    debug('redis connector %s: %s', where ?? 'connection', err instanceof Error ? err.message : String(err));
  }

  #open(options?: IoOptions): void {
    if (this.#closed) throw new ClosedError(`RedisConnector (namespace '${this.namespace}')`);
    options?.signal?.throwIfAborted();
  }

  #idOf(key: unknown): string {
    assertKey(key, RedisConnector.kind);
    if (!SAFE_ID.test(key.id)) {
      throw new InvalidKeyError(
        `Redis key id ${JSON.stringify(key.id)} is not safe in a key name (letters, digits, '_' and '-' only)`,
      );
    }
    return key.id;
  }

  /** The Redis key of an object: `<namespace>:{<id>}`, the braces a hash tag for Redis Cluster. */
  #name(id: string): string {
    return `${this.namespace}:{${id}}`;
  }

  /** Where a replacing or very large write assembles the list before RENAME; same hash tag, same slot. */
  #tempName(id: string): string {
    return `${this.namespace}:{${id}}:tmp`;
  }

  #progress(): number {
    if (this.#client instanceof Cluster) {
      let total = 0;
      for (const node of this.#client.nodes('all')) total += socketProgress(node.stream);
      return total;
    }
    return socketProgress(this.#client.stream);
  }

  #stalled(what: string): ConnectorError {
    const status = this.#client.status;
    if (status !== 'ready') {
      return new ConnectorError(
        `Redis is unavailable for ${what}: not connected (${status}) for ${this.timeoutMs} ms`,
        { code: RedisErrorCode.UNAVAILABLE, cause: this.#lastError },
      );
    }
    return new ConnectorError(`Redis did not answer ${what}: no bytes moved for ${this.timeoutMs} ms`, {
      code: RedisErrorCode.TIMEOUT,
      cause: this.#lastError,
    });
  }

  /**
   * One watchdog per connector, for every call in flight: calls share the connection(s), so "no bytes
   * moved" is a property of the connector. A call fails once nothing has moved for `timeoutMs` since it
   * started or since the last progress, whichever is later. The timer is unref'd and only started by
   * the first call, so an idle connector costs nothing and never holds the process open.
   */
  #tick(): void {
    if (this.#waiting.size === 0) {
      this.#lastProgress = undefined;
      return;
    }
    const now = performance.now();
    const progress = this.#progress();
    if (progress !== this.#lastProgress) {
      this.#lastProgress = progress;
      this.#idleSince = now;
      return;
    }
    for (const call of [...this.#waiting]) {
      if (now - Math.max(this.#idleSince, call.started) >= this.timeoutMs) call.fail(this.#stalled(call.what));
    }
  }

  /**
   * Runs `send` (which issues the commands) under the abort signal and the progress watchdog. On any
   * failure `abandon` runs, to undo what the abandoned commands may still do on the server.
   */
  #io<T>(what: string, signal: AbortSignal | undefined, send: () => Promise<T>, abandon?: () => void): Promise<T> {
    if (this.#watchdog === undefined) {
      this.#watchdog = setInterval(() => this.#tick(), this.#tickMs);
      this.#watchdog.unref();
    }
    return new Promise<T>((resolve, reject) => {
      const call: WaitingCall = {
        what,
        started: performance.now(),
        fail: (err) =>
          finish(() => {
            abandon?.();
            reject(err);
          }),
      };
      let done = false;
      const finish = (settle: () => void): void => {
        if (done) return;
        done = true;
        this.#waiting.delete(call);
        signal?.removeEventListener('abort', onAbort);
        settle();
      };
      const onAbort = (): void => call.fail(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.add(call);
      let pending: Promise<T>;
      try {
        pending = send();
      } catch (err) {
        call.fail(redisError(what, err));
        return;
      }
      pending.then(
        (value) => finish(() => resolve(value)),
        (err: unknown) => call.fail(redisError(what, err)),
      );
    });
  }

  /** Best-effort removal after a failed write; queued behind the write's own commands on the connection. */
  #discard(names: string[]): void {
    this.#client.del(...names).catch((err: unknown) => this.#onError(err, 'cleanup'));
  }

  /**
   * Issues the commands that store `elements` under `id`. A put of a fresh id is one RPUSH: Redis runs
   * each command atomically, so no reader sees part of the list. A replacing write (set) or one too large
   * for one command builds the list under a temp key and RENAMEs it over the final one, also atomic.
   */
  #write(id: string, elements: Buffer[], replace: boolean): Promise<unknown> {
    const name = this.#name(id);
    const commands = toCommands(elements);
    this.#owned.add(id);
    if (!replace && commands.length === 1) return this.#client.rpush(name, ...(commands[0] as Buffer[]));
    const temp = this.#tempName(id);
    // Issued together, in order, on the one connection that serves this slot.
    return Promise.all([
      this.#client.del(temp),
      ...commands.map((command) => this.#client.rpush(temp, ...command)),
      this.#client.rename(temp, name),
    ]);
  }

  #decode(id: string, elements: Buffer[]): Uint8Array[] | null {
    // LRANGE of a missing key is an empty list; a stored object always has its frame table.
    if (elements.length === 0) return null;
    let total = 0;
    for (const element of elements) total += element.byteLength;
    if (total > bufferConstants.MAX_LENGTH) {
      throw new ConnectorError(`Redis object ${id} is ${total} bytes, more than one buffer can hold here`, {
        code: RedisErrorCode.OBJECT_TOO_LARGE,
      });
    }
    // One copy into memory this call alone owns: ioredis' parser hands out views of buffers it shares
    // between replies. Unpooled and offset 0, so every frame stays 64-byte aligned.
    const joined = new Uint8Array(Buffer.allocUnsafeSlow(total).buffer, 0, total);
    let offset = 0;
    for (const element of elements) {
      joined.set(element, offset);
      offset += element.byteLength;
    }
    try {
      return unpackFrames(joined);
    } catch (err) {
      if (err instanceof SerializationError) {
        throw new ConnectorError(`Redis object ${id} is corrupt: ${err.message}`, {
          code: RedisErrorCode.CORRUPT_OBJECT,
          cause: err,
        });
      }
      throw err;
    }
  }

  async put(frames: Frames, options?: IoOptions): Promise<RedisKey> {
    this.#open(options);
    const elements = toElements(frames, this.maxElementBytes);
    const key: RedisKey = { kind: 'redis', id: newId() };
    await this.#io(`put of ${key.id}`, options?.signal, () => this.#write(key.id, elements, false), () =>
      this.#discard([this.#name(key.id), this.#tempName(key.id)]),
    );
    return key;
  }

  async get(key: RedisKey, options?: IoOptions): Promise<Uint8Array[] | null> {
    this.#open(options);
    const id = this.#idOf(key);
    const elements = await this.#io(`get of ${id}`, options?.signal, () =>
      this.#client.lrangeBuffer(this.#name(id), 0, -1),
    );
    return this.#decode(id, elements);
  }

  async exists(key: RedisKey, options?: IoOptions): Promise<boolean> {
    this.#open(options);
    const id = this.#idOf(key);
    const count = await this.#io(`exists of ${id}`, options?.signal, () => this.#client.exists(this.#name(id)));
    return count > 0;
  }

  async evict(key: RedisKey, options?: IoOptions): Promise<void> {
    this.#open(options);
    const id = this.#idOf(key);
    await this.#io(`evict of ${id}`, options?.signal, () => this.#client.del(this.#name(id)));
    this.#owned.delete(id);
  }

  /** Every put is sent at once (pipelined on the wire); all or nothing, like the file connector. */
  async putBatch(items: readonly Frames[], options?: IoOptions): Promise<RedisKey[]> {
    this.#open(options);
    const encoded = items.map((frames) => toElements(frames, this.maxElementBytes));
    const keys: RedisKey[] = encoded.map(() => ({ kind: 'redis', id: newId() }));
    if (keys.length === 0) return keys;
    await this.#io(
      `putBatch of ${keys.length} objects`,
      options?.signal,
      () => Promise.all(keys.map((key, i) => this.#write(key.id, encoded[i] as Buffer[], false))),
      () => {
        for (const key of keys) this.#discard([this.#name(key.id), this.#tempName(key.id)]);
      },
    );
    return keys;
  }

  /** Every LRANGE is sent at once (pipelined on the wire, to each node its own in a cluster). */
  async getBatch(keys: readonly RedisKey[], options?: IoOptions): Promise<(Uint8Array[] | null)[]> {
    this.#open(options);
    // Validate every key before sending any command, so a bad key fails the batch without partial work.
    const ids = keys.map((key) => this.#idOf(key));
    if (ids.length === 0) return [];
    const replies = await this.#io(`getBatch of ${ids.length} objects`, options?.signal, () =>
      Promise.all(ids.map((id) => this.#client.lrangeBuffer(this.#name(id), 0, -1))),
    );
    return replies.map((elements, i) => this.#decode(ids[i] as string, elements));
  }

  async newKey(options?: IoOptions): Promise<RedisKey> {
    this.#open(options);
    return { kind: 'redis', id: newId() };
  }

  /** Fills a key from `newKey`; replaces what it held, atomically (temp list + RENAME). */
  async set(key: RedisKey, frames: Frames, options?: IoOptions): Promise<void> {
    this.#open(options);
    const id = this.#idOf(key);
    const elements = toElements(frames, this.maxElementBytes);
    await this.#io(`set of ${id}`, options?.signal, () => this.#write(id, elements, true), () =>
      this.#discard([this.#tempName(id)]),
    );
  }

  config(): ConnectorConfig {
    return { kind: RedisConnector.kind, package: '@proxystore/redis', options: optionsToJson(this.#options) };
  }

  /**
   * Disconnects. `clear` first deletes every object this connector stored and has not evicted (tracked in
   * memory), and nothing else: other clients' keys, and objects other connectors put in the same
   * namespace, stay. Never FLUSHDB.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    let failure: unknown;
    if (options.clear === true && this.#owned.size > 0) {
      const ids = [...this.#owned];
      try {
        for (let start = 0; start < ids.length; start += CLEAR_BATCH) {
          const batch = ids.slice(start, start + CLEAR_BATCH);
          // One DEL per object (its key and temp key share a slot), so it works in a cluster too.
          await this.#io(`close({ clear }) of ${ids.length} objects`, undefined, () =>
            Promise.all(batch.map((id) => this.#client.del(this.#name(id), this.#tempName(id)))),
          );
        }
        this.#owned.clear();
      } catch (err) {
        failure = err;
      }
    }
    await this.#disconnect();
    clearInterval(this.#watchdog);
    if (failure !== undefined) throw failure;
  }

  async #disconnect(): Promise<void> {
    const client = this.#client;
    if (client.status === 'ready') {
      // QUIT lets commands already sent finish; a server that does not answer gets timeoutMs.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        client.quit().catch(() => {}),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    client.disconnect();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
