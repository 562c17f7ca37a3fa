// The RedisConnector's options: what a user writes, checked once at the boundary (constructor and
// fromConfig), and turned into the ioredis options that give bounded failures. Everything here is JSON, so
// `config()` can hand the same options to a process that revives a reference.
import { readFileSync } from 'node:fs';
import { ConfigError, type JsonValue } from '@proxystore/core';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';

/** TLS settings. PEM may be given inline or as a file path read when the connector is built. */
export interface RedisTlsOptions {
  /** CA certificate(s) that sign the server certificate (PEM). */
  ca?: string;
  caFile?: string;
  /** Client certificate and key for mutual TLS (PEM). */
  cert?: string;
  certFile?: string;
  key?: string;
  keyFile?: string;
  /** Name checked against the server certificate; defaults to the host. */
  servername?: string;
  /** Default true. Set false only for a test server with a self-signed certificate. */
  rejectUnauthorized?: boolean;
}

export interface RedisClusterNode {
  host: string;
  port: number;
}

export interface RedisConnectorOptions {
  /** Server host; default 'localhost'. Not with `url` or `cluster`. */
  host?: string;
  /** Server port; default 6379. Not with `url` or `cluster`. */
  port?: number;
  /** `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS). Not with `host`/`port`/`cluster`. */
  url?: string;
  /** Redis Cluster: any reachable subset of its nodes; the rest are discovered. */
  cluster?: { nodes: RedisClusterNode[] };
  /** ACL user (Redis >= 6); default the 'default' user. */
  username?: string;
  password?: string;
  /** Logical database; default 0. Redis Cluster has only database 0. */
  db?: number;
  /** TLS: `true` for system CAs, or the certificates to use. */
  tls?: boolean | RedisTlsOptions;
  /** Prefix of every Redis key this connector writes; default 'proxystore'. */
  namespace?: string;
  /**
   * The longest an operation waits while its connection moves no bytes (and the connect timeout); then it
   * fails with REDIS_TIMEOUT. Large transfers that keep moving are not cut off. Default 10000.
   */
  timeoutMs?: number;
  /**
   * The largest Redis list element written; larger frames are split over several elements. Default and
   * maximum 512 MiB, Redis' `proto-max-bulk-len` default: lower it for a server configured lower.
   */
  maxElementBytes?: number;
}

export const DEFAULT_NAMESPACE = 'proxystore';
export const DEFAULT_TIMEOUT_MS = 10_000;
export const MAX_ELEMENT_BYTES = 512 * 1024 * 1024;

/** A namespace goes in front of a hash tag: no braces, or the tag would name another slot. */
const NAMESPACE = /^[A-Za-z0-9_.:-]{1,128}$/;
const TLS_FIELDS = [
  'ca',
  'caFile',
  'cert',
  'certFile',
  'key',
  'keyFile',
  'servername',
  'rejectUnauthorized',
] as const;
const OPTION_FIELDS = [
  'host',
  'port',
  'url',
  'cluster',
  'username',
  'password',
  'db',
  'tls',
  'namespace',
  'timeoutMs',
  'maxElementBytes',
] as const;

function fail(message: string): never {
  throw new ConfigError(`RedisConnector: ${message}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') fail(`'${name}' must be a non-empty string`);
  return value;
}

function checkPort(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    fail(`'${name}' must be an integer port in 1..65535, got ${JSON.stringify(value)}`);
  }
  return value;
}

function checkTls(value: unknown): boolean | RedisTlsOptions | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  if (!isRecord(value)) fail(`'tls' must be a boolean or an object`);
  for (const k of Object.keys(value)) {
    if (!(TLS_FIELDS as readonly string[]).includes(k)) fail(`unknown TLS option '${k}'`);
  }
  const out: RedisTlsOptions = {};
  for (const k of TLS_FIELDS) {
    const v = value[k];
    if (v === undefined) continue;
    if (k === 'rejectUnauthorized') {
      if (typeof v !== 'boolean') fail(`'tls.rejectUnauthorized' must be a boolean`);
      out.rejectUnauthorized = v;
    } else {
      out[k] = checkString(v, `tls.${k}`) as string;
    }
  }
  return out;
}

/**
 * Checks every option and fills in the defaults. Unknown options are errors: a typo ('timeout' for
 * 'timeoutMs') would otherwise be silently ignored.
 */
export function normalizeOptions(input: unknown): RedisConnectorOptions & {
  namespace: string;
  timeoutMs: number;
  maxElementBytes: number;
} {
  const options = input ?? {};
  if (!isRecord(options)) fail('options must be an object');
  for (const k of Object.keys(options)) {
    if (!(OPTION_FIELDS as readonly string[]).includes(k)) {
      fail(`unknown option '${k}' (known: ${OPTION_FIELDS.join(', ')})`);
    }
  }
  const out: RedisConnectorOptions = {};
  const host = checkString(options.host, 'host');
  const port = checkPort(options.port, 'port');
  const url = checkString(options.url, 'url');
  if (host !== undefined) out.host = host;
  if (port !== undefined) out.port = port;
  if (url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      fail(`'url' is not a URL: ${JSON.stringify(url)}`);
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
      fail(`'url' must start with redis:// or rediss://, got ${parsed.protocol}//`);
    }
    if (host !== undefined || port !== undefined) fail(`give either 'url' or 'host'/'port', not both`);
    out.url = url;
  }
  if (options.cluster !== undefined) {
    const cluster = options.cluster;
    if (!isRecord(cluster) || !Array.isArray(cluster.nodes) || cluster.nodes.length === 0) {
      fail(`'cluster' must be { nodes: [{ host, port }, …] } with at least one node`);
    }
    if (url !== undefined || host !== undefined || port !== undefined) {
      fail(`'cluster' names its own nodes: give no 'url', 'host' or 'port' with it`);
    }
    out.cluster = {
      nodes: cluster.nodes.map((node: unknown, i) => {
        if (!isRecord(node)) fail(`cluster.nodes[${i}] must be { host, port }`);
        return {
          host: checkString(node.host, `cluster.nodes[${i}].host`) ?? fail(`cluster.nodes[${i}] needs a host`),
          port: checkPort(node.port, `cluster.nodes[${i}].port`) ?? fail(`cluster.nodes[${i}] needs a port`),
        };
      }),
    };
  }
  const username = checkString(options.username, 'username');
  if (username !== undefined) out.username = username;
  if (options.password !== undefined) {
    if (typeof options.password !== 'string') fail(`'password' must be a string`);
    out.password = options.password;
  }
  if (options.db !== undefined) {
    const db = options.db;
    if (typeof db !== 'number' || !Number.isInteger(db) || db < 0) fail(`'db' must be an integer >= 0`);
    if (out.cluster !== undefined && db !== 0) fail(`Redis Cluster has only database 0, got 'db' ${db}`);
    out.db = db;
  }
  const tls = checkTls(options.tls);
  if (tls !== undefined) out.tls = tls;
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  if (typeof namespace !== 'string' || !NAMESPACE.test(namespace)) {
    fail(`'namespace' must be 1-128 characters of [A-Za-z0-9_.:-], got ${JSON.stringify(namespace)}`);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    fail(`'timeoutMs' must be a positive number of milliseconds, got ${JSON.stringify(timeoutMs)}`);
  }
  const maxElementBytes = options.maxElementBytes ?? MAX_ELEMENT_BYTES;
  if (
    typeof maxElementBytes !== 'number' ||
    !Number.isInteger(maxElementBytes) ||
    maxElementBytes < 64 ||
    maxElementBytes > MAX_ELEMENT_BYTES
  ) {
    fail(`'maxElementBytes' must be an integer in 64..${MAX_ELEMENT_BYTES}, got ${JSON.stringify(maxElementBytes)}`);
  }
  return { ...out, namespace, timeoutMs, maxElementBytes };
}

/** The options as JSON for `config()`: defaults included, so the other process needs none of ours. */
export function optionsToJson(options: RedisConnectorOptions): { [k: string]: JsonValue } {
  return JSON.parse(JSON.stringify(options)) as { [k: string]: JsonValue };
}

function readPem(inline: string | undefined, file: string | undefined, name: string): string | undefined {
  if (inline !== undefined && file !== undefined) fail(`give 'tls.${name}' or 'tls.${name}File', not both`);
  if (file === undefined) return inline;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`RedisConnector: cannot read 'tls.${name}File' ${file}`, { cause: err });
  }
}

function tlsOptions(tls: boolean | RedisTlsOptions | undefined): ConnectionOptions | undefined {
  if (tls === undefined || tls === false) return undefined;
  if (tls === true) return {};
  const out: ConnectionOptions = {};
  const ca = readPem(tls.ca, tls.caFile, 'ca');
  const cert = readPem(tls.cert, tls.certFile, 'cert');
  const key = readPem(tls.key, tls.keyFile, 'key');
  if (ca !== undefined) out.ca = ca;
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
  if (tls.servername !== undefined) out.servername = tls.servername;
  if (tls.rejectUnauthorized !== undefined) out.rejectUnauthorized = tls.rejectUnauthorized;
  return out;
}

/**
 * ioredis options for bounded failures. A command in flight when the connection drops fails at once
 * (maxRetriesPerRequest 0) and is never replayed behind the caller's back; commands issued while
 * disconnected wait in the offline queue until the next reconnect attempt fails. The client keeps
 * reconnecting for as long as it lives, so the same connector works again once the server is back.
 * Our own progress watchdog (not ioredis' commandTimeout, which would cut off a large transfer that is
 * still moving) bounds a hung server.
 */
export function ioredisOptions(options: RedisConnectorOptions & { timeoutMs: number }): RedisOptions {
  const out: RedisOptions = {
    connectTimeout: options.timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: true,
    autoResendUnfulfilledCommands: false,
    // Redis 8 ignores it and RESP2 is what ioredis speaks; no client-side caching, no push messages.
    enableReadyCheck: true,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  };
  if (options.host !== undefined) out.host = options.host;
  if (options.port !== undefined) out.port = options.port;
  if (options.username !== undefined) out.username = options.username;
  if (options.password !== undefined) out.password = options.password;
  if (options.db !== undefined) out.db = options.db;
  const tls = tlsOptions(options.tls);
  if (tls !== undefined) out.tls = tls;
  return out;
}

export function clusterOptions(options: RedisConnectorOptions & { timeoutMs: number }): ClusterOptions {
  const redisOptions = ioredisOptions(options);
  // Node connections are the cluster's to manage: it refreshes slots and reconnects on its own.
  delete redisOptions.retryStrategy;
  return {
    redisOptions,
    enableOfflineQueue: true,
    enableReadyCheck: true,
    clusterRetryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    slotsRefreshTimeout: Math.min(options.timeoutMs, 5000),
  };
}
