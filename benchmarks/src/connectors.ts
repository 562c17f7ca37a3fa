// The connectors the suites know how to benchmark, each with the raw operation it is built on. A later
// transport (Redis, gRPC endpoints, UCX) joins every suite by adding one BenchConnector to
// BENCH_CONNECTORS: it starts what it needs, hands out a connector, and names its raw baseline.
import { mkdtempSync, rmSync } from 'node:fs';
import { access, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Connector, FileConnector, MemoryConnector } from '@proxystore/core';

/**
 * The same four operations done without ProxyStore, on the same bytes: what a user would write by hand.
 * Ids are chosen by the caller; put overwrites.
 */
export interface RawBaseline {
  /** What each operation is, for the tables: "fs.promises.writeFile(path, bytes)". */
  names: { put: string; get: string; exists: string; evict: string };
  put(id: string, data: Uint8Array): Promise<void>;
  /** The bytes, in memory the caller owns (a copy where the transport has one). Throws if absent. */
  get(id: string): Promise<Uint8Array>;
  exists(id: string): Promise<boolean>;
  evict(id: string): Promise<void>;
  close(): Promise<void>;
}

export interface BenchSession {
  /** A fresh, open connector. The suite wraps it in a Store and closes the Store (with clear). */
  connector: Connector;
  raw: RawBaseline;
  /** Stops what `open` started (servers, temp dirs). Called once, after the suite has closed its Store. */
  close(): Promise<void>;
}

export interface BenchConnector {
  /** The name `--connector` selects and every row carries. */
  name: string;
  description: string;
  /**
   * Whether another process can reach the data (a store re-created from `store.config()` there reads
   * what this one put). The task-rtt and memory suites use only these.
   */
  crossProcess: boolean;
  /** null when it can run on this machine, else why not, naming what to install. */
  unavailable(): Promise<string | null>;
  open(): Promise<BenchSession>;
}

/** In-process objects; the raw baseline is one copy of the bytes into a Map, as the connector keeps one. */
export const memoryBench: BenchConnector = {
  name: 'memory',
  description: 'MemoryConnector (in-process); raw: a copy of the bytes in a Map',
  crossProcess: false,
  unavailable: async () => null,
  async open() {
    const objects = new Map<string, Uint8Array>();
    const raw: RawBaseline = {
      names: { put: 'map.set(id, bytes.slice())', get: 'map.get(id).slice()', exists: 'map.has(id)', evict: 'map.delete(id)' },
      async put(id, data) {
        objects.set(id, data.slice());
      },
      async get(id) {
        const data = objects.get(id);
        if (data === undefined) throw new Error(`raw memory: no object ${id}`);
        return data.slice();
      },
      async exists(id) {
        return objects.has(id);
      },
      async evict(id) {
        objects.delete(id);
      },
      async close() {
        objects.clear();
      },
    };
    return { connector: new MemoryConnector(), raw, close: async () => raw.close() };
  },
};

/** Files in a temp directory (page cache, not the disk); the raw baseline is fs on files in the same directory. */
export const fileBench: BenchConnector = {
  name: 'file',
  description: 'FileConnector in a temp directory; raw: fs.promises on files in the same directory',
  crossProcess: true,
  unavailable: async () => null,
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'proxystore-bench-'));
    const rawPath = (id: string): string => join(dir, `raw-${id}`);
    const raw: RawBaseline = {
      names: {
        put: 'fs.promises.writeFile(path, bytes)',
        get: 'fs.promises.readFile(path)',
        exists: 'fs.promises.access(path)',
        evict: 'fs.promises.rm(path)',
      },
      put: (id, data) => writeFile(rawPath(id), data),
      get: (id) => readFile(rawPath(id)),
      exists: (id) =>
        access(rawPath(id)).then(
          () => true,
          () => false,
        ),
      evict: (id) => rm(rawPath(id), { force: true }),
      async close() {},
    };
    return {
      connector: new FileConnector({ directory: join(dir, 'store') }),
      raw,
      async close() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

/** Every connector the suite knows, in report order. */
export const BENCH_CONNECTORS: readonly BenchConnector[] = [memoryBench, fileBench];
