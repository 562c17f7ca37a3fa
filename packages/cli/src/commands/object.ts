// `proxystore endpoint test NAME put|get|exists|evict ARG`: one store operation against the running
// endpoint, authenticated with its own token (and TLS files), to check that it serves. Values go through
// a core Store, so what `put` stores is what any ProxyStore program reads back from the same key.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { inspect } from 'node:util';
import { Store } from '@proxystore/core';
import { EndpointConnector } from '@proxystore/endpoint';
import type { EndpointConfig, EndpointConnectorOptions, EndpointTlsOptions } from '@proxystore/endpoint';
import { requireConfig } from '../config.js';
import { readState } from '../daemon.js';
import { CliError } from '../errors.js';
import { endpointPaths } from '../home.js';
import type { Context } from './context.js';

export const OPERATIONS = ['put', 'get', 'exists', 'evict'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** `text` as is; `@path` the file's bytes; `@-` standard input; `@@text` the literal `@text`. */
export function valueOf(arg: string, cwd: string): string | Uint8Array {
  if (arg.startsWith('@@')) return arg.slice(1);
  if (!arg.startsWith('@')) return arg;
  const path = arg.slice(1);
  try {
    return new Uint8Array(readFileSync(path === '-' ? 0 : resolve(cwd, path)));
  } catch (error) {
    throw new CliError('CLI_BAD_VALUE', `cannot read ${path === '-' ? 'standard input' : path}: ${(error as Error).message}`, { cause: error });
  }
}

export function parseKey(text: string): Record<string, unknown> {
  let key: unknown;
  try {
    key = JSON.parse(text);
  } catch {
    throw new CliError('CLI_BAD_VALUE', `invalid key ${JSON.stringify(text)}: expected the JSON printed by \`put\``);
  }
  if (typeof key !== 'object' || key === null || Array.isArray(key) || (key as { kind?: unknown }).kind !== 'endpoint') {
    throw new CliError('CLI_BAD_VALUE', `invalid key ${JSON.stringify(text)}: expected a JSON object with "kind": "endpoint"`);
  }
  return key as Record<string, unknown>;
}

/** The connector options a client of this endpoint needs: its address, its token, and TLS to trust it. */
export function connectorOptions(config: EndpointConfig, address: string): EndpointConnectorOptions {
  const options: EndpointConnectorOptions = { address };
  if (config.tokenFile !== undefined) options.tokenFile = config.tokenFile;
  if (config.token !== undefined) options.token = config.token;
  if (config.tls !== undefined) {
    // Without a CA the server's own certificate is the trust anchor (a self-signed endpoint); when the
    // endpoint asks for client certificates, this local client presents the endpoint's own pair.
    const tls: EndpointTlsOptions = { caFile: config.tls.caFile ?? config.tls.certFile };
    if (config.tls.requireClientCert === true) {
      tls.certFile = config.tls.certFile;
      tls.keyFile = config.tls.keyFile;
    }
    options.tls = tls;
  }
  return options;
}

function printValue(ctx: Context, value: unknown): void {
  if (typeof value === 'string') ctx.io.out(value.endsWith('\n') ? value : `${value}\n`);
  else if (ArrayBuffer.isView(value)) ctx.io.out(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
  else if (value instanceof ArrayBuffer) ctx.io.out(new Uint8Array(value));
  else ctx.io.out(`${inspect(value, { depth: 6, colors: false })}\n`);
}

export async function objectOperation(ctx: Context, name: string, op: Operation, arg: string | undefined): Promise<number> {
  if (arg === undefined) {
    throw new CliError('CLI_BAD_VALUE', op === 'put' ? '`put` needs a value: text, @file or @- (standard input)' : `\`${op}\` needs a key (the JSON printed by \`put\`)`);
  }
  const paths = endpointPaths(ctx.home, name);
  const config = requireConfig(paths);
  const state = readState(paths);
  if (state.state !== 'running' || state.status === undefined) {
    throw new CliError(
      'CLI_NOT_RUNNING',
      state.state === 'running'
        ? `endpoint ${name} is starting (pid ${state.pid}); try again when it is ready`
        : `endpoint ${name} is not running; start it with \`proxystore endpoint start ${name} --detach\``,
    );
  }
  // Parse before connecting, so a bad argument fails fast and plainly.
  const value = op === 'put' ? valueOf(arg, ctx.cwd) : undefined;
  const key = op === 'put' ? undefined : parseKey(arg);
  const store = new Store('proxystore-cli', new EndpointConnector(connectorOptions(config, state.status.address)), {
    cacheSize: 0,
    metrics: false,
  });
  try {
    switch (op) {
      case 'put':
        ctx.io.out(`${JSON.stringify(await store.put(value))}\n`);
        return 0;
      case 'get': {
        const found = await store.get(key as never, { default: MISSING });
        if (found === MISSING) throw new CliError('CLI_MISSING_OBJECT', `no object under key ${arg}`);
        printValue(ctx, found);
        return 0;
      }
      case 'exists':
        ctx.io.out(`${await store.exists(key as never)}\n`);
        return 0;
      case 'evict':
        await store.evict(key as never);
        ctx.io.out('evicted\n');
        return 0;
    }
  } finally {
    await store.close();
  }
}

const MISSING = Symbol('missing');
