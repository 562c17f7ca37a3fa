// `endpoint configure`: command-line options → the EndpointConfig file that `endpoint start` runs, and
// the token that authenticates the endpoint by default. A re-configure of the same name keeps the
// endpoint's id (peers and keys name it) and its generated token (clients holding it keep working).
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '@proxystore/control';
import { type EndpointConfig, checkEndpointConfig } from '@proxystore/endpoint';
import { CliError } from './errors.js';
import type { EndpointPaths } from './home.js';
import { parseAddress, parseHost, parseInteger, parsePort, parseSize } from './values.js';

/** The options of `endpoint configure` as commander hands them over (every value still a string). */
export interface ConfigureOptions {
  host?: string;
  port?: string;
  advertiseAddress?: string;
  peer?: string[];
  directory?: string;
  storageDir?: string;
  memoryLimit?: string;
  maxObjectSize?: string;
  maxConcurrentStreams?: string;
  chunkSize?: string;
  tokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  requireClientCert?: boolean;
}

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 0;

function existingFile(path: string, what: string, cwd: string): string {
  const full = resolve(cwd, path);
  let isFile = false;
  try {
    isFile = statSync(full).isFile();
  } catch {
    // missing or unreadable: reported below
  }
  if (!isFile) throw new CliError('CLI_BAD_VALUE', `${what} ${JSON.stringify(path)} does not exist or is not a file`);
  return full;
}

/** The endpoint reads one token of printable ASCII (trimmed): say so now rather than at start. */
function checkTokenFile(path: string): string {
  const token = readFileSync(path, 'utf8').trim();
  if (!/^[\x21-\x7e]{1,4096}$/.test(token)) {
    throw new CliError('CLI_BAD_VALUE', `--token-file ${path} must hold one token of 1 to 4096 printable ASCII characters (no spaces)`);
  }
  return path;
}

/**
 * Validates the options and builds the config. The token file is `tokenFile` when given, else the
 * caller's generated one (`generatedTokenFile`). Paths become absolute against `cwd`: the endpoint
 * runs from wherever `start` is called.
 */
export function buildConfig(
  name: string,
  id: string,
  options: ConfigureOptions,
  generatedTokenFile: string,
  cwd = process.cwd(),
): EndpointConfig {
  const config: EndpointConfig = {
    name,
    id,
    host: options.host === undefined ? DEFAULT_HOST : parseHost(options.host),
    port: options.port === undefined ? DEFAULT_PORT : parsePort(options.port),
    tokenFile: options.tokenFile === undefined ? generatedTokenFile : checkTokenFile(existingFile(options.tokenFile, '--token-file', cwd)),
  };
  if (options.advertiseAddress !== undefined) config.advertiseAddress = parseAddress(options.advertiseAddress, '--advertise-address');
  if (options.peer !== undefined && options.peer.length > 0) {
    config.peers = [...new Set(options.peer.map((p) => parseAddress(p, '--peer')))];
  }
  if (options.directory !== undefined) config.directory = parseAddress(options.directory, '--directory');
  if (options.storageDir !== undefined) {
    if (options.storageDir.trim() === '') throw new CliError('CLI_BAD_VALUE', '--storage-dir must not be empty');
    config.storageDir = resolve(cwd, options.storageDir);
  }
  if (options.memoryLimit !== undefined) config.memoryLimit = parseSize(options.memoryLimit, '--memory-limit');
  if (options.maxObjectSize !== undefined) config.maxObjectSize = parseSize(options.maxObjectSize, '--max-object-size');
  if (options.chunkSize !== undefined) {
    const chunkSize = parseSize(options.chunkSize, '--chunk-size');
    if (chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
      throw new CliError(
        'CLI_BAD_VALUE',
        `invalid --chunk-size ${JSON.stringify(options.chunkSize)}: must be from ${MIN_CHUNK_SIZE / 1024} KiB to ${MAX_CHUNK_SIZE / 1024 / 1024} MiB`,
      );
    }
    config.chunkSize = chunkSize;
  }
  if (options.maxConcurrentStreams !== undefined) {
    config.maxConcurrentStreams = parseInteger(options.maxConcurrentStreams, '--max-concurrent-streams', 1, 1_000_000);
  }
  const tlsGiven = options.tlsCert !== undefined || options.tlsKey !== undefined || options.tlsCa !== undefined;
  if (tlsGiven || options.requireClientCert === true) {
    if (options.tlsCert === undefined || options.tlsKey === undefined) {
      throw new CliError('CLI_BAD_VALUE', 'TLS needs both --tls-cert and --tls-key');
    }
    if (options.requireClientCert === true && options.tlsCa === undefined) {
      throw new CliError('CLI_BAD_VALUE', '--require-client-cert needs --tls-ca (the CA that signs client certificates)');
    }
    config.tls = {
      certFile: existingFile(options.tlsCert, '--tls-cert', cwd),
      keyFile: existingFile(options.tlsKey, '--tls-key', cwd),
    };
    if (options.tlsCa !== undefined) config.tls.caFile = existingFile(options.tlsCa, '--tls-ca', cwd);
    if (options.requireClientCert === true) config.tls.requireClientCert = true;
  }
  // The endpoint's own check, so that what configure accepts is what start accepts.
  try {
    return checkEndpointConfig(config);
  } catch (error) {
    throw new CliError('CLI_BAD_VALUE', error instanceof Error ? error.message : String(error), { cause: error });
  }
}

/** The saved config, or undefined when the endpoint was never configured. A corrupt file is an error. */
export function readConfig(paths: EndpointPaths): EndpointConfig | undefined {
  let text: string;
  try {
    text = readFileSync(paths.config, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CliError('CLI_BAD_VALUE', `${paths.config} is not valid JSON; run \`proxystore endpoint configure ${paths.name}\` again`, {
      cause: error,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { name?: unknown }).name !== 'string') {
    throw new CliError('CLI_BAD_VALUE', `${paths.config} is not an endpoint config; run \`proxystore endpoint configure ${paths.name}\` again`);
  }
  return parsed as EndpointConfig;
}

/** readConfig, or the error a command on an unknown endpoint gives. */
export function requireConfig(paths: EndpointPaths): EndpointConfig {
  const config = readConfig(paths);
  if (config === undefined) {
    throw new CliError(
      'CLI_NOT_CONFIGURED',
      `no endpoint named ${paths.name}; create it with \`proxystore endpoint configure ${paths.name}\``,
    );
  }
  return config;
}

/** Replaces `path` in one step (write a sibling, rename), so a reader never sees half a file. */
export function writeFileAtomic(path: string, text: string, mode = 0o600): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, path);
}

export interface ConfigureResult {
  config: EndpointConfig;
  /** True when the endpoint existed and kept its id. */
  reconfigured: boolean;
  /** The token file written by this call, when one was generated (undefined when kept or given). */
  generatedToken?: string;
}

/** configure: validate, keep the id (and generated token) of an existing endpoint, write both files. */
export function configureEndpoint(paths: EndpointPaths, options: ConfigureOptions, cwd = process.cwd()): ConfigureResult {
  const previous = readConfig(paths);
  const id = typeof previous?.id === 'string' ? previous.id : randomUUID();
  // Validate everything before touching the disk: a bad flag leaves the old config as it was.
  const config = buildConfig(paths.name, id, options, paths.token, cwd);
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const result: ConfigureResult = { config, reconfigured: previous !== undefined };
  if (options.tokenFile === undefined && !existsSync(paths.token)) {
    // 32 random bytes: unguessable, and printable so it can be pasted into a client's config.
    writeFileAtomic(paths.token, `${randomBytes(32).toString('base64url')}\n`, 0o600);
    chmodSync(paths.token, 0o600);
    result.generatedToken = paths.token;
  }
  writeFileAtomic(paths.config, `${JSON.stringify(config, null, 2)}\n`, 0o600);
  return result;
}
