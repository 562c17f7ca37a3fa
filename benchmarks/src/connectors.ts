// The connectors the suites know how to benchmark, each with the raw operation it is built on. A later
// transport (Redis, gRPC endpoints, UCX) joins every suite by adding one BenchConnector to
// BENCH_CONNECTORS: it starts what it needs, hands out a connector, and names its raw baseline.
import { mkdtempSync, rmSync } from 'node:fs';
import { access, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { DEFAULT_CHUNK_SIZE } from '@proxystore/control';
import {
  type CloseOptions,
  type Connector,
  type ConnectorConfig,
  FileConnector,
  type Frames,
  type IoOptions,
  MemoryConnector,
  MultiConnector,
} from '@proxystore/core';
import { EndpointConnector, type EndpointKey } from '@proxystore/endpoint';
import { EndpointProcess } from '@proxystore/endpoint/testing';
import { RedisConnector } from '@proxystore/redis';
import { RedisTestCluster, RedisTestServer, redisServerUnavailable } from '@proxystore/redis/testing';
import { Cluster, Redis } from 'ioredis';
import { type BenchConfig, formatSize, GiB, type SuiteName } from './config.js';
import { RawGrpcClient } from './raw/grpc.js';
import { type RawServerProcess, startRawServer } from './raw/process.js';
import { RawTcpClient } from './raw/tcp.js';
import type { Row, SuiteContext } from './suite.js';
import { ucxBench } from './ucx/bench.js';
import { UCX_TRANSPORTS } from './ucx/session.js';

/**
 * The same four operations done without ProxyStore, on the same bytes: what a user would write by hand.
 * Ids are chosen by the caller; put overwrites.
 */
export interface RawBaseline {
  /**
   * Which baseline this is, where a session offers several ("grpc-js", "tcp"): the rows of each carry it
   * as `params.baseline`. Absent on a connector's only baseline.
   */
  label?: string;
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
  /** The raw baseline; the one suites with a single comparison use (proxy, task-rtt). */
  raw: RawBaseline;
  /**
   * Every baseline the ops suite measures, `raw` first, where there is more than one (an endpoint's raw
   * grpc-js stream and raw TCP socket): each is its own row, interleaved with the same subject.
   */
  baselines?: RawBaseline[];
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
  /**
   * The suites this connector takes part in; default every suite that benchmarks connectors. A connector
   * measured in processes of its own (UCX: one per transport) names only 'ops'.
   */
  suites?: readonly SuiteName[];
  /**
   * Where the ops suite cannot time this connector in the harness process (UCX reads UCX_TLS once per
   * process; ucx_perftest is a process with its own loop), the connector measures its ops rows itself:
   * `steps` progress steps, then `measure` returns the rows. `open` is then not used by the ops suite.
   */
  ops?: {
    steps(config: BenchConfig): number;
    measure(ctx: SuiteContext): Promise<Row[]>;
  };
}

/** Whether `bench` takes part in `suite` (its `suites`, default all). */
export function takesPart(bench: BenchConnector, suite: string): boolean {
  return bench.suites === undefined || (bench.suites as readonly string[]).includes(suite);
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

// ---------------------------------------------------------------------------------------------------
// Endpoints

/** null when the proxystore-endpoint binary is built and can be started, else what to do. */
export async function endpointUnavailable(): Promise<string | null> {
  try {
    const main = createRequire(import.meta.url).resolve('@proxystore/endpoint/package.json').replace(/package\.json$/, 'dist/main.js');
    return existsSync(main) ? null : `${main} is missing: build @proxystore/endpoint (npm run build)`;
  } catch (err) {
    return `@proxystore/endpoint is not installed (${err instanceof Error ? err.message : String(err)})`;
  }
}

/** A fresh bearer token for one session: every endpoint and raw server of it checks the same one. */
export function benchToken(): string {
  return `bench-${randomBytes(12).toString('hex')}`;
}

/**
 * The endpoint settings of the benchmarks: room for the largest ops payloads (256 MiB, a few at a time,
 * and the qps suite's many puts) so no limit is measured instead of the transport.
 */
export const ENDPOINT_LIMITS = { memoryLimit: 16 * GiB, maxObjectSize: 2 * GiB } as const;

export function rawGrpcBaseline(client: RawGrpcClient, via: string): RawBaseline {
  const chunks = `${formatSize(client.chunkSize)} chunks`;
  return {
    label: 'grpc-js',
    names: {
      put: `grpc-js client stream, ${chunks}${via}`,
      get: `grpc-js server stream, ${chunks}${via}`,
      exists: `grpc-js unary exists${via}`,
      evict: `grpc-js unary evict${via}`,
    },
    put: (id, data) => client.put(id, data),
    async get(id) {
      const data = await client.get(id);
      if (data === null) throw new Error(`raw grpc-js: no object ${id}`);
      return data;
    },
    exists: (id) => client.exists(id),
    async evict(id) {
      await client.evict(id);
    },
    async close() {
      client.close();
    },
  };
}

export function rawTcpBaseline(client: RawTcpClient, via: string): RawBaseline {
  return {
    label: 'tcp',
    names: {
      put: `net.Socket length-prefixed put${via}`,
      get: `net.Socket length-prefixed get${via}`,
      exists: `net.Socket length-prefixed exists${via}`,
      evict: `net.Socket length-prefixed evict${via}`,
    },
    put: (id, data) => client.put(id, data),
    async get(id) {
      const data = await client.get(id);
      if (data === null) throw new Error(`raw tcp: no object ${id}`);
      return data;
    },
    exists: (id) => client.exists(id),
    async evict(id) {
      await client.evict(id);
    },
    async close() {
      client.close();
    },
  };
}

/** Runs the clean-ups in reverse order, each once, all of them even if one throws. */
function cleanups(): { add(fn: () => unknown): void; run(): Promise<void> } {
  const fns: (() => unknown)[] = [];
  let ran: Promise<void> | undefined;
  return {
    add: (fn) => void fns.push(fn),
    run() {
      ran ??= (async () => {
        for (const fn of fns.reverse()) {
          try {
            await fn();
          } catch {
            // Best effort: a child already gone, a client already closed.
          }
        }
      })();
      return ran;
    },
  };
}

/** An endpoint process once started, its stop registered (so a failure elsewhere still stops it). */
async function started(start: Promise<EndpointProcess>, add: (fn: () => unknown) => void): Promise<EndpointProcess> {
  const endpoint = await start;
  add(() => endpoint.stop());
  return endpoint;
}

/**
 * Both raw servers (grpc-js and TCP) for a session, as baselines. With `relay`, each server gets a relay
 * process in front, and the baseline takes the endpoint-peer path: puts straight to the server (the
 * owner), gets, exists and evicts through the relay.
 */
async function rawBaselines(token: string, chunkSize: number, relay: boolean, add: (fn: () => unknown) => void): Promise<RawBaseline[]> {
  const via = relay ? ' via a relay' : '';
  const servers = async (kind: 'grpc' | 'tcp'): Promise<{ owner: RawServerProcess; front: RawServerProcess }> => {
    const owner = await startRawServer({ kind, token, chunkSize });
    add(() => owner.stop());
    if (!relay) return { owner, front: owner };
    const front = await startRawServer({ kind, token, chunkSize, upstream: owner.address });
    add(() => front.stop());
    return { owner, front };
  };
  /** Put through `owner`, everything else through `front` (the same baseline when there is no relay). */
  const split = (owner: RawBaseline, front: RawBaseline): RawBaseline =>
    owner === front
      ? front
      : {
          ...front,
          names: { ...front.names, put: owner.names.put.replace(via, '') },
          put: (id, data) => owner.put(id, data),
          async close() {
            await owner.close();
            await front.close();
          },
        };

  // Both kinds start at once: a process start is mostly waiting on module loading.
  const [grpcAt, tcpAt] = await Promise.all([servers('grpc'), servers('tcp')]);
  const grpcFront = rawGrpcBaseline(new RawGrpcClient(grpcAt.front.address, { token, chunkSize }), via);
  const grpcOwner = relay ? rawGrpcBaseline(new RawGrpcClient(grpcAt.owner.address, { token, chunkSize }), via) : grpcFront;
  const grpc = split(grpcOwner, grpcFront);
  add(() => grpc.close());

  const tcpFront = rawTcpBaseline(await RawTcpClient.connect(tcpAt.front.host, tcpAt.front.port, token), via);
  const tcpOwner = relay ? rawTcpBaseline(await RawTcpClient.connect(tcpAt.owner.host, tcpAt.owner.port, token), via) : tcpFront;
  const tcp = split(tcpOwner, tcpFront);
  add(() => tcp.close());
  return [grpc, tcp];
}

/**
 * One endpoint process on loopback that owns the data, with a token; baselines: a raw grpc-js stream
 * and a raw TCP socket, each to a server process of its own holding a Map.
 */
export const endpointBench: BenchConnector = {
  name: 'endpoint',
  description:
    'EndpointConnector to one proxystore-endpoint process (loopback, token); raw: a grpc-js stream and a TCP socket to server processes holding a Map',
  crossProcess: true,
  unavailable: endpointUnavailable,
  async open() {
    const token = benchToken();
    const chunkSize = DEFAULT_CHUNK_SIZE;
    const done = cleanups();
    try {
      const [endpoint, baselines] = await Promise.all([
        started(EndpointProcess.start({ name: 'bench-endpoint', token, ...ENDPOINT_LIMITS }), done.add),
        rawBaselines(token, chunkSize, false, done.add),
      ]);
      const connector = new EndpointConnector({ address: endpoint.address, token, chunkSize });
      return { connector, raw: baselines[0] as RawBaseline, baselines, close: () => done.run() };
    } catch (err) {
      await done.run();
      throw err;
    }
  },
};

/**
 * Puts to endpoint B (the owner); gets, exists and evicts at endpoint A, which forwards them to B: what
 * a consumer at another site pays for one peer hop. Keys name B, so A forwards every call.
 */
export class PeerHopConnector implements Connector<EndpointKey> {
  readonly kind = EndpointConnector.kind;
  constructor(
    /** The client of the owner (B). */
    readonly owner: EndpointConnector,
    /** The client of the endpoint that forwards (A). */
    readonly hop: EndpointConnector,
  ) {}

  put(frames: Frames, options?: IoOptions): Promise<EndpointKey> {
    return this.owner.put(frames, options);
  }

  get(key: EndpointKey, options?: IoOptions): Promise<Uint8Array[] | null> {
    return this.hop.get(key, options);
  }

  exists(key: EndpointKey, options?: IoOptions): Promise<boolean> {
    return this.hop.exists(key, options);
  }

  evict(key: EndpointKey, options?: IoOptions): Promise<void> {
    return this.hop.evict(key, options);
  }

  putBatch(items: readonly Frames[], options?: IoOptions): Promise<EndpointKey[]> {
    return this.owner.putBatch(items, options);
  }

  getBatch(keys: readonly EndpointKey[], options?: IoOptions): Promise<(Uint8Array[] | null)[]> {
    return this.hop.getBatch(keys, options);
  }

  /** A revived connector talks to A, as a consumer at A's site would. */
  config(): ConnectorConfig {
    return this.hop.config();
  }

  async close(options?: CloseOptions): Promise<void> {
    // The owner's client remembers what it put: `clear` evicts those at B.
    await this.owner.close(options);
    await this.hop.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Endpoint B owns the data; the store's gets, exists and evicts go to endpoint A, which forwards to B. */
export const endpointPeerBench: BenchConnector = {
  name: 'endpoint-peer',
  description:
    'one peer hop: puts to endpoint B, gets/exists/evicts at endpoint A which forwards to B; raw: the grpc-js and TCP servers behind a relay process each',
  // The store's config names A alone: a revived connector would read through A too, but the pair is
  // built here, so the cross-process suites use `endpoint`.
  crossProcess: false,
  unavailable: endpointUnavailable,
  async open() {
    const token = benchToken();
    const chunkSize = DEFAULT_CHUNK_SIZE;
    const done = cleanups();
    try {
      const startEndpoints = async (): Promise<[EndpointProcess, EndpointProcess]> => {
        const b = await started(EndpointProcess.start({ name: 'bench-endpoint-b', token, ...ENDPOINT_LIMITS }), done.add);
        const a = await started(EndpointProcess.start({ name: 'bench-endpoint-a', token, peers: [b.address], ...ENDPOINT_LIMITS }), done.add);
        return [b, a];
      };
      const [[owner, hop], baselines] = await Promise.all([startEndpoints(), rawBaselines(token, chunkSize, true, done.add)]);
      const connector = new PeerHopConnector(
        new EndpointConnector({ address: owner.address, token, chunkSize }),
        new EndpointConnector({ address: hop.address, token, chunkSize }),
      );
      return { connector, raw: baselines[0] as RawBaseline, baselines, close: () => done.run() };
    } catch (err) {
      await done.run();
      throw err;
    }
  },
};

/** The baselines the ops suite compares a session's connector with: `baselines`, else `raw` alone. */
export function baselinesOf(session: BenchSession): RawBaseline[] {
  return session.baselines ?? [session.raw];
}

/** Every connector the suite knows, in report order. */
export const BENCH_CONNECTORS: readonly BenchConnector[] = [
  memoryBench,
  fileBench,
  multiBench,
  redisBench,
  redisClusterBench,
  endpointBench,
  endpointPeerBench,
  ucxBench(UCX_TRANSPORTS.tcp),
  ucxBench(UCX_TRANSPORTS.sm),
];
