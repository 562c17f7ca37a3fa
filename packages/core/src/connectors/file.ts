// The file-system connector: one file per object in a directory, which may sit on a shared file system
// (Lustre, GPFS, NFS) so that processes on other nodes read what this one wrote. Each file holds the
// packed frames encoding; writes go to a temp name and are renamed into place, so readers see whole
// objects or nothing.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { SerializationError, packFrames, unpackFrames } from '@proxystore/serialize';
import type {
  CloseOptions,
  Connector,
  ConnectorConfig,
  Frames,
  IoOptions,
  JsonValue,
  Key,
} from '../connector.js';
import { ClosedError, ConfigError, ConnectorError, InvalidKeyError } from '../errors.js';
import { assertFrames, assertKey, newId } from '../key.js';

export interface FileConnectorOptions {
  /** Where objects are stored; created if missing. A relative path is resolved against the cwd now. */
  directory: string;
}

export interface FileKey extends Key {
  readonly kind: 'file';
}

/**
 * Ids become file names, so they are restricted to characters that cannot leave the directory or name
 * a temp file ('.' is excluded: no '..', and temp files start with '.tmp-').
 */
const SAFE_ID = /^[A-Za-z0-9_-]{1,200}$/;
const TEMP_PREFIX = '.tmp-';
/** Concurrent file operations of one putBatch/getBatch: enough to overlap latency, not to exhaust fds. */
const BATCH_CONCURRENCY = 8;
/** Linux's IOV_MAX: more buffers than this in one writev fail with EINVAL. */
const MAX_IOV = 1024;
/** Bytes per writev call, so an abort is noticed within one chunk of a large object. */
const WRITE_CHUNK_BYTES = 16 * 1024 * 1024;

function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Writes every byte of `parts` in order, in bounded writev calls, resuming after short writes. */
async function writeAll(
  handle: FileHandle,
  parts: readonly Uint8Array[],
  signal?: AbortSignal,
): Promise<void> {
  let index = 0;
  let offset = 0; // into parts[index]
  while (index < parts.length) {
    signal?.throwIfAborted();
    let batch: Uint8Array[] = [];
    let bytes = 0;
    while (index < parts.length && batch.length < MAX_IOV && bytes < WRITE_CHUNK_BYTES) {
      const part = parts[index] as Uint8Array;
      const take = Math.min(part.byteLength - offset, WRITE_CHUNK_BYTES - bytes);
      if (take > 0) batch.push(part.subarray(offset, offset + take));
      bytes += take;
      offset += take;
      if (offset === part.byteLength) {
        index++;
        offset = 0;
      }
    }
    while (bytes > 0) {
      const { bytesWritten } = await handle.writev(batch);
      bytes -= bytesWritten;
      // A short write: drop what went out and go again with the rest.
      let skip = bytesWritten;
      while (skip > 0 && batch.length > 0) {
        const first = batch[0] as Uint8Array;
        if (first.byteLength <= skip) {
          skip -= first.byteLength;
          batch.shift();
        } else {
          batch[0] = first.subarray(skip);
          skip = 0;
        }
      }
      batch = batch.filter((b) => b.byteLength > 0);
    }
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; results keep the input order. */
async function mapOrdered<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    // After a failure no new work starts; work already in flight finishes.
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}

export class FileConnector implements Connector<FileKey> {
  static readonly kind = 'file';
  readonly kind = FileConnector.kind;
  /** Absolute, so the config means the same directory in a process with another cwd. */
  readonly directory: string;
  #closed = false;

  constructor(options: FileConnectorOptions) {
    if (typeof options?.directory !== 'string' || options.directory === '') {
      throw new ConfigError('FileConnector needs a non-empty string `directory`');
    }
    this.directory = path.resolve(options.directory);
    try {
      // Sync because fromConfig is: a proxy revived in another process builds its connector mid-access.
      mkdirSync(this.directory, { recursive: true });
    } catch (err) {
      throw new ConnectorError(`Cannot create FileConnector directory ${this.directory}`, { cause: err });
    }
  }

  static fromConfig(options: { [k: string]: JsonValue }): FileConnector {
    const { directory } = options;
    if (typeof directory !== 'string') {
      throw new ConfigError(`FileConnector config: 'directory' must be a string, got ${typeof directory}`);
    }
    return new FileConnector({ directory });
  }

  #open(options?: IoOptions): void {
    if (this.#closed) throw new ClosedError(`FileConnector (${this.directory})`);
    options?.signal?.throwIfAborted();
  }

  #pathOf(key: unknown): string {
    assertKey(key, FileConnector.kind);
    if (!SAFE_ID.test(key.id)) {
      throw new InvalidKeyError(
        `File key id ${JSON.stringify(key.id)} is not a safe file name (letters, digits, '_' and '-' only)`,
      );
    }
    return path.join(this.directory, key.id);
  }

  /** Frames from a file's bytes, as views over memory that this call alone owns. */
  #unpack(file: string, data: Buffer): Uint8Array[] {
    // readFile hands back a buffer of its own, but readFileSync serves small files from Buffer's shared
    // pool: copy those, so no frame's `.buffer` exposes other data and every frame stays 64-byte aligned.
    const owned =
      data.byteOffset === 0 && data.buffer.byteLength === data.byteLength
        ? new Uint8Array(data.buffer)
        : new Uint8Array(data);
    try {
      return unpackFrames(owned);
    } catch (err) {
      if (err instanceof SerializationError) {
        throw new ConnectorError(`Object file ${file} is corrupt: ${err.message}`, { cause: err });
      }
      throw err;
    }
  }

  /**
   * Writes the object to a temp file in the same directory and renames it into place. rename(2) within a
   * directory is atomic, so readers see the whole object or none of it. There is no fsync: durability
   * across a power loss is not a goal of a data cache, and fsync on a parallel file system costs far more
   * than the write.
   */
  async #writeAtomic(id: string, frames: Frames, signal?: AbortSignal): Promise<void> {
    assertFrames(frames);
    const final = path.join(this.directory, id);
    const temp = path.join(this.directory, `${TEMP_PREFIX}${id}-${randomBytes(6).toString('hex')}`);
    let handle: FileHandle | undefined;
    try {
      try {
        handle = await open(temp, 'wx');
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
        // The directory was removed (another connector's close({ clear })); recreate it and go on.
        await mkdir(this.directory, { recursive: true });
        handle = await open(temp, 'wx');
      }
      await writeAll(handle, packFrames(frames), signal);
      await handle.close();
      handle = undefined;
      signal?.throwIfAborted();
      await rename(temp, final);
    } catch (err) {
      await handle?.close().catch(() => {});
      await rm(temp, { force: true }).catch(() => {});
      if (signal?.aborted) throw signal.reason;
      throw new ConnectorError(`Cannot write object ${id} in ${this.directory}`, { cause: err });
    }
  }

  async put(frames: Frames, options?: IoOptions): Promise<FileKey> {
    this.#open(options);
    const key: FileKey = { kind: 'file', id: newId() };
    await this.#writeAtomic(key.id, frames, options?.signal);
    return key;
  }

  async get(key: FileKey, options?: IoOptions): Promise<Uint8Array[] | null> {
    this.#open(options);
    const file = this.#pathOf(key);
    let data: Buffer;
    try {
      data = await readFile(file, options?.signal === undefined ? {} : { signal: options.signal });
    } catch (err) {
      // readFile rejects an abort with its own AbortError; the contract promises the signal's reason.
      if (options?.signal?.aborted) throw options.signal.reason;
      if (errnoCode(err) === 'ENOENT') return null;
      throw new ConnectorError(`Cannot read object file ${file}`, { cause: err });
    }
    return this.#unpack(file, data);
  }

  getSync(key: FileKey): Uint8Array[] | null {
    this.#open();
    const file = this.#pathOf(key);
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return null;
      throw new ConnectorError(`Cannot read object file ${file}`, { cause: err });
    }
    return this.#unpack(file, data);
  }

  async exists(key: FileKey, options?: IoOptions): Promise<boolean> {
    this.#open(options);
    const file = this.#pathOf(key);
    try {
      await stat(file);
      return true;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw new ConnectorError(`Cannot stat object file ${file}`, { cause: err });
    }
  }

  async evict(key: FileKey, options?: IoOptions): Promise<void> {
    this.#open(options);
    const file = this.#pathOf(key);
    try {
      await rm(file, { force: true });
    } catch (err) {
      throw new ConnectorError(`Cannot remove object file ${file}`, { cause: err });
    }
  }

  evictSync(key: FileKey): void {
    this.#open();
    const file = this.#pathOf(key);
    try {
      rmSync(file, { force: true });
    } catch (err) {
      throw new ConnectorError(`Cannot remove object file ${file}`, { cause: err });
    }
  }

  async putBatch(items: readonly Frames[], options?: IoOptions): Promise<FileKey[]> {
    this.#open(options);
    const written: FileKey[] = [];
    try {
      return await mapOrdered(items, BATCH_CONCURRENCY, async (frames) => {
        const key = await this.put(frames, options);
        written.push(key);
        return key;
      });
    } catch (err) {
      // All or nothing: the caller gets no keys, so objects already written could never be evicted.
      await Promise.all(written.map((key) => rm(this.#pathOf(key), { force: true }).catch(() => {})));
      throw err;
    }
  }

  async getBatch(keys: readonly FileKey[], options?: IoOptions): Promise<(Uint8Array[] | null)[]> {
    this.#open(options);
    // Validate every key before reading any, so a bad key fails the batch without partial work.
    for (const key of keys) this.#pathOf(key);
    return mapOrdered(keys, BATCH_CONCURRENCY, (key) => this.get(key, options));
  }

  async newKey(options?: IoOptions): Promise<FileKey> {
    this.#open(options);
    return { kind: 'file', id: newId() };
  }

  async set(key: FileKey, frames: Frames, options?: IoOptions): Promise<void> {
    this.#open(options);
    this.#pathOf(key);
    await this.#writeAtomic(key.id, frames, options?.signal);
  }

  config(): ConnectorConfig {
    return { kind: FileConnector.kind, package: '@proxystore/core', options: { directory: this.directory } };
  }

  /** Marks the connector closed; `clear` removes the directory and everything in it. */
  async close(options: CloseOptions = {}): Promise<void> {
    this.#closed = true;
    if (options.clear === true) {
      try {
        await rm(this.directory, { recursive: true, force: true });
      } catch (err) {
        throw new ConnectorError(`Cannot remove FileConnector directory ${this.directory}`, { cause: err });
      }
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
