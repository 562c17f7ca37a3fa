import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageReader, RawTcpClient, TcpOp, requestHead, startTcpRelay, startTcpServer } from './tcp.js';
import { RawGrpcClient, startGrpcRelay, startGrpcServer } from './grpc.js';
import { startRawServer } from './process.js';

const TOKEN = 'bench-token';
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

interface Raw {
  put(id: string, data: Uint8Array): Promise<void>;
  get(id: string): Promise<Buffer | null>;
  exists(id: string): Promise<boolean>;
  evict(id: string): Promise<boolean>;
}

async function roundTrip(client: Raw): Promise<void> {
  const sizes = [0, 1, 1000, 300 * 1024 + 7, 3 * 1024 * 1024 + 1];
  for (const size of sizes) {
    const data = randomBytes(size);
    await client.put(`o${size}`, data);
    expect(await client.exists(`o${size}`)).toBe(true);
    const back = await client.get(`o${size}`);
    expect(back?.equals(data)).toBe(true);
  }
  // Pipelined calls keep their order.
  const many = await Promise.all(sizes.map((s) => client.get(`o${s}`)));
  expect(many.map((b) => b?.byteLength)).toEqual(sizes);
  expect(await client.evict('o1')).toBe(true);
  expect(await client.evict('o1')).toBe(false);
  expect(await client.exists('o1')).toBe(false);
  expect(await client.get('o1')).toBeNull();
  expect(await client.get('never')).toBeNull();
}

describe('raw TCP protocol', () => {
  it('reassembles messages split at any byte', () => {
    const payload = randomBytes(5000);
    const wire = Buffer.concat([requestHead(TcpOp.PUT, 'key-é', payload.byteLength), payload, requestHead(TcpOp.GET, 'k2', 0)]);
    for (const step of [1, 7, 13, 4096, wire.byteLength]) {
      const reader = new MessageReader('request');
      const out = [];
      for (let at = 0; at < wire.byteLength; at += step) out.push(...reader.push(wire.subarray(at, at + step)));
      expect(out.map((m) => [m.code, m.id, m.payload.byteLength])).toEqual([
        [TcpOp.PUT, 'key-é', 5000],
        [TcpOp.GET, 'k2', 0],
      ]);
      expect(out[0]?.payload.equals(payload)).toBe(true);
    }
  });

  it('puts, gets, checks and evicts; a missing key is null or false', async () => {
    const server = await startTcpServer({ token: TOKEN });
    cleanup.push(() => server.close());
    const client = await RawTcpClient.connect('127.0.0.1', server.port, TOKEN);
    cleanup.push(() => client.close());
    await roundTrip(client);
    expect(server.size).toBe(4);
  });

  it('refuses a connection with the wrong token', async () => {
    const server = await startTcpServer({ token: TOKEN });
    cleanup.push(() => server.close());
    await expect(RawTcpClient.connect('127.0.0.1', server.port, 'wrong')).rejects.toThrow(/unauthenticated/);
  });

  it('relays every call to the server behind it', async () => {
    const server = await startTcpServer({ token: TOKEN });
    cleanup.push(() => server.close());
    const relay = await startTcpRelay({ upstream: { host: '127.0.0.1', port: server.port } });
    cleanup.push(() => relay.close());
    const client = await RawTcpClient.connect('127.0.0.1', relay.port, TOKEN);
    cleanup.push(() => client.close());
    await roundTrip(client);
    expect(server.size).toBe(4);
  });
});

describe('raw grpc-js service', () => {
  it('streams puts and gets in chunks; a missing key is null or false', async () => {
    const server = await startGrpcServer({ token: TOKEN, chunkSize: 64 * 1024 });
    cleanup.push(() => server.close());
    const client = new RawGrpcClient(`127.0.0.1:${server.port}`, { token: TOKEN, chunkSize: 64 * 1024 });
    cleanup.push(() => client.close());
    await roundTrip(client);
    expect(server.size).toBe(4);
  });

  it('refuses a call with the wrong token', async () => {
    const server = await startGrpcServer({ token: TOKEN, chunkSize: 64 * 1024 });
    cleanup.push(() => server.close());
    const client = new RawGrpcClient(`127.0.0.1:${server.port}`, { token: 'wrong', chunkSize: 64 * 1024 });
    cleanup.push(() => client.close());
    await expect(client.exists('x')).rejects.toThrow(/bearer token/);
    await expect(client.get('x')).rejects.toThrow(/bearer token/);
    await expect(client.put('x', new Uint8Array(10))).rejects.toThrow(/bearer token/);
  });

  it('relays every call, chunks streaming through, to the server behind it', async () => {
    const server = await startGrpcServer({ token: TOKEN, chunkSize: 64 * 1024 });
    cleanup.push(() => server.close());
    const relay = await startGrpcRelay({ token: TOKEN, chunkSize: 64 * 1024, upstream: `127.0.0.1:${server.port}` });
    cleanup.push(() => relay.close());
    const client = new RawGrpcClient(`127.0.0.1:${relay.port}`, { token: TOKEN, chunkSize: 64 * 1024 });
    cleanup.push(() => client.close());
    await roundTrip(client);
    expect(server.size).toBe(4);
  });
});

describe('raw servers in child processes', () => {
  it('starts a server and a relay of each kind and stops them', async () => {
    for (const kind of ['grpc', 'tcp'] as const) {
      const server = await startRawServer({ kind, token: TOKEN, chunkSize: 1024 * 1024 });
      cleanup.push(() => server.stop());
      const relay = await startRawServer({ kind, token: TOKEN, chunkSize: 1024 * 1024, upstream: server.address });
      cleanup.push(() => relay.stop());
      const client: Raw & { close(): void } =
        kind === 'grpc'
          ? new RawGrpcClient(relay.address, { token: TOKEN, chunkSize: 1024 * 1024 })
          : await RawTcpClient.connect(relay.host, relay.port, TOKEN);
      await client.put('a', new Uint8Array([1, 2, 3]));
      expect([...((await client.get('a')) ?? [])]).toEqual([1, 2, 3]);
      client.close();
      await relay.stop();
      await server.stop();
      expect(() => process.kill(server.pid, 0)).toThrow();
    }
  }, 30_000);
});
