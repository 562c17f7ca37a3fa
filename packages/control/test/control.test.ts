// The control plane end to end: a real grpc-js server on loopback with in-memory handlers, and the typed
// client. Covers the streams at chunk boundaries, the token, TLS, limits, cancellation, deadlines and a
// server that dies mid-stream.
import { randomUUID } from 'node:crypto';
import { Client, Metadata, credentials } from '@grpc/grpc-js';
import {
  ControlClient,
  ControlError,
  ControlServer,
  ControlService,
  type ControlHandlers,
  type ObjectSource,
} from '@proxystore/control';
import { makeTestCertificates, opensslUnavailable, type TestCertificates } from '@proxystore/control/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const CHUNK = 64 * 1024;
const TOKEN = 'test-token-1234';

interface Fixture {
  server: ControlServer;
  objects: Map<string, Uint8Array[]>;
  address: string;
  /** Calls the handlers saw, by name. */
  seen: string[];
}

const servers: ControlServer[] = [];
const clients: ControlClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close({ graceMs: 100 });
});

function handlers(objects: Map<string, Uint8Array[]>, seen: string[], extra: Partial<ControlHandlers> = {}): ControlHandlers {
  return {
    put: ({ id, frames, size }) => {
      seen.push('put');
      const key = id || randomUUID();
      objects.set(key, frames);
      return { id: key, owner: 'test-endpoint', size };
    },
    get: (ref): ObjectSource | null => {
      seen.push('get');
      const frames = objects.get(ref.id);
      return frames === undefined ? null : { frames };
    },
    exists: (ref) => objects.has(ref.id),
    evict: (ref) => objects.delete(ref.id),
    stat: (ref) => {
      const frames = objects.get(ref.id);
      if (frames === undefined) return null;
      const frameLengths = frames.map((f) => f.byteLength);
      return {
        size: frameLengths.reduce((a, b) => a + b, 0),
        frameLengths,
        dtype: 'bytes',
        shape: [],
        memoryType: 'host',
        location: `test-endpoint/${ref.owner}`,
      };
    },
    identity: () => ({
      id: 'test-endpoint',
      name: 'test',
      address: '',
      version: '0.1.0',
      startedMs: 1,
      objects: objects.size,
      bytesUsed: 0,
      bytesLimit: 0,
      maxObjectSize: 0,
      chunkSize: CHUNK,
      persistent: false,
    }),
    health: () => ({ serving: true, uptimeMs: 1, objects: objects.size, bytesUsed: 0 }),
    peers: () => [],
    register: (p) => [p],
    ...extra,
  };
}

async function start(options: Partial<ConstructorParameters<typeof ControlServer>[0]> & { host?: string } = {}): Promise<Fixture> {
  const objects = new Map<string, Uint8Array[]>();
  const seen: string[] = [];
  const server = new ControlServer({
    handlers: handlers(objects, seen),
    tokens: [TOKEN],
    chunkSize: CHUNK,
    ...options,
  });
  servers.push(server);
  const { address } = await server.listen(options.host ?? '127.0.0.1', 0);
  return { server, objects, address, seen };
}

function client(address: string, options: ConstructorParameters<typeof ControlClient>[1] = {}): ControlClient {
  const c = new ControlClient(address, { token: TOKEN, chunkSize: CHUNK, ...options });
  clients.push(c);
  return c;
}

function pattern(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 131 + seed) & 255;
  return out;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ControlError) return err.code;
    throw err;
  }
  return 'resolved';
}

describe('control plane: put and get stream in chunks', () => {
  it.each([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 1, 5 * CHUNK + 17])('round-trips %i bytes', async (n) => {
    const { address, objects } = await start();
    const c = client(address);
    const frames = [pattern(40, 1), pattern(n, 2)];
    const put = await c.put(frames);
    expect(put).toMatchObject({ owner: 'test-endpoint', size: 40 + n });
    expect(objects.get(put.id)).toEqual(frames);
    expect(await c.get({ id: put.id })).toEqual(frames);
  });

  it('keeps empty frames and many small frames in place', async () => {
    const { address } = await start();
    const c = client(address);
    const frames = [new Uint8Array(0), pattern(3), new Uint8Array(0), ...Array.from({ length: 200 }, (_, i) => pattern(i, i))];
    const { id } = await c.put(frames);
    expect(await c.get({ id })).toEqual(frames);
  });

  it('round-trips an object of no frames at all', async () => {
    const { address } = await start();
    const c = client(address);
    const { id, size } = await c.put([]);
    expect(size).toBe(0);
    expect(await c.get({ id })).toEqual([]);
  });

  it('stores under the id the client asks for', async () => {
    const { address, objects } = await start();
    const c = client(address);
    expect((await c.put([pattern(5)], { id: 'chosen' })).id).toBe('chosen');
    expect(objects.has('chosen')).toBe(true);
  });

  it('answers a missing object with null, and exists / evict / stat', async () => {
    const { address } = await start();
    const c = client(address);
    expect(await c.get({ id: 'missing' })).toBeNull();
    expect(await c.stat({ id: 'missing' })).toBeNull();
    const { id } = await c.put([pattern(10), pattern(CHUNK * 2)]);
    expect(await c.exists({ id })).toBe(true);
    expect(await c.stat({ id, owner: 'x' })).toMatchObject({
      size: 10 + 2 * CHUNK,
      frameLengths: [10, 2 * CHUNK],
      memoryType: 'host',
      location: 'test-endpoint/x',
    });
    expect(await c.evict({ id })).toBe(true);
    expect(await c.evict({ id })).toBe(false);
    expect(await c.exists({ id })).toBe(false);
  });

  it('streams a get from chunks (a forwarding endpoint) as well as from frames', async () => {
    const body = [pattern(7), pattern(3 * CHUNK + 5)];
    const joined = Buffer.concat(body);
    const { address } = await start({
      handlers: handlers(new Map(), [], {
        get: () => ({
          frameLengths: body.map((f) => f.byteLength),
          chunks: (async function* () {
            for (let at = 0; at < joined.byteLength; at += 1000) yield joined.subarray(at, at + 1000);
          })(),
        }),
      }),
    });
    const c = client(address);
    expect(await c.get({ id: 'any' })).toEqual(body);
    const stream = await c.openGet({ id: 'any' });
    expect(stream?.frameLengths).toEqual([7, 3 * CHUNK + 5]);
    let n = 0;
    for await (const chunk of stream?.chunks ?? []) n += chunk.byteLength;
    expect(n).toBe(joined.byteLength);
  });

  it('fails a get whose source yields fewer bytes than its layout with CONTROL_INCOMPLETE', async () => {
    const { address } = await start({
      handlers: handlers(new Map(), [], {
        get: () => ({
          frameLengths: [100],
          chunks: (async function* () {
            yield new Uint8Array(60);
          })(),
        }),
      }),
    });
    expect(await codeOf(client(address).get({ id: 'short' }))).toBe('CONTROL_INCOMPLETE');
  });

  it('reports identity, health (with active calls), peers and register', async () => {
    const { address } = await start();
    const c = client(address);
    expect(await c.identity()).toMatchObject({ id: 'test-endpoint', chunkSize: CHUNK });
    expect(await c.health()).toMatchObject({ serving: true, activeCalls: 1 });
    expect(await c.peers()).toEqual([]);
    const me = { id: 'me', name: 'n', address: '127.0.0.1:1', lastSeenMs: 0, reachable: true };
    expect(await c.register(me)).toEqual([me]);
  });

  it('serves over IPv6 loopback', async () => {
    const { address } = await start({ host: '::1' });
    expect(address).toMatch(/^\[::1\]:\d+$/);
    const c = client(address);
    const { id } = await c.put([pattern(CHUNK + 3)]);
    expect(await c.get({ id })).toEqual([pattern(CHUNK + 3)]);
  });
});

describe('control plane: security and limits', () => {
  it('refuses a missing or wrong token with CONTROL_UNAUTHENTICATED, before any handler runs', async () => {
    const { address, seen, objects } = await start();
    const none = new ControlClient(address);
    const wrong = new ControlClient(address, { token: 'not-the-token' });
    clients.push(none, wrong);
    const missing = await none.exists({ id: 'x' }).catch((e: unknown) => e as ControlError);
    expect(missing).toBeInstanceOf(ControlError);
    expect(missing).toMatchObject({ code: 'CONTROL_UNAUTHENTICATED', grpcStatus: 16 });
    expect((missing as ControlError).message).toMatch(/requires a bearer token/);
    const bad = await wrong.put([pattern(3 * CHUNK)]).catch((e: unknown) => e as ControlError);
    expect(bad).toMatchObject({ code: 'CONTROL_UNAUTHENTICATED' });
    expect((bad as ControlError).message).toMatch(/not one this endpoint accepts/);
    expect(await codeOf(wrong.get({ id: 'x' }))).toBe('CONTROL_UNAUTHENTICATED');
    expect(await codeOf(wrong.identity())).toBe('CONTROL_UNAUTHENTICATED');
    expect(seen).toEqual([]);
    expect(objects.size).toBe(0);
  });

  it('accepts any of several tokens (rotation)', async () => {
    const { address } = await start({ tokens: ['old-token', TOKEN] });
    expect(await client(address, { token: 'old-token' }).exists({ id: 'x' })).toBe(false);
    expect(await client(address).exists({ id: 'x' })).toBe(false);
  });

  it('refuses an oversize object from its declared layout, storing nothing', async () => {
    const { address, objects, seen } = await start({ maxObjectSize: 3 * CHUNK });
    const c = client(address);
    const err = await c.put([pattern(10), pattern(3 * CHUNK)]).catch((e: unknown) => e as ControlError);
    expect(err).toMatchObject({ code: 'CONTROL_OBJECT_TOO_LARGE' });
    expect((err as ControlError).message).toMatch(/over the maximum object size of 196608 bytes/);
    expect(objects.size).toBe(0);
    expect(seen).toEqual([]);
    // Exactly at the limit is fine, and the channel still works after the refusal.
    await c.put([pattern(3 * CHUNK)]);
    expect(objects.size).toBe(1);
  });

  it('lets admitPut refuse a put before its data is read', async () => {
    const { address, objects } = await start({
      handlers: handlers(new Map(), [], {
        admitPut: (layout) => {
          throw new ControlError('CONTROL_STORAGE_FULL', `no room for ${layout.size} bytes`);
        },
      }),
    });
    expect(await codeOf(client(address).put([pattern(5 * CHUNK)]))).toBe('CONTROL_STORAGE_FULL');
    expect(objects.size).toBe(0);
  });

  it('reports a handler that throws a plain error as CONTROL_INTERNAL, with its message', async () => {
    const { address } = await start({
      handlers: handlers(new Map(), [], {
        exists: () => {
          throw new Error('disk on fire');
        },
      }),
    });
    const err = await client(address).exists({ id: 'x' }).catch((e: unknown) => e as ControlError);
    expect(err).toMatchObject({ code: 'CONTROL_INTERNAL' });
    expect((err as ControlError).message).toMatch(/disk on fire/);
  });

  it('caps concurrent streams per connection: extra calls wait, none fails', async () => {
    const { address, server } = await start({ maxConcurrentStreams: 2 });
    const c = client(address);
    const { id } = await c.put([pattern(20 * CHUNK)]);
    const results = await Promise.all(Array.from({ length: 12 }, () => c.get({ id })));
    expect(results.every((r) => r?.[0]?.byteLength === 20 * CHUNK)).toBe(true);
    expect(server.peakCalls).toBeLessThanOrEqual(2);
  });

  describe.skipIf(opensslUnavailable() !== null)('TLS', () => {
    let certs: TestCertificates;
    beforeAll(() => {
      certs = makeTestCertificates();
    });
    afterAll(() => certs?.remove());

    it('serves over TLS to a client that trusts the CA, and refuses one that does not', async () => {
      const { address } = await start({ tls: { cert: certs.cert, key: certs.key } });
      const c = client(address, { tls: { ca: certs.ca } });
      const { id } = await c.put([pattern(2 * CHUNK + 1)]);
      expect(await c.get({ id })).toEqual([pattern(2 * CHUNK + 1)]);
      expect(await codeOf(client(address, { tls: { ca: certs.otherCa }, timeoutMs: 5000 }).exists({ id }))).toBe(
        'CONTROL_UNAVAILABLE',
      );
      // Plaintext to a TLS server fails, typed.
      expect(await codeOf(client(address, { timeoutMs: 5000 }).exists({ id }))).toBe('CONTROL_UNAVAILABLE');
    });

    it('requires a client certificate signed by the CA when asked to', async () => {
      const { address } = await start({ tls: { cert: certs.cert, key: certs.key, ca: certs.ca } });
      const withCert = client(address, { tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } });
      expect(await withCert.exists({ id: 'x' })).toBe(false);
      const without = client(address, { tls: { ca: certs.ca }, timeoutMs: 5000 });
      expect(await codeOf(without.exists({ id: 'x' }))).toBe('CONTROL_UNAVAILABLE');
    });

    it('checks the certificate against serverName when the host differs', async () => {
      const { address } = await start({ tls: { cert: certs.cert, key: certs.key } });
      const port = address.split(':').pop();
      const byName = client(`127.0.0.1:${port}`, { tls: { ca: certs.ca, serverName: 'localhost' } });
      expect(await byName.exists({ id: 'x' })).toBe(false);
      const wrongName = client(`127.0.0.1:${port}`, { tls: { ca: certs.ca, serverName: 'elsewhere' }, timeoutMs: 5000 });
      expect(await codeOf(wrongName.exists({ id: 'x' }))).toBe('CONTROL_UNAVAILABLE');
    });
  });
});

describe('control plane: cancellation, deadlines and failures', () => {
  it('an aborted put rejects with the signal reason and leaves no object', async () => {
    const { address, objects, server } = await start();
    const c = client(address);
    const controller = new AbortController();
    const reason = new Error('stop now');
    const put = c.put([pattern(64 * CHUNK)], { signal: controller.signal });
    setImmediate(() => controller.abort(reason));
    await expect(put).rejects.toBe(reason);
    // The server notices the cancelled stream; nothing is stored.
    for (let i = 0; i < 50 && server.activeCalls > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(objects.size).toBe(0);
    await expect(c.put([pattern(1)], { signal: controller.signal })).rejects.toBe(reason);
  });

  it('a put stream that ends early stores nothing (CONTROL_INCOMPLETE)', async () => {
    const { address, objects } = await start();
    // A hand-made client that declares 3 chunks of data and sends one.
    const raw = new Client(address, credentials.createInsecure());
    const { encodePutChunk } = await import('../src/messages.js');
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${TOKEN}`);
    const def = ControlService.put;
    const code = await new Promise<string>((resolve) => {
      const call = raw.makeClientStreamRequest<Buffer, Buffer>(def.path, def.requestSerialize, def.responseDeserialize, metadata, {}, (err) =>
        resolve(String(err?.metadata.get('proxystore-code')[0])),
      );
      call.write(encodePutChunk({ id: 'partial', frameLengths: [3 * CHUNK], data: [pattern(CHUNK)] }));
      call.end();
    });
    raw.close();
    expect(code).toBe('CONTROL_INCOMPLETE');
    expect(objects.size).toBe(0);
  });

  it('a malformed request is refused with CONTROL_PROTOCOL', async () => {
    const { address } = await start();
    const raw = new Client(address, credentials.createInsecure());
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${TOKEN}`);
    const def = ControlService.exists;
    const code = await new Promise<string>((resolve) => {
      raw.makeUnaryRequest<Buffer, Buffer>(def.path, def.requestSerialize, def.responseDeserialize, Buffer.from('garbage!'), metadata, {}, (err) =>
        resolve(String(err?.metadata.get('proxystore-code')[0])),
      );
    });
    raw.close();
    expect(code).toBe('CONTROL_PROTOCOL');
  });

  it('an aborted get rejects with the signal reason', async () => {
    const { address } = await start();
    const c = client(address);
    const { id } = await c.put([pattern(64 * CHUNK)]);
    const controller = new AbortController();
    const reason = new Error('enough');
    const stream = await c.openGet({ id }, { signal: controller.signal });
    controller.abort(reason);
    await expect(
      (async () => {
        for await (const _ of stream?.chunks ?? []) void _;
      })(),
    ).rejects.toBe(reason);
  });

  it('a handler slower than the deadline fails with CONTROL_TIMEOUT', async () => {
    const { address } = await start({
      handlers: handlers(new Map(), [], { exists: () => new Promise((r) => setTimeout(() => r(true), 2000)) }),
    });
    expect(await codeOf(client(address).exists({ id: 'x' }, { timeoutMs: 100 }))).toBe('CONTROL_TIMEOUT');
  });

  it('nothing listening is CONTROL_UNAVAILABLE', async () => {
    const { address, server } = await start();
    await server.close();
    expect(await codeOf(client(address, { timeoutMs: 3000 }).exists({ id: 'x' }))).toBe('CONTROL_UNAVAILABLE');
    expect(await codeOf(client(address, { timeoutMs: 3000 }).get({ id: 'x' }))).toBe('CONTROL_UNAVAILABLE');
  });

  it('a server that stops mid-get fails the stream with a typed error, not a hang', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const { address, server } = await start({
      handlers: handlers(new Map(), [], {
        get: () => ({
          frameLengths: [10 * CHUNK],
          chunks: (async function* () {
            yield new Uint8Array(CHUNK);
            await gate;
          })(),
        }),
      }),
    });
    const c = client(address);
    const stream = await c.openGet({ id: 'x' });
    const reading = (async () => {
      for await (const _ of stream?.chunks ?? []) void _;
    })();
    await server.close({ graceMs: 0 });
    release();
    const err = await reading.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControlError);
    expect(['CONTROL_UNAVAILABLE', 'CONTROL_CANCELLED', 'CONTROL_INCOMPLETE']).toContain((err as ControlError).code);
  });

  it('rejects bad client options and addresses up front', () => {
    expect(() => new ControlClient('no-port')).toThrow(/host:port/);
    expect(() => new ControlClient('127.0.0.1:1', { chunkSize: 10 })).toThrow(RangeError);
    expect(() => new ControlClient('127.0.0.1:1', { token: 'has space' })).toThrow(/token/);
    expect(() => new ControlClient('127.0.0.1:1', { timeoutMs: 0 })).toThrow(RangeError);
    expect(() => new ControlServer({ handlers: handlers(new Map(), []), maxConcurrentStreams: 0 })).toThrow(RangeError);
  });

  it('a closed client refuses calls with a typed error', async () => {
    const { address } = await start();
    const c = client(address);
    c.close();
    c.close();
    expect(await codeOf(c.exists({ id: 'x' }))).toBe('CONTROL_UNAVAILABLE');
    expect(await codeOf(c.put([pattern(1)]))).toBe('CONTROL_UNAVAILABLE');
  });
});
