// Where an endpoint keeps its objects. Without a storage directory, memory holds everything up to the
// memory limit and a put that does not fit is refused. With one, every object is written to disk
// (temp file + rename, so a reader or a restart sees whole objects only) and memory is an LRU cache of
// the most recently used objects up to the limit; the directory is reloaded on restart.
import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '@proxystore/core';
import { ControlError, ControlErrorCode } from '@proxystore/control';
import { packFrames, unpackFrames } from '@proxystore/serialize';

/** Object ids are file names and keys: letters, digits, '_' and '-'. */
export const SAFE_ID = /^[A-Za-z0-9_-]{1,200}$/;
const SUFFIX = '.obj';
const TEMP_PREFIX = '.tmp-';
/** The file in a storage directory that records whose objects they are. */
export const IDENTITY_FILE = 'endpoint.json';

function frameSize(frames: readonly Uint8Array[]): number {
  let n = 0;
  for (const f of frames) n += f.byteLength;
  return n;
}

/** Copies of the frames, each in its own buffer: what a caller of getLocal may keep and mutate. */
function copyFrames(frames: readonly Uint8Array[]): Uint8Array[] {
  return frames.map((f) => f.slice());
}

export function checkId(id: string): string {
  if (!SAFE_ID.test(id)) {
    throw new ControlError(
      ControlErrorCode.INVALID_ARGUMENT,
      `object id ${JSON.stringify(id)} is not 1 to 200 letters, digits, '_' or '-'`,
    );
  }
  return id;
}

export interface StorageOptions {
  memoryLimit: number;
  storageDir?: string;
}

export class ObjectStorage {
  readonly memoryLimit: number;
  readonly storageDir: string | undefined;
  /** Objects in memory; Map order is recency (oldest first) when the disk backs them. */
  readonly #memory = new Map<string, Uint8Array[]>();
  /** Objects on disk: id → size in bytes of their frames (or -1 when reloaded and not read yet). */
  readonly #disk = new Map<string, number>();
  #memoryBytes = 0;

  constructor(options: StorageOptions) {
    this.memoryLimit = options.memoryLimit;
    this.storageDir = options.storageDir;
    if (this.storageDir !== undefined) this.#load(this.storageDir);
  }

  /** Number of objects held. */
  get objects(): number {
    return this.storageDir === undefined ? this.#memory.size : this.#disk.size;
  }

  /** Bytes of objects in memory. */
  get bytesUsed(): number {
    return this.#memoryBytes;
  }

  #load(dir: string): void {
    try {
      mkdirSync(dir, { recursive: true });
      for (const name of readdirSync(dir)) {
        if (name.startsWith(TEMP_PREFIX)) {
          // A write cut off by a crash: never renamed into place, so never an object.
          rmSync(join(dir, name), { force: true });
        } else if (name.endsWith(SUFFIX) && SAFE_ID.test(name.slice(0, -SUFFIX.length))) {
          this.#disk.set(name.slice(0, -SUFFIX.length), -1);
        }
      }
    } catch (err) {
      throw new ConfigError(`Endpoint config: cannot use storageDir ${dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * The id recorded in the storage directory (so keys minted before a restart still name this endpoint),
   * recording `wanted` (or a fresh id) when there is none. A different `wanted` is a ConfigError.
   */
  static claimDirectory(dir: string, wanted: string | undefined): string {
    const file = join(dir, IDENTITY_FILE);
    let recorded: string | undefined;
    try {
      recorded = (JSON.parse(readFileSync(file, 'utf8')) as { id?: unknown }).id as string | undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new ConfigError(`Endpoint config: cannot read ${file}: ${(err as Error).message}`, { cause: err });
      }
    }
    if (recorded !== undefined) {
      if (wanted !== undefined && wanted !== recorded) {
        throw new ConfigError(
          `Endpoint config: storageDir ${dir} holds the objects of endpoint ${recorded}, not of id ${wanted}`,
        );
      }
      return recorded;
    }
    const id = wanted ?? randomUUID();
    mkdirSync(dir, { recursive: true });
    const fd = openSync(file, 'w');
    try {
      writeFileSync(fd, `${JSON.stringify({ id })}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return id;
  }

  has(id: string): boolean {
    return this.#memory.has(id) || this.#disk.has(id);
  }

  /** Throws STORAGE_FULL when an object of `size` bytes cannot be held (memory only). */
  admit(size: number, replacing?: string): void {
    if (this.storageDir !== undefined) return;
    const freed = replacing === undefined ? 0 : frameSize(this.#memory.get(replacing) ?? []);
    if (this.#memoryBytes - freed + size > this.memoryLimit) {
      throw new ControlError(
        ControlErrorCode.STORAGE_FULL,
        `the endpoint holds ${this.#memoryBytes} of ${this.memoryLimit} bytes and has no room for ${size} more ` +
          `(no storageDir to spill to); nothing was stored`,
      );
    }
  }

  /** Stores the frames (taken over, not copied) under `id`, replacing what was there. */
  async put(id: string, frames: Uint8Array[]): Promise<void> {
    const size = frameSize(frames);
    if (this.storageDir === undefined) {
      this.admit(size, id);
      this.#dropMemory(id);
      this.#memory.set(id, frames);
      this.#memoryBytes += size;
      return;
    }
    await this.#write(this.storageDir, id, frames);
    this.#disk.set(id, size);
    this.#cache(id, frames, size);
  }

  async #write(dir: string, id: string, frames: Uint8Array[]): Promise<void> {
    const temp = join(dir, `${TEMP_PREFIX}${id}-${randomUUID()}`);
    const handle = await open(temp, 'w');
    try {
      const parts = packFrames(frames);
      // writev takes at most IOV_MAX buffers per call.
      for (let i = 0; i < parts.length; i += 512) {
        const batch = parts.slice(i, i + 512);
        let want = 0;
        for (const b of batch) want += b.byteLength;
        const { bytesWritten } = await handle.writev(batch);
        if (bytesWritten !== want) {
          // A short writev: finish the batch buffer by buffer.
          let skip = bytesWritten;
          for (const b of batch) {
            if (skip >= b.byteLength) {
              skip -= b.byteLength;
              continue;
            }
            await handle.write(b.subarray(skip));
            skip = 0;
          }
        }
      }
      await handle.close();
      await rename(temp, join(dir, `${id}${SUFFIX}`));
    } catch (err) {
      await handle.close().catch(() => {});
      await rm(temp, { force: true });
      throw err;
    }
  }

  /** Keeps the object in memory if it fits, dropping the least recently used ones (they stay on disk). */
  #cache(id: string, frames: Uint8Array[], size: number): void {
    this.#dropMemory(id);
    if (size > this.memoryLimit) return;
    for (const [old, oldFrames] of this.#memory) {
      if (this.#memoryBytes + size <= this.memoryLimit) break;
      this.#memory.delete(old);
      this.#memoryBytes -= frameSize(oldFrames);
    }
    this.#memory.set(id, frames);
    this.#memoryBytes += size;
  }

  #dropMemory(id: string): void {
    const frames = this.#memory.get(id);
    if (frames === undefined) return;
    this.#memory.delete(id);
    this.#memoryBytes -= frameSize(frames);
  }

  #file(id: string): string {
    return join(this.storageDir as string, `${id}${SUFFIX}`);
  }

  /**
   * The stored frames (shared: for sending, not for handing to a caller that may mutate them), or null.
   * Synchronous: getLocal needs it; a disk read blocks this thread for one file.
   */
  read(id: string): Uint8Array[] | null {
    const frames = this.#memory.get(id);
    if (frames !== undefined) {
      if (this.storageDir !== undefined) {
        // Most recently used: to the back of the Map.
        this.#memory.delete(id);
        this.#memory.set(id, frames);
      }
      return frames;
    }
    if (this.storageDir === undefined || !this.#disk.has(id)) return null;
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.#file(id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.#disk.delete(id);
        return null;
      }
      throw err;
    }
    // Views into one fresh buffer that nothing else references.
    const loaded = unpackFrames(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const size = frameSize(loaded);
    this.#disk.set(id, size);
    this.#cache(id, loaded, size);
    return loaded;
  }

  /** The frames as copies the caller owns (getLocal), or null. */
  readCopy(id: string): Uint8Array[] | null {
    const frames = this.read(id);
    return frames === null ? null : copyFrames(frames);
  }

  /** Removes the object; returns whether there was one. */
  async evict(id: string): Promise<boolean> {
    const existed = this.has(id);
    this.#dropMemory(id);
    if (this.storageDir !== undefined && this.#disk.delete(id)) {
      await rm(this.#file(id), { force: true });
    }
    return existed;
  }

  /** Frame lengths of an object, or null. */
  frameLengths(id: string): number[] | null {
    const frames = this.read(id);
    return frames === null ? null : frames.map((f) => f.byteLength);
  }
}
