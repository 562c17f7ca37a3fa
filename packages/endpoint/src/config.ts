// An endpoint's configuration: JSON that the CLI writes to disk and `proxystore-endpoint --config` reads,
// checked once at the boundary with ConfigErrors that name the field, then resolved (token and PEM files
// read) into what the endpoint runs with.
import { readFileSync } from 'node:fs';
import { ConfigError } from '@proxystore/core';
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '@proxystore/control';

/** TLS of an endpoint: PEM file paths, read at start. Also the TLS the endpoint uses to call its peers. */
export interface EndpointTlsConfig {
  /** The endpoint's certificate chain (PEM). */
  certFile: string;
  /** Its private key (PEM). */
  keyFile: string;
  /** CA certificate(s) that sign peers' certificates, and clients' when `requireClientCert`. */
  caFile?: string;
  /**
   * Refuse clients without a certificate signed by `caFile` (mutual TLS). Default false: `caFile` alone
   * only verifies peers. When true, the endpoint also presents its own certificate and key to its peers.
   */
  requireClientCert?: boolean;
}

/** Everything an endpoint is started with. JSON-safe: it is what the CLI writes to disk. */
export interface EndpointConfig {
  /** A human name, shown in identity and peer lists. */
  name: string;
  /** A UUID. Default: the one recorded in `storageDir`, else a fresh random one. */
  id?: string;
  /** Interface to listen on. Default '127.0.0.1'. */
  host?: string;
  /** Port to listen on; 0 picks a free one. Default 0. */
  port?: number;
  /** The address (host:port) clients and peers dial, when it differs from host:port (NAT, 0.0.0.0). */
  advertiseAddress?: string;
  /** Static peers (host:port). Their ids are learnt by asking each one. */
  peers?: string[];
  /** A directory endpoint (host:port): registered with on start and periodically, asked for unknown owners. */
  directory?: string;
  /** Objects are also written here (atomically) and reloaded on restart. */
  storageDir?: string;
  /** Bytes of objects held in memory. Default 1 GiB. With `storageDir` memory is a cache of the disk. */
  memoryLimit?: number;
  /** Largest object accepted, in bytes. Default 1 GiB. */
  maxObjectSize?: number;
  /** Bearer token every call must carry (and this endpoint sends to its peers). */
  token?: string;
  /** A file holding the token (trimmed); read at start. */
  tokenFile?: string;
  tls?: EndpointTlsConfig;
  /** HTTP/2 streams one client connection may have open at once. Default 100. */
  maxConcurrentStreams?: number;
  /** Bytes per get chunk. Default the control plane's (1 MiB). */
  chunkSize?: number;
}

export const GiB = 1024 * 1024 * 1024;
export const DEFAULT_MEMORY_LIMIT = GiB;
export const DEFAULT_MAX_OBJECT_SIZE = GiB;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** host:port, or [v6]:port: what ControlClient accepts. */
const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/;
const FIELDS = [
  'name',
  'id',
  'host',
  'port',
  'advertiseAddress',
  'peers',
  'directory',
  'storageDir',
  'memoryLimit',
  'maxObjectSize',
  'token',
  'tokenFile',
  'tls',
  'maxConcurrentStreams',
  'chunkSize',
] as const;
const TLS_FIELDS = ['certFile', 'keyFile', 'caFile', 'requireClientCert'] as const;

function fail(message: string): never {
  throw new ConfigError(`Endpoint config: ${message}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') fail(`'${name}' must be a non-empty string`);
  return value;
}

function int(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    fail(`'${name}' must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function checkAddress(value: unknown, name: string): string {
  if (typeof value !== 'string' || !ADDRESS.test(value)) {
    fail(`'${name}' must be an address host:port ([v6]:port for IPv6), got ${JSON.stringify(value)}`);
  }
  const port = Number(value.slice(value.lastIndexOf(':') + 1));
  if (port < 1 || port > 65535) fail(`'${name}' has a port out of 1..65535: ${value}`);
  return value;
}

/** True for a UUID (any version), the form endpoint ids take. */
export function isEndpointId(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** Checks `input` as an EndpointConfig; returns a copy with only the known fields. */
export function checkEndpointConfig(input: unknown): EndpointConfig {
  if (!isRecord(input)) fail('must be an object');
  for (const k of Object.keys(input)) {
    if (!(FIELDS as readonly string[]).includes(k)) fail(`unknown field '${k}' (known: ${FIELDS.join(', ')})`);
  }
  const name = str(input.name, 'name');
  if (name === undefined) fail(`'name' is required`);
  const out: EndpointConfig = { name };
  if (input.id !== undefined) {
    if (!isEndpointId(input.id)) fail(`'id' must be a UUID, got ${JSON.stringify(input.id)}`);
    out.id = input.id.toLowerCase();
  }
  const host = str(input.host, 'host');
  if (host !== undefined) out.host = host;
  const port = int(input.port, 'port', 0, 65535);
  if (port !== undefined) out.port = port;
  if (input.advertiseAddress !== undefined) out.advertiseAddress = checkAddress(input.advertiseAddress, 'advertiseAddress');
  if (input.peers !== undefined) {
    if (!Array.isArray(input.peers)) fail(`'peers' must be an array of addresses host:port`);
    out.peers = input.peers.map((p, i) => checkAddress(p, `peers[${i}]`));
  }
  if (input.directory !== undefined) out.directory = checkAddress(input.directory, 'directory');
  const storageDir = str(input.storageDir, 'storageDir');
  if (storageDir !== undefined) out.storageDir = storageDir;
  const memoryLimit = int(input.memoryLimit, 'memoryLimit', 0);
  if (memoryLimit !== undefined) out.memoryLimit = memoryLimit;
  const maxObjectSize = int(input.maxObjectSize, 'maxObjectSize', 0);
  if (maxObjectSize !== undefined) out.maxObjectSize = maxObjectSize;
  if (input.token !== undefined && input.tokenFile !== undefined) fail(`give 'token' or 'tokenFile', not both`);
  if (input.token !== undefined) {
    if (typeof input.token !== 'string' || !/^[\x21-\x7e]{1,4096}$/.test(input.token)) {
      fail(`'token' must be 1 to 4096 printable ASCII characters without spaces`);
    }
    out.token = input.token;
  }
  const tokenFile = str(input.tokenFile, 'tokenFile');
  if (tokenFile !== undefined) out.tokenFile = tokenFile;
  if (input.tls !== undefined) {
    const tls = input.tls;
    if (!isRecord(tls)) fail(`'tls' must be an object { certFile, keyFile, caFile?, requireClientCert? }`);
    for (const k of Object.keys(tls)) {
      if (!(TLS_FIELDS as readonly string[]).includes(k)) fail(`unknown field 'tls.${k}'`);
    }
    const certFile = str(tls.certFile, 'tls.certFile');
    const keyFile = str(tls.keyFile, 'tls.keyFile');
    if (certFile === undefined || keyFile === undefined) fail(`'tls' needs both 'certFile' and 'keyFile'`);
    const t: EndpointTlsConfig = { certFile, keyFile };
    const caFile = str(tls.caFile, 'tls.caFile');
    if (caFile !== undefined) t.caFile = caFile;
    if (tls.requireClientCert !== undefined) {
      if (typeof tls.requireClientCert !== 'boolean') fail(`'tls.requireClientCert' must be a boolean`);
      if (tls.requireClientCert && caFile === undefined) {
        fail(`'tls.requireClientCert' needs 'tls.caFile' (the CA that signs client certificates)`);
      }
      t.requireClientCert = tls.requireClientCert;
    }
    out.tls = t;
  }
  const streams = int(input.maxConcurrentStreams, 'maxConcurrentStreams', 1);
  if (streams !== undefined) out.maxConcurrentStreams = streams;
  const chunkSize = int(input.chunkSize, 'chunkSize', MIN_CHUNK_SIZE, MAX_CHUNK_SIZE);
  if (chunkSize !== undefined) out.chunkSize = chunkSize;
  return out;
}

/** Reads a file named by a config field, as a ConfigError naming the field when it cannot. */
export function readConfigFile(path: string, field: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`Endpoint config: cannot read '${field}' ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** The token from `token` or `tokenFile` (trimmed), or undefined when there is none. */
export function readToken(config: { token?: string; tokenFile?: string }, what = 'Endpoint config'): string | undefined {
  if (config.token !== undefined) return config.token;
  if (config.tokenFile === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(config.tokenFile, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`${what}: cannot read tokenFile ${config.tokenFile}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!/^[\x21-\x7e]{1,4096}$/.test(text)) {
    throw new ConfigError(
      `${what}: tokenFile ${config.tokenFile} must hold one token of 1 to 4096 printable ASCII characters`,
    );
  }
  return text;
}
