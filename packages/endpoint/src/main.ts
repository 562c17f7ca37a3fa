#!/usr/bin/env node
// proxystore-endpoint: runs one endpoint in the foreground. The config comes from `--config <file.json>`
// (an EndpointConfig) and/or flags (flags win). Prints exactly one line `ready <json>` on stdout once
// listening (what scripts and tests wait for), logs to stderr, and closes cleanly on SIGTERM or SIGINT.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runDaemon } from '@proxystore/control';
import { ConfigError } from '@proxystore/core';
import { checkEndpointConfig, type EndpointConfig } from './config.js';
import { Endpoint } from './endpoint.js';

const USAGE = `Usage: proxystore-endpoint [--config <file.json>] [options]

Runs one ProxyStore endpoint until SIGTERM or SIGINT. Options override the config file.
  --config <file>               an EndpointConfig as JSON
  --name <name>                 endpoint name (required unless in the config)
  --id <uuid>                   endpoint id (default: from --storage-dir, else random)
  --host <host>                 interface to listen on (default 127.0.0.1)
  --port <port>                 port (default 0: any free port)
  --advertise-address <h:p>     the address clients and peers dial
  --peer <host:port>            a static peer (repeatable)
  --directory <host:port>       a directory endpoint to register with
  --storage-dir <dir>           persist objects there (reloaded on restart)
  --memory-limit <bytes>        bytes of objects in memory (default 1 GiB)
  --max-object-size <bytes>     largest object accepted (default 1 GiB)
  --token-file <file>           bearer token file
  --tls-cert <file> --tls-key <file> [--tls-ca <file>] [--require-client-cert]
                                TLS; --tls-ca verifies peers, and with --require-client-cert
                                clients and peers must present a certificate signed by it
  --max-concurrent-streams <n>  HTTP/2 streams per client connection (default 100)
  --chunk-size <bytes>          bytes per get chunk
`;

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new ConfigError(`${flag} must be an integer, got '${value}'`);
  return n;
}

function configFromArgs(argv: string[]): EndpointConfig | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      config: { type: 'string' },
      name: { type: 'string' },
      id: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'advertise-address': { type: 'string' },
      peer: { type: 'string', multiple: true },
      directory: { type: 'string' },
      'storage-dir': { type: 'string' },
      'memory-limit': { type: 'string' },
      'max-object-size': { type: 'string' },
      'token-file': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      'require-client-cert': { type: 'boolean' },
      'max-concurrent-streams': { type: 'string' },
      'chunk-size': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return null;
  let base: Record<string, unknown> = {};
  if (values.config !== undefined) {
    try {
      base = JSON.parse(readFileSync(values.config, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`cannot read --config ${values.config}: ${(err as Error).message}`, { cause: err });
    }
  }
  const set = (field: string, value: unknown): void => {
    if (value !== undefined) base[field] = value;
  };
  set('name', values.name);
  set('id', values.id);
  set('host', values.host);
  set('port', integer(values.port, '--port'));
  set('advertiseAddress', values['advertise-address']);
  set('peers', values.peer);
  set('directory', values.directory);
  set('storageDir', values['storage-dir']);
  set('memoryLimit', integer(values['memory-limit'], '--memory-limit'));
  set('maxObjectSize', integer(values['max-object-size'], '--max-object-size'));
  if (values['token-file'] !== undefined) {
    delete base.token;
    base.tokenFile = values['token-file'];
  }
  if (values['tls-cert'] !== undefined || values['tls-key'] !== undefined) {
    const tls: Record<string, unknown> = { certFile: values['tls-cert'], keyFile: values['tls-key'] };
    if (values['tls-ca'] !== undefined) tls.caFile = values['tls-ca'];
    if (values['require-client-cert'] === true) tls.requireClientCert = true;
    base.tls = tls;
  }
  set('maxConcurrentStreams', integer(values['max-concurrent-streams'], '--max-concurrent-streams'));
  set('chunkSize', integer(values['chunk-size'], '--chunk-size'));
  return checkEndpointConfig(base);
}

await runDaemon({
  name: 'proxystore-endpoint',
  usage: USAGE,
  parse: configFromArgs,
  start: (config: EndpointConfig) => Endpoint.start(config),
  ready: (endpoint) => ({
    log: `endpoint ${endpoint.id} (${endpoint.name}) listening on ${endpoint.address}`,
    fields: { id: endpoint.id, name: endpoint.name, address: endpoint.address },
  }),
});
