import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildConfig, configureEndpoint, readConfig, requireConfig } from './config.js';
import { CliError } from './errors.js';
import { type EndpointPaths, endpointPaths } from './home.js';

let home: string;
let paths: EndpointPaths;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'proxystore-cli-config-'));
  paths = endpointPaths(home, 'ep1');
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

const ID = '6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('buildConfig', () => {
  it('defaults to loopback, a free port and the generated token file', () => {
    expect(buildConfig('ep1', ID, {}, '/t/token', home)).toEqual({ name: 'ep1', id: ID, host: '127.0.0.1', port: 0, tokenFile: '/t/token' });
  });

  it('parses every option: sizes with units, repeated peers (deduplicated), absolute paths', () => {
    const config = buildConfig(
      'ep1',
      ID,
      {
        host: '0.0.0.0',
        port: '7000',
        advertiseAddress: 'node1:7000',
        peer: ['node2:7000', 'node3:7000', 'node2:7000'],
        directory: 'dir.example:7100',
        storageDir: 'spill',
        memoryLimit: '512MiB',
        maxObjectSize: '1GB',
        chunkSize: '1MiB',
        maxConcurrentStreams: '32',
      },
      '/t/token',
      home,
    );
    expect(config).toEqual({
      name: 'ep1',
      id: ID,
      host: '0.0.0.0',
      port: 7000,
      advertiseAddress: 'node1:7000',
      peers: ['node2:7000', 'node3:7000'],
      directory: 'dir.example:7100',
      storageDir: join(home, 'spill'),
      memoryLimit: 512 * 1024 * 1024,
      maxObjectSize: 1e9,
      chunkSize: 1024 * 1024,
      maxConcurrentStreams: 32,
      tokenFile: '/t/token',
    });
  });

  it('refuses bad values with the option in the message', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ port: '99999' }, /--port/],
      [{ peer: ['nope'] }, /--peer/],
      [{ directory: 'x:0' }, /--directory/],
      [{ memoryLimit: 'lots' }, /--memory-limit/],
      [{ chunkSize: '1KiB' }, /--chunk-size.*4 KiB to 4 MiB/],
      [{ tokenFile: 'missing' }, /--token-file "missing" does not exist/],
      [{ tlsCert: 'c.pem' }, /both --tls-cert and --tls-key/],
    ];
    for (const [options, message] of bad) {
      expect(() => buildConfig('ep1', ID, options, '/t', home)).toThrow(message);
    }
  });

  it('checks TLS files exist, and that --require-client-cert has a CA', () => {
    for (const f of ['c.pem', 'k.pem', 'ca.pem']) writeFileSync(join(home, f), 'pem');
    expect(() => buildConfig('ep1', ID, { tlsCert: 'c.pem', tlsKey: 'k.pem', requireClientCert: true }, '/t', home)).toThrow(/needs --tls-ca/);
    expect(() => buildConfig('ep1', ID, { tlsCert: 'c.pem', tlsKey: 'nokey.pem' }, '/t', home)).toThrow(/--tls-key "nokey.pem" does not exist/);
    expect(buildConfig('ep1', ID, { tlsCert: 'c.pem', tlsKey: 'k.pem', tlsCa: 'ca.pem', requireClientCert: true }, '/t', home).tls).toEqual({
      certFile: join(home, 'c.pem'),
      keyFile: join(home, 'k.pem'),
      caFile: join(home, 'ca.pem'),
      requireClientCert: true,
    });
  });

  it('takes a token file that holds one printable token, not an empty or spaced one', () => {
    writeFileSync(join(home, 'good'), 's3cret-token\n');
    writeFileSync(join(home, 'empty'), '\n');
    writeFileSync(join(home, 'spaced'), 'two words');
    expect(buildConfig('ep1', ID, { tokenFile: 'good' }, '/t', home).tokenFile).toBe(join(home, 'good'));
    expect(() => buildConfig('ep1', ID, { tokenFile: 'empty' }, '/t', home)).toThrow(/printable ASCII/);
    expect(() => buildConfig('ep1', ID, { tokenFile: 'spaced' }, '/t', home)).toThrow(/printable ASCII/);
  });
});

describe('configureEndpoint', () => {
  it('writes endpoint.json with a fresh uuid and a generated 0600 token', () => {
    const result = configureEndpoint(paths, {}, home);
    expect(result.reconfigured).toBe(false);
    expect(result.generatedToken).toBe(paths.token);
    expect(result.config.id).toMatch(UUID);
    expect(readConfig(paths)).toEqual(result.config);
    expect(statSync(paths.token).mode & 0o777).toBe(0o600);
    expect(readFileSync(paths.token, 'utf8').trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('keeps the id and the generated token across a re-configure, and applies the new options', () => {
    const first = configureEndpoint(paths, { port: '7000' }, home);
    const token = readFileSync(paths.token, 'utf8');
    const second = configureEndpoint(paths, { memoryLimit: '1GiB' }, home);
    expect(second.reconfigured).toBe(true);
    expect(second.generatedToken).toBeUndefined();
    expect(second.config.id).toBe(first.config.id);
    expect(second.config.port).toBe(0);
    expect(second.config.memoryLimit).toBe(1024 ** 3);
    expect(readFileSync(paths.token, 'utf8')).toBe(token);
  });

  it('uses a given token file and generates none', () => {
    writeFileSync(join(home, 'tok'), 'abc');
    const result = configureEndpoint(paths, { tokenFile: 'tok' }, home);
    expect(result.config.tokenFile).toBe(join(home, 'tok'));
    expect(() => statSync(paths.token)).toThrow();
  });

  it('leaves nothing behind (and an existing config untouched) when an option is bad', () => {
    expect(() => configureEndpoint(paths, { port: 'x' }, home)).toThrow(CliError);
    expect(readConfig(paths)).toBeUndefined();
    configureEndpoint(paths, { port: '7000' }, home);
    expect(() => configureEndpoint(paths, { port: 'x' }, home)).toThrow(CliError);
    expect(readConfig(paths)?.port).toBe(7000);
  });

  it('requireConfig names the configure command for an unknown endpoint, and refuses a corrupt file', () => {
    expect(() => requireConfig(paths)).toThrow(/proxystore endpoint configure ep1/);
    configureEndpoint(paths, {}, home);
    writeFileSync(paths.config, '{ nope');
    expect(() => requireConfig(paths)).toThrow(/not valid JSON/);
  });
});
