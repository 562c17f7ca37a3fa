// An Endpoint started in this thread: its config is checked with ConfigErrors that name the field, and a
// proxy of an object it owns resolves synchronously here through getLocal (no sync bridge, which would
// wait on this very thread); a key another endpoint owns is ENDPOINT_SYNC_SELF, at once, not a hang.
import { randomUUID } from 'node:crypto';
import { ConfigError, Store, syncBridgeStats, toReference } from '@proxystore/core';
import { Endpoint, EndpointConnector, type EndpointConfig, type EndpointKey } from '@proxystore/endpoint';
import { describe, expect, it } from 'vitest';

describe('Endpoint.start', () => {
  it.each<[string, unknown, RegExp]>([
    ['no name', {}, /'name' is required/],
    ['an unknown field', { name: 'x', prot: 1 }, /unknown field 'prot'/],
    ['a bad id', { name: 'x', id: 'abc' }, /'id' must be a UUID/],
    ['a bad peer', { name: 'x', peers: ['nowhere'] }, /'peers\[0\]' must be an address/],
    ['a port out of range', { name: 'x', port: 70000 }, /'port' must be an integer from 0 to 65535/],
    ['token and tokenFile', { name: 'x', token: 'a', tokenFile: '/t' }, /not both/],
    ['a missing token file', { name: 'x', tokenFile: '/nonexistent/token' }, /cannot read tokenFile/],
    ['tls without a key', { name: 'x', tls: { certFile: '/c' } }, /needs both 'certFile' and 'keyFile'/],
    ['client certs without a CA', { name: 'x', tls: { certFile: '/c', keyFile: '/k', requireClientCert: true } }, /needs 'tls.caFile'/],
    ['a chunk size out of range', { name: 'x', chunkSize: 10 }, /'chunkSize' must be an integer/],
  ])('refuses %s with a ConfigError', async (_what, config, message) => {
    const err = await Endpoint.start(config as EndpointConfig).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
  });

  it('close is idempotent and [Symbol.asyncDispose] closes', async () => {
    const id = randomUUID();
    const ep = await Endpoint.start({ name: 'in-process', id });
    expect(ep.id).toBe(id);
    expect(ep.address).toMatch(/^127\.0\.0\.1:\d+$/);
    await ep.close();
    await ep.close();
    {
      await using again = await Endpoint.start({ name: 'disposed' });
      expect(again.objects).toBe(0);
    }
  });
});

describe('a proxy of an object owned by an endpoint in this thread', () => {
  it('resolves synchronously through getLocal, not the sync bridge', async () => {
    await using ep = await Endpoint.start({ name: 'local' });
    await using store = new Store('endpoint-in-process', new EndpointConnector({ address: ep.address }));
    const p = await store.proxy({ values: new Float64Array([1, 2, 3]), label: 'here' });
    const fresh = store.proxyFromKey<{ values: Float64Array; label: string }>(toReference(p).key as EndpointKey);
    const requests = syncBridgeStats().requests;
    expect(fresh.label).toBe('here');
    expect(fresh.values.length).toBe(3);
    expect(syncBridgeStats().requests).toBe(requests);
    await store.close({ clear: true });
  });

  it('a key owned elsewhere, read synchronously through this thread\'s endpoint, is ENDPOINT_SYNC_SELF', async () => {
    await using ep = await Endpoint.start({ name: 'local-other' });
    await using connector = new EndpointConnector({ address: ep.address });
    const elsewhere: EndpointKey = { kind: 'endpoint', id: 'x', endpoint: randomUUID() };
    expect(() => connector.getLocal(elsewhere)).toThrow(expect.objectContaining({ code: 'ENDPOINT_SYNC_SELF' }));
    const mine: EndpointKey = { kind: 'endpoint', id: 'x', endpoint: ep.id };
    expect(connector.getLocal(mine)).toBeNull();
  });

  it('a connector to an endpoint in another process leaves the read to the sync bridge (undefined)', () => {
    const connector = new EndpointConnector({ address: '127.0.0.1:1' });
    expect(connector.getLocal({ kind: 'endpoint', id: 'x', endpoint: randomUUID() })).toBeUndefined();
    return connector.close();
  });
});
