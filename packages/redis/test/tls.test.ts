// TLS against a real redis-server with a throwaway self-signed certificate (made with the openssl CLI;
// skipped where there is none): a connector with the CA file connects, one without it is refused.
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectorError, connectorFromConfig } from '@proxystore/core';
import { RedisConnector } from '@proxystore/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisTestServer } from './servers.js';
import { freePort } from '@proxystore/redis/testing';

const haveOpenssl = spawnSync('openssl', ['version']).status === 0;

describe.skipIf(!haveOpenssl)('RedisConnector over TLS', () => {
  let dir: string;
  let server: RedisTestServer;
  let tlsPort: number;
  const opened: RedisConnector[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'proxystore-redis-tls-'));
    const made = spawnSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { encoding: 'utf8' },
    );
    if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
    tlsPort = await freePort();
    server = await RedisTestServer.start({
      args: ['--tls-port', String(tlsPort), '--tls-cert-file', join(dir, 'cert.pem'),
        '--tls-key-file', join(dir, 'key.pem'), '--tls-ca-cert-file', join(dir, 'cert.pem'),
        '--tls-auth-clients', 'no'],
    });
  });
  afterAll(async () => {
    for (const c of opened) await c.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips an object with the CA given as a file, and a revived connector does too', async () => {
    const c = new RedisConnector({ host: '127.0.0.1', port: tlsPort, tls: { caFile: join(dir, 'cert.pem') } });
    opened.push(c);
    const frames = [randomFillSync(new Uint8Array(100_000))];
    const key = await c.put(frames);
    expect(Buffer.from((await c.get(key))?.[0] ?? []).equals(Buffer.from(frames[0] as Uint8Array))).toBe(true);
    expect(c.config().options.tls).toEqual({ caFile: join(dir, 'cert.pem') });
    const revived = connectorFromConfig(c.config());
    expect(await revived.exists(key)).toBe(true);
    await revived.close();
  });

  it('connects by rediss:// url', async () => {
    const c = new RedisConnector({ url: `rediss://127.0.0.1:${tlsPort}`, tls: { caFile: join(dir, 'cert.pem') }, timeoutMs: 2000 });
    opened.push(c);
    expect(await c.exists(await c.put([new Uint8Array(3)]))).toBe(true);
  });

  it('refuses a server whose certificate it cannot verify, as a typed error', async () => {
    const c = new RedisConnector({ host: '127.0.0.1', port: tlsPort, tls: true, timeoutMs: 1000 });
    opened.push(c);
    const err = await c.put([new Uint8Array(1)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err).toMatchObject({ code: 'REDIS_UNAVAILABLE' });
  });
});
