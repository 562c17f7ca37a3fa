// Bearer tokens and TLS, against endpoint processes: a wrong or missing token is CONTROL_UNAUTHENTICATED
// with a message that says which; peers forward with the shared token; TLS with a server certificate, and
// with client certificates required (a client without one is refused), peers included.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ControlError, EndpointConnector, type EndpointConnectorOptions } from '@proxystore/endpoint';
import type { TestCertificates } from '@proxystore/endpoint/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, makeTestCertificates, opensslUnavailable, pattern, same, useProcesses } from './endpoints.js';

const TOKEN = 'deployment-secret-1';
const processes = useProcesses();
const opened: EndpointConnector[] = [];
function connect(options: EndpointConnectorOptions): EndpointConnector {
  const c = new EndpointConnector(options);
  opened.push(c);
  return c;
}
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close().catch(() => {});
});

describe('bearer tokens', () => {
  it('a wrong token and a missing token are CONTROL_UNAUTHENTICATED, each with a message that says so', async () => {
    const ep = await processes.start({ token: TOKEN });
    const wrong = await connect({ address: ep.address, token: 'not-the-secret' })
      .put([pattern(10)])
      .catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(ControlError);
    expect(wrong).toMatchObject({ code: 'CONTROL_UNAUTHENTICATED' });
    expect((wrong as Error).message).toMatch(/token is not one this endpoint accepts/);

    const none = connect({ address: ep.address });
    const missing = await none.exists({ kind: 'endpoint', id: 'x', endpoint: ep.id }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'CONTROL_UNAUTHENTICATED' });
    expect((missing as Error).message).toMatch(/requires a bearer token/);
    await expect(none.get({ kind: 'endpoint', id: 'x', endpoint: ep.id })).rejects.toMatchObject({
      code: 'CONTROL_UNAUTHENTICATED',
    });

    const right = connect({ address: ep.address, token: TOKEN });
    const key = await right.put([pattern(10)]);
    expect(await right.exists(key)).toBe(true);
  });

  it('endpoints that share a token forward to each other; a token file works like the token', async () => {
    const dir = processes.tempDir();
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await processes.start({ port: pa, tokenFile, peers: [`127.0.0.1:${pb}`] });
    const b = await processes.start({ port: pb, token: TOKEN, peers: [`127.0.0.1:${pa}`] });
    const atA = connect({ address: a.address, tokenFile });
    const atB = connect({ address: b.address, token: TOKEN });
    const frames = [pattern(300_000)];
    const key = await atA.put(frames);
    expect(same((await atB.get(key))?.[0], frames[0])).toBe(true);
    // The token file's path travels in the config, not the token.
    expect(JSON.stringify(atA.config())).not.toContain(TOKEN);
  });

  it('a revived connector takes its token from PROXYSTORE_ENDPOINT_TOKEN when its config has none', async () => {
    const ep = await processes.start({ token: TOKEN });
    const saved = process.env.PROXYSTORE_ENDPOINT_TOKEN;
    process.env.PROXYSTORE_ENDPOINT_TOKEN = TOKEN;
    try {
      const revived = EndpointConnector.fromConfig({ address: ep.address });
      opened.push(revived);
      expect(await revived.exists(await revived.put([pattern(3)]))).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.PROXYSTORE_ENDPOINT_TOKEN;
      else process.env.PROXYSTORE_ENDPOINT_TOKEN = saved;
    }
  });

  it("the environment's token replaces a config's token or token file (another site's path may not exist here)", async () => {
    const ep = await processes.start({ token: TOKEN });
    const saved = process.env.PROXYSTORE_ENDPOINT_TOKEN;
    process.env.PROXYSTORE_ENDPOINT_TOKEN = TOKEN;
    try {
      for (const config of [
        { address: ep.address, token: 'the-producer-sites-token' },
        { address: ep.address, tokenFile: '/nonexistent/site-a/token' },
      ]) {
        const revived = EndpointConnector.fromConfig(config);
        opened.push(revived);
        expect(await revived.exists(await revived.put([pattern(3)]))).toBe(true);
      }
    } finally {
      if (saved === undefined) delete process.env.PROXYSTORE_ENDPOINT_TOKEN;
      else process.env.PROXYSTORE_ENDPOINT_TOKEN = saved;
    }
    // Without the environment the config's credentials are used: here, a wrong token is refused.
    const plain = EndpointConnector.fromConfig({ address: ep.address, token: 'the-producer-sites-token' });
    opened.push(plain);
    await expect(plain.exists({ kind: 'endpoint', id: 'x', endpoint: ep.id })).rejects.toMatchObject({
      code: 'CONTROL_UNAUTHENTICATED',
    });
  });
});

describe.skipIf(opensslUnavailable() !== null)('TLS', () => {
  let certs: TestCertificates;
  beforeAll(() => {
    certs = makeTestCertificates();
  });
  afterAll(() => certs?.remove());

  it('with a server certificate: a client that trusts the CA round-trips; one that does not is refused', async () => {
    const ep = await processes.start({ tls: { certFile: certs.certFile, keyFile: certs.keyFile } });
    const good = connect({ address: ep.address, tls: { caFile: certs.caFile } });
    const frames = [pattern(200_000)];
    const key = await good.put(frames);
    expect(same((await good.get(key))?.[0], frames[0])).toBe(true);

    const distrust = connect({ address: ep.address, tls: { caFile: certs.otherCaFile }, timeoutMs: 5000 });
    const refused = await distrust.exists(key).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ControlError);
    expect(refused).toMatchObject({ code: 'CONTROL_UNAVAILABLE' });

    const plaintext = connect({ address: ep.address, timeoutMs: 5000 });
    await expect(plaintext.exists(key)).rejects.toBeInstanceOf(ControlError);
  });

  it('with client certificates required: no client certificate is refused, one signed by the CA is served, and peers present theirs', async () => {
    const tls = { certFile: certs.certFile, keyFile: certs.keyFile, caFile: certs.caFile, requireClientCert: true };
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await processes.start({ port: pa, tls, token: TOKEN, peers: [`127.0.0.1:${pb}`] });
    const b = await processes.start({ port: pb, tls, token: TOKEN, peers: [`127.0.0.1:${pa}`] });

    const anonymous = connect({ address: a.address, token: TOKEN, tls: { caFile: certs.caFile }, timeoutMs: 5000 });
    const refused = await anonymous.put([pattern(10)]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ControlError);
    expect(refused).toMatchObject({ code: 'CONTROL_UNAVAILABLE' });
    // Nothing was stored by the refused put.
    const tlsClient = { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile };
    const atA = connect({ address: a.address, token: TOKEN, tls: tlsClient });
    expect((await atA.client.identity()).objects).toBe(0);

    const frames = [pattern(150_000)];
    const key = await atA.put(frames);
    const anonymousAtB = connect({ address: b.address, token: TOKEN, tls: { caFile: certs.caFile }, timeoutMs: 5000 });
    await expect(anonymousAtB.exists(key)).rejects.toMatchObject({ code: 'CONTROL_UNAVAILABLE' });
    const atB = connect({ address: b.address, token: TOKEN, tls: tlsClient });
    expect(same((await atB.get(key))?.[0], frames[0])).toBe(true);
  });
});
