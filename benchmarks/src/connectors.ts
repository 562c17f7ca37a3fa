// The connectors the suites know how to benchmark, each with the raw operation it is built on. A later
// transport (Redis, gRPC endpoints, UCX) joins every suite by adding one BenchConnector to
// BENCH_CONNECTORS: it starts what it needs, hands out a connector, and names its raw baseline.
import { mkdtempSync, rmSync } from 'node:fs';
import { access, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Connector, FileConnector, MemoryConnector, MultiConnector } from '@proxystore/core';
import { RedisConnector } from '@proxystore/redis';
import { RedisTestCluster, RedisTestServer, redisServerUnavailable } from '@proxystore/redis/testing';
import { Cluster, Redis } from 'ioredis';

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

/**
 * Raw ioredis on the same server: one string per object (SET / GET / EXISTS / DEL of the same bytes).
 * Keys carry a hash tag, so in a cluster each lands on one slot like the connector's do.
 */
function ioredisBaseline(client: Redis | Cluster): RawBaseline {
  // Connection errors surface as rejected calls; without a listener ioredis would also print each one.
  client.on('error', () => {});
  const name = (id: string): string => `bench-raw:{${id}}`;
  return {
    names: {
      put: 'ioredis.set(key, bytes)',
      get: 'ioredis.getBuffer(key)',
      exists: 'ioredis.exists(key)',
      evict: 'ioredis.del(key)',
    },
    async put(id, data) {
      await client.set(name(id), Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    },
    async get(id) {
      const data = await client.getBuffer(name(id));
      if (data === null) throw new Error(`raw ioredis: no object ${id}`);
      return data;
    },
    exists: async (id) => (await client.exists(name(id))) > 0,
    async evict(id) {
      await client.del(name(id));
    },
    async close() {
      client.disconnect();
    },
  };
}

async function redisUnavailable(): Promise<string | null> {
  return redisServerUnavailable();
}

/** A redis-server of its own on a loopback port; raw: ioredis SET/GET/EXISTS/DEL on the same server. */
export const redisBench: BenchConnector = {
  name: 'redis',
  description: 'RedisConnector on a local redis-server (loopback TCP); raw: ioredis SET/GET/EXISTS/DEL on the same server',
  crossProcess: true,
  unavailable: redisUnavailable,
  async open() {
    const server = await RedisTestServer.start();
    const raw = ioredisBaseline(new Redis({ host: server.host, port: server.port }));
    return {
      connector: new RedisConnector({ host: server.host, port: server.port }),
      raw,
      // Not every suite closes `raw`; a client left open would keep reconnecting, and the process alive.
      async close() {
        await raw.close();
        await server.stop();
      },
    };
  },
};

/** A 3-master Redis Cluster of its own on loopback; raw: ioredis Cluster SET/GET/EXISTS/DEL on it. */
export const redisClusterBench: BenchConnector = {
  name: 'redis-cluster',
  description: 'RedisConnector on a local 3-master Redis Cluster; raw: ioredis Cluster SET/GET/EXISTS/DEL on it',
  crossProcess: true,
  unavailable: redisUnavailable,
  async open() {
    const cluster = await RedisTestCluster.start({ masters: 3 });
    const raw = ioredisBaseline(new Cluster(cluster.nodes));
    return {
      connector: new RedisConnector({ cluster: { nodes: cluster.nodes } }),
      raw,
      async close() {
        await raw.close();
        await cluster.stop();
      },
    };
  },
};

/**
 * MultiConnector over memory (objects under 1 MiB) and files (from 1 MiB); the raw baseline is the same
 * split done by hand, each object's raw operation being its child's, so the ratio shows what routing and
 * the wrapped key cost. Sizes route by the serialized frames' total, so a 1 MiB payload (plus header)
 * goes to files in both. In-process only: the memory child cannot be read from another process.
 */
export const multiBench: BenchConnector = {
  name: 'multi',
  description: 'MultiConnector: memory below 1 MiB, files from 1 MiB; raw: the same split over a Map and fs.promises',
  crossProcess: false,
  unavailable: async () => null,
  async open() {
    const MiB = 1024 * 1024;
    const memory = await memoryBench.open();
    const file = await fileBench.open();
    const inMemory = new Set<string>();
    const rawOf = (id: string): RawBaseline => (inMemory.has(id) ? memory.raw : file.raw);
    const raw: RawBaseline = {
      names: {
        put: `< 1 MiB ? ${memory.raw.names.put} : ${file.raw.names.put}`,
        get: `the child's raw get`,
        exists: `the child's raw exists`,
        evict: `the child's raw evict`,
      },
      async put(id, data) {
        if (data.byteLength < MiB) inMemory.add(id);
        else inMemory.delete(id);
        await rawOf(id).put(id, data);
      },
      get: (id) => rawOf(id).get(id),
      exists: (id) => rawOf(id).exists(id),
      async evict(id) {
        await rawOf(id).evict(id);
        inMemory.delete(id);
      },
      async close() {
        await memory.raw.close();
        await file.raw.close();
      },
    };
    const connector = new MultiConnector({
      connectors: {
        small: { connector: memory.connector, policy: { maxSize: MiB - 1 } },
        large: { connector: file.connector, policy: { minSize: MiB } },
      },
    });
    return {
      connector,
      raw,
      async close() {
        await memory.close();
        await file.close();
      },
    };
  },
};

/** Every connector the suite knows, in report order. */
export const BENCH_CONNECTORS: readonly BenchConnector[] = [memoryBench, fileBench, multiBench, redisBench, redisClusterBench];
